"""One crawl's shared state as a Scrapy component: the job, its sources and settings, the
counters, progress, and the recorder every outcome goes through.

``CrawlContext`` is an extension (``EXTENSIONS``) that Scrapy builds in ``from_crawler`` from the
``CrawlJob`` ``run_crawl`` put into the crawler's settings; the spider, the middlewares and the
pipeline reach it through the crawler (``CrawlContext.of(crawler)``). Its counters live in
Scrapy's stats collector (``crawler.stats``, see ``crawler.stats.CrawlCounters``). How outcomes
are written (with the next batch of articles, so a kill -9 loses at most that batch) is
``crawler.recorder.CrawlRecorder``'s part: ``ctx.recorder``.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy import signals

from newsmon.crawler.recorder import FLUSH_SECONDS, BatchHook, CrawlRecorder
from newsmon.crawler.sources import Source
from newsmon.crawler.stats import CrawlCounters, CrawlProgress, CrawlStats
from newsmon.index.core import reasons
from newsmon.index.core.settings import CrawlSettings, Settings
from newsmon.index.store import FAILED, StoreBase

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

log = logging.getLogger(__name__)

__all__ = ["CrawlContext", "CrawlJob", "GONE", "JOB_SETTING", "FLUSH_SECONDS"]

# HTTP statuses after which an article URL is given up at once: the page is gone.
GONE = frozenset({404, 410})
# The Scrapy setting that carries the CrawlJob from run_crawl to CrawlContext.from_crawler.
JOB_SETTING = "NEWSMON_CRAWL_JOB"


@dataclass(frozen=True, slots=True, repr=False)
class CrawlJob:
    """What one crawl is asked to do (set by ``run_crawl`` in the crawler's settings)."""

    settings: Settings
    sources: tuple[Source, ...]
    store: StoreBase
    run_id: int
    progress: Callable[[CrawlProgress], None] | None = None
    # called with each batch of stored articles inside the transaction that stores them (a
    # worker defers the batch's enrich job there: both commit or neither)
    on_batch: BatchHook | None = None

    def __repr__(self) -> str:  # Scrapy logs its overridden settings
        return f"CrawlJob(run_id={self.run_id}, sources={len(self.sources)})"


class CrawlContext:
    def __init__(self, job: CrawlJob, counters: CrawlCounters) -> None:
        self.settings = job.settings
        self.crawl: CrawlSettings = job.settings.crawl
        self.sources: dict[str, Source] = {s.id: s for s in job.sources}
        self.store = job.store
        self.run_id = job.run_id
        self.progress = job.progress
        self.stats = counters
        self.recorder = CrawlRecorder(job.store, job.run_id, counters,
                                      on_store_failure=self._stop_on_store_failure,
                                      on_batch=job.on_batch)
        self.started = time.monotonic()
        self.finish_reason = ""
        # sources whose article limit cut discovery short: their listings must be re-read
        self.limited_sources: set[str] = set()
        self.crawler: Crawler | None = None

    # -- the Scrapy component ---------------------------------------------------------------------
    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlContext:
        job = crawler.settings.get(JOB_SETTING)
        if not isinstance(job, CrawlJob):
            raise RuntimeError(f"the {JOB_SETTING} setting is not set: crawls start in run_crawl")
        assert crawler.stats is not None  # built before the extensions (Crawler._apply_settings)
        ctx = cls(job, CrawlCounters(crawler.stats))
        ctx.crawler = crawler
        crawler.signals.connect(ctx.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ctx.spider_error, signal=signals.spider_error)
        crawler.signals.connect(ctx.item_error, signal=signals.item_error)
        return ctx

    @staticmethod
    def of(crawler: Crawler) -> CrawlContext:
        """The context of this crawler's crawl (built with its extensions)."""
        ctx = crawler.get_extension(CrawlContext)
        if ctx is None:
            raise RuntimeError("CrawlContext is not among the crawler's EXTENSIONS")
        return ctx

    def spider_closed(self, spider: Any, reason: str) -> None:
        self.finish_reason = reason

    def spider_error(self, failure: Any, response: Any, spider: Any) -> None:
        # a bug in a callback must not pass as "nothing happened": count and log it
        self.stats.count("failed", reasons.SPIDER_ERROR)
        self.recorder.log(getattr(response, "url", ""), FAILED,
                          source=getattr(response, "meta", {}).get("newsmon_source"),
                          kind="spider", reason=reasons.SPIDER_ERROR,
                          detail=getattr(failure, "getTraceback", lambda: str(failure))())

    def item_error(self, item: Any, response: Any, spider: Any, failure: Any) -> None:
        page = getattr(item, "page", None)
        self.stats.count("failed", reasons.PIPELINE_ERROR)
        self.recorder.log(getattr(page, "url", "") or getattr(response, "url", ""), FAILED,
                          source=getattr(page, "source", None), kind="article",
                          reason=reasons.PIPELINE_ERROR,
                          detail=getattr(failure, "getTraceback", lambda: str(failure))())

    def _stop_on_store_failure(self, exc: Exception) -> None:
        # run_crawl raises the recorder's store_failure once Scrapy has closed
        engine = getattr(self.crawler, "engine", None)
        if engine is not None:
            from scrapy.utils.defer import deferred_from_coro

            deferred_from_coro(engine.close_spider_async(reason="store_failure"))

    def save_validators(self) -> int:
        """Save this run's feed validators if the crawl finished (``CrawlRecorder``), but not
        for sources whose article limit left candidates unfetched: their listings are read in
        full next run."""
        return self.recorder.save_validators(self.finish_reason == "finished",
                                             except_sources=self.limited_sources)

    def result(self) -> CrawlStats:
        return self.stats.result(self.finish_reason)

    # -- progress ---------------------------------------------------------------------------------
    def snapshot(self, *, pending: int, extracting: int, unflushed: int) -> CrawlProgress:
        return CrawlProgress(
            elapsed_s=round(time.monotonic() - self.started, 3),
            counts=self.stats.counts(),
            pending_requests=pending,
            extracting=extracting,
            unflushed=unflushed,
        )
