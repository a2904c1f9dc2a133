"""`newsmon enrich`: language, topics, entities, embedding and story for every pending article."""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

import click

from newsmon.index.store import Store
from newsmon.cli import EXIT_OK, EXIT_PARTIAL, cli, get_settings
from newsmon.lock import RunLock
from newsmon.progress import Progress
from newsmon.runs import RUN_FAILED, RUN_OK, RUN_PARTIAL
from newsmon.settings import Settings

log = logging.getLogger(__name__)



@dataclass(slots=True)
class EnrichOutcome:
    run_id: int
    status: str
    elapsed_s: float
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.status == RUN_OK else EXIT_PARTIAL

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "elapsed_s": self.elapsed_s,
                "stats": self.stats}


def enrich_articles(settings: Settings, *, command: str = "enrich",
                    progress_stream: TextIO | None = None, lock: bool = True) -> EnrichOutcome:
    """The enrich code path shared by `enrich` and `run`: lock, store, run log.

    ``lock=False`` is for a caller (`run`) that already holds the run lock.
    """
    if lock:
        with RunLock(settings.data.lock_path, command):
            return enrich_articles(settings, command=command, progress_stream=progress_stream,
                                   lock=False)
    # imported here: loading the model is the slow part, and `newsmon --help` need not pay
    from newsmon.enrich.pipeline import enrich_store

    with Store(settings.data.store_path) as store:
        run_id = store.runs.start(command)
        started = time.monotonic()
        try:
            with Progress("enrich", stream=progress_stream, rate_key="enriched") as progress:
                def report(phase: str, done: int, total: int) -> None:
                    # embed pass, then assign pass: each counts up to the pending total
                    key = "embedded" if phase == "embed" else "enriched"
                    progress.update({"pending": total, key: done})

                stats = enrich_store(settings, store, run_id=run_id, progress=report)
        except BaseException as exc:
            store.runs.finish(run_id, RUN_FAILED, {
                "error": str(exc) or type(exc).__name__,
                "reason": getattr(exc, "reason", type(exc).__name__),
            })
            raise
        status = RUN_OK if stats.failed == 0 else RUN_PARTIAL
        store.runs.finish(run_id, status, stats.as_dict())
        return EnrichOutcome(run_id, status, round(time.monotonic() - started, 2),
                             stats.as_dict())


SUMMARY_FIELDS = (
    ("pending", "pending"), ("embedded", "embedded"), ("vectors_reused", "vectors reused"),
    ("enriched", "enriched"), ("new_stories", "new stories"),
    ("joined_duplicate", "joined as copies"), ("joined_similar", "joined as same event"),
    ("failed", "failed"),
)


def summary_text(outcome: EnrichOutcome) -> str:
    s = outcome.stats
    lines = [f"enrich run {outcome.run_id}: {outcome.status} in {outcome.elapsed_s:.1f}s "
             f"(model {s.get('model')}, version {s.get('version')})"]
    width = max(len(label) for _, label in SUMMARY_FIELDS)
    for key, label in SUMMARY_FIELDS:
        lines.append(f"  {label:<{width}}  {s.get(key, 0)}")
    if s.get("failures"):
        lines.append("  reasons: " + ", ".join(f"{k} {v}" for k, v in s["failures"].items()))
    return "\n".join(lines)


@cli.command("enrich")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.pass_context
def enrich_command(ctx: click.Context, as_json: bool) -> None:
    """Add language, topics, entities, an embedding and a story id to stored articles.

    Takes every article not yet enriched, or enriched with another model, topic definition or
    story threshold, in batches (a kill loses at most one batch; a rerun resumes). Exit code 1
    when some articles failed (reasons in the summary and `newsmon status`), 3 when another run
    holds the lock.

    \b
    Example:
      newsmon enrich
      NEWSMON_ENRICH__BATCH_SIZE=64 newsmon enrich --json
    """
    settings = get_settings(ctx)
    outcome = enrich_articles(settings)
    if as_json:
        click.echo(json.dumps(outcome.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(summary_text(outcome))
    ctx.exit(outcome.exit_code)
