"""The stages of a run as plain functions: ``stage(settings, store, *, run_id, progress, …)``.

Each takes the settings and an open store, does its work, and returns a StageOutcome. None of
them takes the run lock or records the run: the caller (newsmon.app.pipeline) owns both, once
per process, so that `run` can chain stages that `crawl` and `enrich` also run alone.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from newsmon.app.outcome import StageOutcome
from newsmon.app.progress import StageProgress
from newsmon.app.settings import Settings
from newsmon.crawler.recorder import BatchHook
from newsmon.crawler.sources import Source
from newsmon.index.core import reasons
from newsmon.index.store import RUN_FAILED, RUN_OK, RUN_PARTIAL, StoreBase

if TYPE_CHECKING:  # the model's imports are the enrich stage's, when it runs
    from newsmon.enrich.pipeline import EnrichContext

log = logging.getLogger(__name__)


# failures that are newsmon's own bugs, not the remote site's: they make the crawl partial
BUG_REASONS = (reasons.SPIDER_ERROR, reasons.PIPELINE_ERROR, reasons.EXTRACT_CRASH)


def crawl_status(stats: Any) -> str:
    """The crawl's status, which decides its exit code (cron mails a non-zero one):

    - failed: the crawl reached nothing at all;
    - partial: a source failed entirely (every one of its listings failed: its news is
      missed), the crawl stopped early, or a bug of newsmon's was caught;
    - ok otherwise — also when some remote pages failed (a 500, a 404 on one article): the
      site's failures are counted, kept in each source's health and shown by `status`, and
      failed pages are tried again next run.
    """
    if stats.ok:
        return RUN_OK
    answered = stats.feeds_fetched + stats.not_modified + stats.fetched_articles
    if answered == 0 and stats.stored == 0:
        return RUN_FAILED
    bugs = sum(stats.reasons.get(r, 0) for r in BUG_REASONS)
    if stats.failed_sources or stats.finish_reason not in ("", "finished") or bugs:
        return RUN_PARTIAL
    return RUN_OK


def crawl(settings: Settings, store: StoreBase, *, run_id: int, sources: Sequence[Source],
          progress: StageProgress | None = None,
          on_batch: BatchHook | None = None) -> StageOutcome:
    """Discover, fetch, extract and store new articles of ``sources`` (once per process);
    ``on_batch`` runs inside each batch's transaction (a worker defers its enrich job there)."""
    # imported here: Scrapy is heavy, and a locked-out run or `--help` need not pay for it
    from newsmon.crawler.run import run_crawl

    started = time.monotonic()
    log.info("crawl (run %d): %d source(s): %s", run_id, len(sources),
             ", ".join(s.id for s in sources))
    stats = run_crawl(settings, list(sources), store, run_id=run_id, progress=progress,
                      on_batch=on_batch)
    out = stats.to_dict()
    out["sources"] = [s.id for s in sources]
    return StageOutcome("crawl", crawl_status(stats), round(time.monotonic() - started, 2), out)


def enrich(settings: Settings, store: StoreBase, *, run_id: int,
           progress: StageProgress | None = None,
           context: EnrichContext | None = None) -> StageOutcome:
    """Language, topics, entities, embedding and story for every pending article.

    Loads the embedding model only when something is pending, unless ``context`` brings it
    loaded (a worker keeps one between its enrich jobs).
    """
    from newsmon.enrich.pipeline import enrich_store

    started = time.monotonic()

    def report(phase: str, done: int, total: int) -> None:
        if progress is not None:
            # embed pass, then assign pass: each counts up to the pending total
            progress.update({"pending": total, "embedded" if phase == "embed" else "enriched":
                             done})

    stats = enrich_store(settings, store, run_id=run_id, progress=report, context=context)
    status = RUN_OK if stats.failed == 0 else RUN_PARTIAL
    return StageOutcome("enrich", status, round(time.monotonic() - started, 2), stats.as_dict())


def index(settings: Settings, store: StoreBase, *, run_id: int,
          progress: StageProgress | None = None, backend: str | None = None,
          rebuild: bool = False) -> StageOutcome:
    """Bring one search backend up to date with the store through its change-feed cursor.

    A failing backend (unreachable cluster, rejected documents) is not raised: the step is
    failed with a one-line reason (exit code 1) and the cursor stays after the last batch the
    backend accepted, so the next run catches up.
    """
    from newsmon.app.indexing import index_store
    from newsmon.index.core.errors import IndexingError

    name = backend or settings.index.backend
    started = time.monotonic()

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress.update({"indexed": done, "of": total})

    try:
        stats = index_store(settings, store, backend=name, rebuild=rebuild, progress=report)
    except IndexingError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return StageOutcome("index", RUN_FAILED, round(time.monotonic() - started, 2), {
            "backend": name, "error": reason, "reason": exc.reason,
            "cursor": store.cursors.get(f"backend:{name}")})
    return StageOutcome("index", RUN_OK, round(time.monotonic() - started, 2), stats.as_dict())


def alert(settings: Settings, store: StoreBase, *, run_id: int,
          progress: StageProgress | None = None, retry: bool = False, backfill: bool = False,
          rule: str | None = None, health_only: bool = False) -> StageOutcome:
    """Evaluate the alert rules on what the index stage made searchable, deliver the outbox.

    Runs after `index`: each rule's watermark is capped at the search backend's cursor, so an
    article is alerted on only once it can be found. A failed delivery makes the step partial
    (exit 1) and stays in the outbox for the next run. ``retry``, ``backfill`` and ``rule``
    are `newsmon alert`'s options; ``health_only``: source health alone (a worker's health
    job).
    """
    from newsmon.alerts import run_alerts

    started = time.monotonic()
    outcome = run_alerts(settings, store, run_id=run_id, retry=retry, backfill=backfill,
                         rule=rule, health_only=health_only)
    if progress is not None:
        progress.update({"delivered": outcome.delivered})
    return StageOutcome("alert", outcome.status, round(time.monotonic() - started, 2),
                        outcome.to_dict())


__all__ = ["crawl", "enrich", "index", "alert", "crawl_status"]
