"""`newsmon enrich`: language, topics, entities, embedding and story for every pending article."""
from __future__ import annotations

import json

import click

from newsmon.app.outcome import StageOutcome
from newsmon.app.pipeline import run
from newsmon.cli.context import get_settings

SUMMARY_FIELDS = (
    ("pending", "pending"), ("embedded", "embedded"), ("vectors_reused", "vectors reused"),
    ("enriched", "enriched"), ("new_stories", "new stories"),
    ("joined_duplicate", "joined as copies"), ("joined_similar", "joined as same event"),
    ("failed", "failed"),
)


def summary_text(step: StageOutcome, run_id: int) -> str:
    s = step.stats
    lines = [f"enrich run {run_id}: {step.status} in {step.elapsed_s:.1f}s "
             f"(model {s.get('model')} on {s.get('engine')}, version {s.get('version')})"]
    width = max(len(label) for _, label in SUMMARY_FIELDS)
    for key, label in SUMMARY_FIELDS:
        lines.append(f"  {label:<{width}}  {s.get(key, 0)}")
    if s.get("failures"):
        lines.append("  reasons: " + ", ".join(f"{k} {v}" for k, v in s["failures"].items()))
    return "\n".join(lines)


@click.command("enrich")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
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
        click.echo(summary_text(step, outcome.run_id))
    ctx.exit(outcome.exit_code)
