"""Run one crawl: ``run_crawl(settings, sources, store, run_id=...) -> CrawlStats``.

Scrapy runs in this process on Twisted's asyncio reactor. A Twisted reactor cannot be started
twice in one process, so ``run_crawl`` may be called **once per process**; a second call raises
``RuntimeError``. Callers that crawl repeatedly (tests of incremental crawling, a daemon) start
one process per crawl, e.g. ``python -m newsmon --config FILE crawl --json``.

SIGINT/SIGTERM stop the crawl gracefully (the batch in flight is written, feed validators are
kept from the previous run so nothing unfetched is skipped next time); a second signal, or
kill -9, stops at once and loses at most the batch in flight.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable

from newsmon.crawler.context import JOB_SETTING, CrawlContext, CrawlJob
from newsmon.crawler.recorder import BatchHook
from newsmon.crawler.sources import Source
from newsmon.crawler.stats import CrawlProgress, CrawlStats
from newsmon.index.core.settings import Settings
from newsmon.index.store import StoreBase

log = logging.getLogger(__name__)

__all__ = ["run_crawl", "CrawlStats", "CrawlProgress"]

_started = False


def run_crawl(settings: Settings, sources: list[Source], store: StoreBase, *, run_id: int,
              progress: Callable[[CrawlProgress], None] | None = None,
              on_batch: BatchHook | None = None) -> CrawlStats:
    """Crawl ``sources`` into ``store``; every fetch is logged under ``run_id``.

    ``progress`` is called about once a second (and once at the end) with a ``CrawlProgress``.
    Returns the counters; ``stats.ok`` is False when any fetch or listing failed or the crawl
    stopped early. Starting and finishing the run record (``store.runs.start`` /
    ``runs.finish``) is the caller's job. ``on_batch`` runs inside each batch's transaction
    (``CrawlJob.on_batch``). Call at most once per process (see the module doc).
    """
    global _started
    if _started:
        raise RuntimeError("run_crawl can run once per process (the Twisted reactor cannot "
                           "restart); start a new process for another crawl")
    _started = True

    from scrapy.crawler import CrawlerProcess

    from newsmon.crawler.scrapy_settings import scrapy_settings
    from newsmon.crawler.spider import NewsSpider

    if not sources:
        return CrawlStats(finish_reason="finished")

    process = CrawlerProcess(scrapy_settings(settings.crawl))
    crawler = process.create_crawler(NewsSpider)
    # what CrawlContext.from_crawler builds the crawl's context from (see crawler.context)
    crawler.settings.set(JOB_SETTING, CrawlJob(settings, tuple(sources), store, run_id, progress,
                                              on_batch),
                         priority="cmdline")
    process.crawl(crawler)
    process.start()  # blocks until the crawl ends

    ctx = CrawlContext.of(crawler)
    if ctx.recorder.store_failure is not None:
        raise ctx.recorder.store_failure
    saved = ctx.save_validators()
    stats = ctx.result()
    health = store.crawl_health.record(run_id, ctx.recorder.tallies(s.id for s in sources))
    stats.health = [h.as_dict() for h in health]
    log.info("crawl %s: %s (feed validators saved: %d)", stats.finish_reason or "ended",
             json.dumps(stats.to_dict(), sort_keys=True), saved)
    return stats
