"""`newsmon status`: what the store holds, how the last run went, and why things failed.

The gathering is newsmon.app.status, the text newsmon.cli.presenters.status; this module reads
the options and prints.
"""
from __future__ import annotations

import json

import click

from newsmon.app.maintenance import check_store
from newsmon.app.pipeline import open_store, store_exists
from newsmon.app.status import collect_status
from newsmon.cli.context import get_settings
from newsmon.cli.presenters.status import status_text


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
@click.option("--check", is_flag=True,
              help="First run SQLite's quick check of the store: a damaged store exits 5 "
                   "naming the damaged tables (`run` does this once a day).")
@click.pass_context
def status_command(ctx: click.Context, as_json: bool, check: bool) -> None:
    """Show what the store holds: articles by source, language, stage and status, every
    configured source with its health (last success, last error with URL and reason, failures
    in a row), the last runs with each stage's duration and counts, work queued per stage, and
    failures by reason. Never creates anything.

    \b
    Example:
      newsmon status
      newsmon status --json | jq .by_source
      newsmon status --check
    """
    settings = get_settings(ctx)
    if check and store_exists(settings):
        with open_store(settings) as store:
            check_store(store)  # a damaged store raises: exit 5, the tables named
        click.echo(f"store check: ok ({settings.data.store_path})", err=True)
    st = collect_status(settings)
    if as_json:
        click.echo(json.dumps(st, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(status_text(st))
