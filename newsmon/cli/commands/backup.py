"""`newsmon backup DEST` and `newsmon backup --restore SRC`: the store copied through SQLite's
online backup (newsmon.app.maintenance), atomically and checked."""
from __future__ import annotations

import click

from newsmon.app.maintenance import backup_store, restore_store
from newsmon.cli.context import get_settings


@click.command("backup")
@click.argument("path", type=click.Path(allow_dash=False))
@click.option("--restore", is_flag=True,
              help="Replace the store with the backup PATH instead (under the run lock).")
@click.pass_context
def backup_command(ctx: click.Context, path: str, restore: bool) -> None:
    """Copy the store to PATH (a file, or a folder for a dated newsmon-<time>.db) through
    SQLite's online backup: safe while other newsmon commands run, written to a temporary file,
    checked, then renamed into place. With --restore, replace the store with the backup PATH:
    the backup is checked first, no run may be going on, and a remote search index
    (Elasticsearch) is rebuilt by the next `newsmon index` or `run`.

    \b
    Example:
      newsmon backup ~/backups/
      newsmon backup --restore ~/backups/newsmon-20261206T030000Z.db
    """
    settings = get_settings(ctx)
    if restore:
        done = restore_store(settings, path)
        click.echo(f"restored {done.store} from {done.backup} (backup schema "
                   f"{done.schema_version})")
        if done.reset_cursors:
            click.echo("search index to rebuild: " + ", ".join(
                c.partition(":")[2] or c for c in done.reset_cursors)
                + " — run `newsmon index` (or wait for the next `newsmon run`)")
        return
    dest = backup_store(settings, path)
    click.echo(f"backed up {settings.data.store_path} to {dest}")
