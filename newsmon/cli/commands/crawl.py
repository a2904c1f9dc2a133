"""`newsmon crawl`: fetch new articles from the configured sources into the store of record."""
from __future__ import annotations

import json

import click

from newsmon.app.outcome import StageOutcome
from newsmon.app.pipeline import run
from newsmon.cli.context import get_settings
from newsmon.index.store import RUN_OK

SUMMARY_FIELDS = (
    ("requests", "requests"), ("feeds_fetched", "listings read"),
    ("not_modified", "not modified (304)"), ("discovered", "candidates"),
    ("skipped_known", "already known"), ("fetched_articles", "articles fetched"),
    ("stored", "stored"), ("flagged", "flagged"), ("rejected", "rejected"),
    ("failed", "failed"), ("listing_failures", "listings failed"),
    ("robots_blocked", "blocked by robots.txt"), ("offsite_blocked", "off-site, skipped"),
)


def summary_text(step: StageOutcome, run_id: int) -> str:
    s = step.stats
    sources = s.get("sources") or []
    lines = [
        f"crawl run {run_id}: {step.status} in {step.elapsed_s:.1f}s "
        f"({len(sources)} source(s): {', '.join(sources)})",
    ]
    width = max(len(label) for _, label in SUMMARY_FIELDS)
    for key, label in SUMMARY_FIELDS:
        if key in s:
            lines.append(f"  {label:<{width}}  {s[key]}")
    if s.get("finish_reason") not in (None, "", "finished"):
        lines.append(f"  crawl stopped early: {s['finish_reason']}")
    reasons = s.get("reasons") or {}
    if reasons:
        lines.append("  reasons: " + ", ".join(f"{k} {v}" for k, v in reasons.items()))
    if step.status != RUN_OK:
        lines.append("  details: newsmon status (failures by reason) and the log above")
    return "\n".join(lines)


@click.command("crawl")
@click.option("--source", "source_ids", multiple=True, metavar="ID",
              help="Crawl only this source (repeatable); default: every enabled source.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.pass_context
def crawl_command(ctx: click.Context, source_ids: tuple[str, ...], as_json: bool) -> None:
    """Fetch new articles from the sources into the store of record.

    Reads feeds, sitemaps and section pages, fetches only URLs not already stored, extracts and
    stores the articles. Exit code 1 when some items failed (see `newsmon status`), 3 when another
    run holds the lock.

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
        click.echo(summary_text(step, outcome.run_id))
    ctx.exit(outcome.exit_code)
