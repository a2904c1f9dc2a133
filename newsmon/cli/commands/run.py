"""`newsmon run`: what cron runs — every stage in order under one lock, a summary per stage."""
from __future__ import annotations

import json

import click

from newsmon.app.outcome import EXIT_OK, RunOutcome, StageOutcome
from newsmon.app.pipeline import PIPELINE, run
from newsmon.cli.commands.crawl import summary_text as crawl_summary
from newsmon.cli.commands.enrich import summary_text as enrich_summary
from newsmon.cli.context import get_settings, stdout_is_terminal

# the counters that make a stage's one-line summary, in order
BRIEF = {
    "crawl": (("stored", "stored"), ("not_modified", "not modified"),
              ("skipped_known", "already known"), ("rejected", "rejected"),
              ("failed", "failed")),
    "enrich": (("pending", "pending"), ("enriched", "enriched"),
               ("new_stories", "new stories"), ("failed", "failed")),
    "index": (("upserted", "upserted"), ("deleted", "deleted"), ("documents", "documents")),
}
DETAILS = {"crawl": crawl_summary, "enrich": enrich_summary}


def stage_line(step: StageOutcome) -> str:
    counts = ", ".join(f"{label} {step.stats[key]}" for key, label in BRIEF.get(step.stage, ())
                       if isinstance(step.stats.get(key), int))
    if step.stats.get("error"):
        counts = f"error: {step.stats['error']}"
    return f"  {step.stage:<7} {step.status:<8} {step.elapsed_s:>7.1f}s  {counts}"


def summary_text(outcome: RunOutcome, *, details: bool) -> str:
    lines = [f"run {outcome.run_id}: {outcome.status} in {outcome.elapsed_s:.1f}s"]
    if outcome.interrupted_runs:
        lines.append("  earlier run(s) found interrupted (process gone): "
                     + ", ".join(map(str, outcome.interrupted_runs)))
    lines += [stage_line(s) for s in outcome.steps]
    if details:
        for step in outcome.steps:
            if step.stage in DETAILS:
                lines += ["", DETAILS[step.stage](step, outcome.run_id)]
    return "\n".join(lines)


@click.command("run")
@click.option("--source", "source_ids", multiple=True, metavar="ID",
              help="Crawl only this source (repeatable); default: every enabled source.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.option("--verbose", "-v", is_flag=True,
              help="Print the summary even when all is well and nobody is at a terminal.")
@click.pass_context
def run_command(ctx: click.Context, source_ids: tuple[str, ...], as_json: bool,
                verbose: bool) -> None:
    """Crawl, enrich and index (then alert) in one go, under one lock: what cron runs.

    Each stage takes what the previous one left and resumes after a kill. An overlapping run
    exits 3 at once and changes nothing. On a terminal a progress view shows each stage; without
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
        click.echo(summary_text(outcome, details=verbose or failed))
    ctx.exit(outcome.exit_code)
