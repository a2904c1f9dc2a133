"""`newsmon init [DIR]`: the starter files of newsmon.app.starter, and what to do next."""
from __future__ import annotations

from pathlib import Path

import click

from newsmon.app.starter import write_starter


@click.command("init")
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite starter files that already exist.")
def init_command(directory: Path, force: bool) -> None:
    """Write a starter newsmon.toml, sources.yaml and alerts.yaml into DIRECTORY (default: here).

    Then edit sources.yaml (what to crawl) and alerts.yaml (what to be told about).

    \b
    Example:
      newsmon init my-monitor
      newsmon --config my-monitor/newsmon.toml crawl
    """
    try:
        paths = write_starter(directory, force=force)
    except FileExistsError as exc:
        raise click.UsageError(f"already there (use --force to overwrite): {exc}") from None
    for path in paths:
        click.echo(f"wrote {path}")
    config = paths[0]
    click.echo(f"\nnext: edit {paths[1].name} and {paths[2].name}, then\n"
               f"  newsmon --config {config} crawl\n"
               f"  newsmon --config {config} status")
