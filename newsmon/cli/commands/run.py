"""`newsmon run`: what cron runs — every stage in order under one lock, a summary per stage."""
from __future__ import annotations

import json

import click

from newsmon.app.outcome import EXIT_OK
from newsmon.app.pipeline import PIPELINE, run
from newsmon.cli.context import get_settings, stdout_is_terminal
from newsmon.cli.options import json_option, source_option
from newsmon.cli.presenters.runs import run_summary


@click.command("run")
@source_option()
@json_option("Print the run summary as JSON.")
@click.option("--verbose", "-v", is_flag=True,
              help="Print the summary even when all is well and nobody is at a terminal.")
@click.pass_context
def run_command(ctx: click.Context, source_ids: tuple[str, ...], as_json: bool,
                verbose: bool) -> None:
    """Crawl, enrich and index (then alert) in one go, under one lock: what cron runs.

    Each stage takes what the previous one left and resumes after a kill. An overlapping run
    exits 3 at once and changes nothing, and so does a run on a store where `newsmon worker`s
    are live (they crawl it). On a terminal a progress view shows each stage; without
    one (cron) a successful run prints nothing on stdout — the summary appears only when
    something needs a human (exit code 1 and up) — and log lines go to [log].file/--log-file.

    \b
    Example:
      newsmon run
      newsmon --log-file data/newsmon.log run      # as `newsmon schedule` writes it for cron
      newsmon run --json | jq '.steps[] | {stage, status, elapsed_s}'
    """
    outcome = run(get_settings(ctx), command="run", stages=PIPELINE, source_ids=source_ids)
    failed = outcome.exit_code != EXIT_OK
    if as_json:
        click.echo(json.dumps(outcome.to_dict(), ensure_ascii=False, indent=2))
    elif verbose or failed or stdout_is_terminal():
        click.echo(run_summary(outcome, details=verbose or failed))
    ctx.exit(outcome.exit_code)
