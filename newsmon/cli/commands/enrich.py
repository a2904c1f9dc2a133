"""`newsmon enrich`: language, topics, entities, embedding and story for every pending article."""
from __future__ import annotations

import json

import click

from newsmon.app.pipeline import run
from newsmon.cli.context import get_settings
from newsmon.cli.options import json_option
from newsmon.cli.presenters.runs import enrich_summary


@click.command("enrich")
@json_option("Print the run summary as JSON.")
@click.pass_context
def enrich_command(ctx: click.Context, as_json: bool) -> None:
    """Add language, topics, entities, an embedding and a story id to stored articles.

    Takes every article not yet enriched, or enriched with another model, topic definition or
    story threshold, in batches (a kill loses at most one batch; a rerun resumes). The model is
    loaded only when something is pending. Exit code 1 when some articles failed (reasons in
    the summary and `newsmon status`), 3 when another run holds the lock.

    \b
    Example:
      newsmon enrich
      NEWSMON_ENRICH__BATCH_SIZE=64 newsmon enrich --json
    """
    outcome = run(get_settings(ctx), command="enrich", stages=("enrich",))
    step = outcome.steps[0]
    if as_json:
        click.echo(json.dumps({"run_id": outcome.run_id, "status": step.status,
                               "elapsed_s": step.elapsed_s, "stats": step.stats},
                              ensure_ascii=False, indent=2))
    else:
        click.echo(enrich_summary(step, outcome.run_id))
    ctx.exit(outcome.exit_code)
