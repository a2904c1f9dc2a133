"""`newsmon store copy --to postgresql` (newsmon.app.store_copy)."""
from __future__ import annotations

import click

from newsmon.app.store_copy import TARGETS, copy_store
from newsmon.cli.context import get_settings


@click.group("store")
def store_group() -> None:
    """The store of record itself: moving it to another engine.

    \b
    Example:
      NEWSMON_PG_DSN=postgresql://newsmon@db/newsmon newsmon store copy --to postgresql
    """


@store_group.command("copy")
@click.option("--to", "to", type=click.Choice(TARGETS), required=True,
              help="The engine to copy the SQLite store into.")
@click.pass_context
def copy_command(ctx: click.Context, to: str) -> None:
    """Copy the SQLite store ([data] dir) into the PostgreSQL database whose DSN is in the
    environment variable [data] dsn_env, in batches under the run lock. Resumable: run it again
    after an interruption and it goes on after the last batch copied. Then set
    [data] store = "postgresql" and [index] backend = "elasticsearch".

    \b
    Example:
      newsmon store copy --to postgresql
    """
    settings = get_settings(ctx)
    report = copy_store(settings, to,
                        progress=lambda table, n: click.echo(f"  {table}: {n}", err=True))
    click.echo(f"copied {report.total} rows into {to}"
               + (" (resumed an earlier copy)" if report.resumed else "") + ": "
               + ", ".join(f"{t} {n}" for t, n in report.copied.items() if n))
