"""One crawl's shared state as a Scrapy component: settings, sources, the store, the counters,
and how outcomes are recorded.

``CrawlContext`` is an extension (``EXTENSIONS``) that Scrapy builds in ``from_crawler`` from the
``CrawlJob`` ``run_crawl`` put into the crawler's settings; the spider, the middlewares and the
pipeline reach it through the crawler (``CrawlContext.of(crawler)``). Its counters live in
Scrapy's stats collector (``crawler.stats``, see ``crawler.stats.CrawlCounters``).

Every outcome goes through here, so each one lands in the fetch log (with the run id), in the
counters, and, for article URLs, in the store's URL table that decides what is fetched again.
Those rows are not written one transaction each: they wait in memory and are written with the
next batch of articles, in its transaction (``write``), or on their own once they are
``FLUSH_SECONDS`` old. A kill -9 loses at most that batch, and the next run repeats its work.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from scrapy import signals

from newsmon.crawler.sources import Source
from newsmon.crawler.stats import CrawlCounters, CrawlProgress, CrawlStats
from newsmon.index.core import reasons
from newsmon.index.core.article import Article
from newsmon.index.core.settings import CrawlSettings, Settings
from newsmon.index.store import FAILED, REJECTED, SKIPPED, Store

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

log = logging.getLogger(__name__)

__all__ = ["CrawlContext", "CrawlJob", "GONE", "JOB_SETTING", "FLUSH_SECONDS"]

# HTTP statuses after which an article URL is given up at once: the page is gone.
GONE = frozenset({404, 410})
# The Scrapy setting that carries the CrawlJob from run_crawl to CrawlContext.from_crawler.
JOB_SETTING = "NEWSMON_CRAWL_JOB"
# Recorded outcomes wait at most this long for a batch of articles to be written with.
FLUSH_SECONDS = 5.0


@dataclass(frozen=True, slots=True, repr=False)
class CrawlJob:
    """What one crawl is asked to do (set by ``run_crawl`` in the crawler's settings)."""

    settings: Settings
    sources: tuple[Source, ...]
    store: Store
    run_id: int
    progress: Callable[[CrawlProgress], None] | None = None

    def __repr__(self) -> str:  # Scrapy logs its overridden settings
        return f"CrawlJob(run_id={self.run_id}, sources={len(self.sources)})"


@dataclass(slots=True)
class _Validators:
    source: str
    status: int
    etag: str | None
    last_modified: str | None
    kind: str | None


class CrawlContext:
    def __init__(self, job: CrawlJob, counters: CrawlCounters) -> None:
        self.settings = job.settings
        self.crawl: CrawlSettings = job.settings.crawl
        self.sources: dict[str, Source] = {s.id: s for s in job.sources}
        self.store = job.store
        self.run_id = job.run_id
        self.progress = job.progress
        self.stats = counters
        self.started = time.monotonic()
        self.finish_reason = ""
        # Validators of listings answered 200 this run. They are saved only when the crawl ends
        # normally: saved earlier, a killed crawl would get 304s next time and never see the
        # articles it had not reached yet.
        self._validators: dict[str, _Validators] = {}
        # sources whose article limit cut discovery short: their listings must be re-read
        self.limited_sources: set[str] = set()
        self.listing_failed_sources: set[str] = set()
        # fetch-log rows and URL decisions waiting for the next write (see the module doc)
        self._pending: list[Callable[[], None]] = []
        self._pending_since: float | None = None
        # the first failed write to the store; the crawl stops and run_crawl raises it
        self.store_failure: Exception | None = None
        self.crawler: Crawler | None = None

    # -- the Scrapy component ---------------------------------------------------------------------
    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlContext:
        job = crawler.settings.get(JOB_SETTING)
        if not isinstance(job, CrawlJob):
            raise RuntimeError(f"the {JOB_SETTING} setting is not set: crawls start in run_crawl")
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
        self.log(getattr(response, "url", ""), FAILED,
                 source=getattr(response, "meta", {}).get("newsmon_source"), kind="spider",
                 reason=reasons.SPIDER_ERROR,
                 detail=getattr(failure, "getTraceback", lambda: str(failure))())

    def item_error(self, item: Any, response: Any, spider: Any, failure: Any) -> None:
        page = getattr(item, "page", None)
        self.stats.count("failed", reasons.PIPELINE_ERROR)
        self.log(getattr(page, "url", "") or getattr(response, "url", ""), FAILED,
                 source=getattr(page, "source", None), kind="article",
                 reason=reasons.PIPELINE_ERROR,
                 detail=getattr(failure, "getTraceback", lambda: str(failure))())

    def result(self) -> CrawlStats:
        return self.stats.result(self.finish_reason)

    # -- writing ----------------------------------------------------------------------------------
    def _later(self, write: Callable[[], None]) -> None:
        self._pending.append(write)
        if self._pending_since is None:
            self._pending_since = time.monotonic()

    def write(self, articles: list[Article] | None = None,
              aliases: dict[str, set[str]] | None = None) -> int:
        """Write ``articles`` and every outcome recorded since the last write in one
        transaction; returns how many articles were written."""
        if self.store_failure is not None:
            return 0  # the crawl is closing: nothing more can be written this run
        pending, since = self._pending, self._pending_since
        self._pending, self._pending_since = [], None
        written = 0
        try:
            with self.store.transaction():
                if articles:
                    written = self.store.articles.upsert(articles, aliases=aliases or {})
                for write in pending:
                    write()
        except (sqlite3.Error, OSError) as exc:
            # rolled back: the outcomes wait for the next write (the articles are the caller's)
            self._pending, self._pending_since = pending + self._pending, since
            self._store_failed(exc)
            return 0
        except BaseException:
            self._pending, self._pending_since = pending + self._pending, since
            raise
        return written

    def _store_failed(self, exc: Exception) -> None:
        """A write to the store failed (a full disk, a read-only or locked store…): every
        later write would fail too, so the crawl stops here, and ``run_crawl`` raises ``exc``
        once Scrapy has closed. Nothing recorded as stored was lost: what this run could not
        write is fetched again by the next run."""
        if self.store_failure is not None:
            return
        self.store_failure = exc
        log.warning("cannot write the store (%s): stopping the crawl", exc)
        if self.crawler is not None and getattr(self.crawler, "engine", None) is not None:
            from scrapy.utils.defer import deferred_from_coro

            deferred_from_coro(self.crawler.engine.close_spider_async(reason="store_failure"))

    def flush_if_stale(self, max_age: float = FLUSH_SECONDS) -> None:
        if self._pending_since is not None and time.monotonic() - self._pending_since >= max_age:
            self.write()

    # -- recording --------------------------------------------------------------------------------
    def log(self, url: str, outcome: str, *, source: str | None, kind: str,
            http_status: int | None = None, reason: str | None = None,
            detail: str | None = None) -> None:
        self._later(partial(self.store.runs.log_fetch, url, outcome, run_id=self.run_id,
                            source=source, kind=kind, http_status=http_status, reason=reason,
                            detail=detail))

    def mark_urls(self, urls: Iterable[str], state: str, *, source: str,
                  reason: str | None = None, article_id: str | None = None) -> None:
        for url in dict.fromkeys(urls):
            self._later(partial(self.store.frontier.mark_url, url, state, source=source,
                                reason=reason, article_id=article_id))

    def article_rejected(self, url: str, reason: str, *, source: str,
                         http_status: int | None = None, detail: str | None = None,
                         also: tuple[str, ...] = ()) -> None:
        """Never fetch this article URL again (404, not an article, not HTML)."""
        self.stats.count("rejected", reason)
        self.log(url, REJECTED, source=source, kind="article", http_status=http_status,
                 reason=reason, detail=detail)
        self.mark_urls((url, *also), "rejected", source=source, reason=reason)

    def article_failed(self, url: str, reason: str, *, source: str,
                       http_status: int | None = None, detail: str | None = None) -> None:
        """Try again in a later run, up to ``max_attempts`` runs."""
        self.stats.count("failed", reason)
        self.log(url, FAILED, source=source, kind="article", http_status=http_status,
                 reason=reason, detail=detail)
        self.mark_urls((url,), "failed", source=source, reason=reason)

    def skipped(self, url: str, reason: str, *, counter: str | None, source: str | None,
                kind: str, detail: str | None = None, log_it: bool = True) -> None:
        self.stats.count(counter, reason)
        if log_it:
            self.log(url, SKIPPED, source=source, kind=kind, reason=reason, detail=detail)

    def listing_failed(self, url: str, reason: str, *, source: str, kind: str,
                       http_status: int | None = None, detail: str | None = None) -> None:
        self.stats.count("listing_failures", reason)
        self.listing_failed_sources.add(source)
        self.log(url, FAILED, source=source, kind=kind, http_status=http_status, reason=reason,
                 detail=detail)

    # -- conditional GET --------------------------------------------------------------------------
    def remember_validators(self, url: str, source: str, status: int, etag: str | None,
                            last_modified: str | None, kind: str | None = None) -> None:
        self._validators[url] = _Validators(source, status, etag, last_modified, kind)

    def not_modified(self, url: str, source: str) -> None:
        self._later(partial(self.store.frontier.save_feed_state, url, source=source, status=304))

    def save_validators(self, finished: bool) -> int:
        """Save the validators of this run's listings (see ``__init__``), with whatever else is
        still waiting to be written; returns how many validators were saved."""
        if not finished:
            log.info("crawl did not finish; keeping the previous feed validators")
            self.write()
            return 0
        saved = 0
        for url, v in self._validators.items():
            if v.source in self.limited_sources:
                continue  # candidates left unfetched: read the listing in full next run
            self._later(partial(self.store.frontier.save_feed_state, url, source=v.source,
                                status=v.status, etag=v.etag, last_modified=v.last_modified,
                                kind=v.kind))
            saved += 1
        self.write()
        return saved

    # -- progress ---------------------------------------------------------------------------------
    def snapshot(self, *, pending: int, extracting: int, unflushed: int) -> CrawlProgress:
        return CrawlProgress(
            elapsed_s=round(time.monotonic() - self.started, 3),
            counts=self.stats.counts(),
            pending_requests=pending,
            extracting=extracting,
            unflushed=unflushed,
        )
