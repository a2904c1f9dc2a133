"""`newsmon crawl`: fetch new articles from the configured sources into the store of record."""
from __future__ import annotations

import json

import click

from newsmon.app.pipeline import run
from newsmon.cli.context import get_settings
from newsmon.cli.options import json_option, source_option
from newsmon.cli.presenters.runs import crawl_summary


@click.command("crawl")
@source_option()
@json_option("Print the run summary as JSON.")
@click.pass_context
def crawl_command(ctx: click.Context, source_ids: tuple[str, ...], as_json: bool) -> None:
    """Fetch new articles from the sources into the store of record.

    Reads feeds, sitemaps and section pages, fetches only URLs not already stored, extracts and
    stores the articles. Exit code 1 when some items failed (see `newsmon status`), 3 when another
    run holds the lock or `newsmon worker`s are live on the store (they crawl it).

    \b
    Example:
      newsmon crawl
      newsmon crawl --source gov-uk-fcdo --source nhk-world --json
    """
    outcome = run(get_settings(ctx), command="crawl", stages=("crawl",), source_ids=source_ids)
    step = outcome.steps[0]
    if as_json:
        click.echo(json.dumps({"run_id": outcome.run_id, "status": step.status,
                               "sources": step.stats.get("sources", []),
                               "elapsed_s": step.elapsed_s, "stats": step.stats},
                              ensure_ascii=False, indent=2))
    else:
        click.echo(crawl_summary(step, outcome.run_id))
    ctx.exit(outcome.exit_code)
