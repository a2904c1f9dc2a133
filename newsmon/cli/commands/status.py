"""`newsmon status`: what the store holds, how the last run went, and why things failed.

The gathering is newsmon.app.status, the text newsmon.cli.presenters.status; this module reads
the options and prints.
"""
from __future__ import annotations

import json

import click

from newsmon.app.status import collect_status
from newsmon.cli.context import get_settings
from newsmon.cli.presenters.status import status_text


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
@click.pass_context
def status_command(ctx: click.Context, as_json: bool) -> None:
    """Show what the store holds: articles by source, language, stage and status, the last runs
    with each stage's duration and counts, work queued per stage, and failures by reason. Never
    creates anything.

    \b
    Example:
      newsmon status
      newsmon status --json | jq .by_source
    """
    st = collect_status(get_settings(ctx))
    if as_json:
        click.echo(json.dumps(st, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(status_text(st))
