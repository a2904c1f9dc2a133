"""From fetched page to stored article: extraction in worker processes, then batched writes.

``ExtractStorePipeline`` is the Scrapy adapter; the work is in plain functions and one plain
class:

- ``extract_in_worker(page)`` runs ``crawler.extract.extract_article`` in a worker process of a
  ``ProcessPoolExecutor`` (so extraction uses every core while the reactor keeps downloading)
  and returns a picklable ``Extracted`` (an ExtractError's reason does not survive pickling);
- ``settle_article(article, item, source)`` fills what the listing knew and the page did not
  say;
- ``ArticleBatcher`` writes articles ``batch_size`` at a time, each batch in one transaction
  with the fetch-log rows and URL decisions recorded since the last one
  (``CrawlRecorder.write``), so a kill -9 loses at most the batch in flight, and the next run
  fetches those pages again.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import multiprocessing
import os
import threading
import time
import traceback
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from newsmon.crawler.page import Page
from newsmon.crawler.published import reconcile_published
from newsmon.crawler.sources import Source
from newsmon.crawler.urls import canonicalize_url
from newsmon.index.core import reasons
from newsmon.index.core.article import Article, Status
from newsmon.index.core.errors import ExtractError
from newsmon.index.store import STORED

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from newsmon.crawler.context import CrawlContext
    from newsmon.crawler.spider import PageItem

log = logging.getLogger(__name__)

__all__ = [
    "Extracted",
    "extract_in_worker",
    "settle_article",
    "ArticleBatcher",
    "VariantAliases",
    "ExtractStorePipeline",
    "RETRY_REASONS",
    "make_pool",
]

# Extraction outcomes worth another try in a later run (up to max_attempts); every other reason
# (not_html, not_article, malformed, …) means the URL is never fetched again.
RETRY_REASONS = frozenset({reasons.CHALLENGE, reasons.EMPTY, reasons.EXTRACT_CRASH})
# An article waits at most this long for its batch to fill before it is written anyway.
FLUSH_SECONDS = 5.0
# A progress line in the log this often, for cron runs nobody watches.
PROGRESS_LOG_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Extracted:
    article: Article | None = None
    reason: str | None = None
    message: str = ""


def extract_in_worker(page: Page) -> Extracted:
    """Run extraction on one page; never raises (a crash is a recorded outcome too)."""
    from newsmon.crawler.extract import extract_article  # imported in the worker, preloaded by the pool

    try:
        return Extracted(article=extract_article(page))
    except ExtractError as exc:
        return Extracted(reason=exc.reason, message=str(exc))
    except Exception as exc:  # a bug on one odd page must not stop the crawl; it is recorded
        return Extracted(reason=reasons.EXTRACT_CRASH,
                         message=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")


def _warm() -> int:
    import newsmon.crawler.extract  # noqa: F401  (pay the import of trafilatura before pages arrive)

    return os.getpid()


PARENT_POLL_S = 1.0


def _end_with(parent: int) -> None:
    """Pool initializer: the worker ends once the process that made the pool is gone. The
    forkserver, not the crawl, is a worker's parent, and each worker holds its own task queue
    open, so after a kill -9 of the crawl it would otherwise wait for work forever (three idle
    processes left by every killed run; the forkserver ends once its workers have)."""

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            try:
                os.kill(parent, 0)
            except (ProcessLookupError, PermissionError):   # gone, or its number reused
                os._exit(0)

    threading.Thread(target=watch, name="newsmon-pool-watch", daemon=True).start()


def make_pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes for extraction, forked from a clean server process that has already
    imported the extractor (fork from a running reactor with threads is unsafe; spawn would
    import trafilatura again in every worker)."""
    mp = multiprocessing.get_context("forkserver")
    mp.set_forkserver_preload(["newsmon.crawler.extract"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp, initializer=_end_with,
                               initargs=(os.getpid(),))


def settle_article(article: Article, item: PageItem, source: Source) -> Article:
    """The article as it will be stored: what the listing knew and the page did not say filled
    in. (Its canonical URL was decided at extraction, ``crawler.urls.choose_canonical``, on the
    source's domains the page carried.)"""
    page = item.page
    changes: dict[str, Any] = {}
    if article.url != page.url:
        changes["url"] = page.url
    published, flags = reconcile_published(article.published, article.flags,
                                           item.listed_published, source.default_tz())
    if published != article.published or flags != article.flags:
        changes["published"], changes["flags"] = published, flags
    if not article.title and item.listed_title:
        changes["title"] = item.listed_title
    if article.fetched_at is None:
        changes["fetched_at"] = page.fetched_at
    if article.http_etag is None and page.etag:
        changes["http_etag"] = page.etag
    if article.http_last_modified is None and page.last_modified:
        changes["http_last_modified"] = page.last_modified
    if article.source != source.id:
        changes["source"] = source.id
    return dataclasses.replace(article, **changes) if changes else article


class ArticleBatcher:
    """Collects settled articles and writes them ``batch_size`` at a time."""

    def __init__(self, ctx: CrawlContext, batch_size: int) -> None:
        self.ctx = ctx
        self.batch_size = max(1, batch_size)
        self._batch: dict[str, Article] = {}
        self._aliases: dict[str, set[str]] = {}
        self._oldest: float | None = None
        self._ids: set[str] = set()  # every article id stored or batched this run

    def __len__(self) -> int:
        return len(self._batch)

    def add(self, article: Article, aliases: tuple[str, ...]) -> str:
        """Queue an article; returns 'stored', 'duplicate' or 'known'."""
        aliases_set = {u for u in aliases if u not in (article.url, article.canonical_url)}
        if article.id in self._ids:
            # the same article reached again this run (AMP copy, redirect, variant link)
            self._alias(article, aliases_set | {article.url})
            self.ctx.recorder.skipped(article.url, reasons.DUPLICATE_CANONICAL, counter="skipped_known",
                             source=article.source, kind="article", detail=article.canonical_url)
            return "duplicate"
        if (canonicalize_url(article.url) != article.canonical_url
                and self.ctx.store.frontier.is_known(article.canonical_url,
                                            max_attempts=self.ctx.crawl.max_attempts)):
            # a variant (e.g. AMP) of an article stored by an earlier run: keep that one
            self._ids.add(article.id)
            self._alias(article, aliases_set | {article.url})
            self.ctx.recorder.skipped(article.url, reasons.KNOWN_CANONICAL, counter="skipped_known",
                             source=article.source, kind="article", detail=article.canonical_url)
            return "known"
        self._ids.add(article.id)
        self._batch[article.id] = article
        self._aliases[article.id] = aliases_set
        if self._oldest is None:
            self._oldest = time.monotonic()
        if len(self._batch) >= self.batch_size:
            self.flush()
        return "stored"

    def _alias(self, article: Article, urls: set[str]) -> None:
        self.alias(article.id, article.source, urls)

    def alias(self, article_id: str, source: str, urls: set[str]) -> None:
        """Record further URLs of an article queued or stored this run."""
        if article_id in self._batch:
            self._aliases[article_id].update(urls)
            return
        self.ctx.recorder.mark_urls(urls, "stored", source=source, article_id=article_id)

    def flush_if_stale(self, max_age: float = FLUSH_SECONDS) -> None:
        if self._oldest is not None and time.monotonic() - self._oldest >= max_age:
            self.flush()

    def flush(self) -> int:
        """Write the batch, and every outcome recorded since the last write, in one
        transaction (``CrawlRecorder.write``)."""
        if not self._batch:
            return 0
        batch, aliases = list(self._batch.values()), self._aliases
        self._batch, self._aliases, self._oldest = {}, {}, None
        for art in batch:
            self.ctx.recorder.log(art.url, STORED, source=art.source, kind="article", http_status=200,
                         reason=None if art.status is Status.OK else art.status.value,
                         detail=art.canonical_url if art.canonical_url != art.url else None)
        written = self.ctx.recorder.write(batch, aliases)
        if self.ctx.recorder.store_failure is not None:
            return 0  # not stored: the crawl stops, and the next run fetches these again
        self.ctx.stats.count("stored", n=len(batch))
        for art in batch:
            if art.status is not Status.OK:
                self.ctx.stats.count("flagged", art.status.value)
        return written


class VariantAliases:
    """URLs not fetched because another URL with the same canonical form was queued first (the
    feed's tracking-parameter link and the section's clean one), recorded as aliases of the
    article that URL gives, whichever of the two the crawl meets first."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[str]] = {}  # canonical -> URLs, article not recorded yet
        self._stored: dict[str, tuple[str, str]] = {}  # canonical -> (article id, source)

    def found(self, batcher: ArticleBatcher, canonical: str, url: str) -> None:
        stored = self._stored.get(canonical)
        if stored is not None:
            batcher.alias(stored[0], stored[1], {url})
        else:
            self._waiting.setdefault(canonical, set()).add(url)

    def take(self, canonical: str) -> tuple[str, ...]:
        return tuple(sorted(self._waiting.pop(canonical, ())))

    def stored(self, canonical: str, article: Article) -> None:
        self._stored[canonical] = (article.id, article.source)


def record_extraction(ctx: CrawlContext, batcher: ArticleBatcher, item: PageItem,
                      result: Extracted, variants: VariantAliases | None = None) -> str:
    """Store the article, or record why there is none. Returns the outcome."""
    source = ctx.sources[item.page.source]
    more = variants.take(item.canonical) if variants is not None and item.canonical else ()
    if result.article is None:
        reason = result.reason or "extract_error"
        url = item.discovered_url
        if reason == "challenge":
            ctx.stats.count("flagged")  # a bot wall instead of the page: tried again next run
        if reason in RETRY_REASONS:
            ctx.recorder.article_failed(url, reason, source=source.id, http_status=item.page.http_status,
                               detail=result.message)
            return "failed"
        ctx.recorder.article_rejected(url, reason, source=source.id, http_status=item.page.http_status,
                             detail=result.message, also=(item.page.url, *item.aliases, *more))
        return "rejected"
    article = settle_article(result.article, item, source)
    outcome = batcher.add(article, (item.discovered_url, *item.aliases, *more))
    if variants is not None and item.canonical:
        variants.stored(item.canonical, article)
    return outcome


class ExtractStorePipeline:
    """Scrapy adapter: hand pages to the worker pool, results to ``record_extraction``. It
    starts and ends with the spider (``spider_opened`` / ``spider_closed`` signals): at the end
    it writes what is left and stops the workers."""

    def __init__(self, crawler: Crawler) -> None:
        # Scrapy and the context are imported here, not at the top: extraction workers import
        # this module for extract_in_worker and need neither
        from newsmon.crawler.context import CrawlContext

        self.crawler = crawler
        self.ctx = CrawlContext.of(crawler)
        self.pool: ProcessPoolExecutor | None = None
        self.batcher: ArticleBatcher | None = None
        self.variants: VariantAliases | None = None
        self.extracting = 0
        self._ticker: Any = None
        self._last_log = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractStorePipeline:
        from scrapy import signals

        from newsmon.crawler.signals import url_variant

        pipeline = cls(crawler)
        crawler.signals.connect(pipeline.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(pipeline.url_variant, signal=url_variant)
        return pipeline

    def spider_opened(self, spider: Any) -> None:
        from twisted.internet import task

        ctx = self.ctx
        workers = ctx.crawl.extract_workers or os.cpu_count() or 1
        self.batcher = ArticleBatcher(ctx, ctx.crawl.batch_size)
        self.variants = VariantAliases()
        self._ticker = task.LoopingCall(self.tick)
        self._ticker.start(1.0, now=False)
        log.info("crawl started: %d sources, %d extraction workers", len(ctx.sources), workers)

    def url_variant(self, canonical: str, url: str) -> None:
        if self.batcher is not None and self.variants is not None:
            self.variants.found(self.batcher, canonical, url)

    async def process_item(self, item: PageItem) -> PageItem:
        assert self.batcher is not None
        if self.pool is None:
            # started with the first page, not with the spider: a crawl that finds nothing new
            # (feeds answering 304) never pays for the workers and their imports
            self._start_pool()
        assert self.pool is not None
        self.extracting += 1
        try:
            future: Future[Extracted] = self.pool.submit(extract_in_worker, item.page)
            result = await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:  # a worker died (OOM killer…): record, start anew
            result = Extracted(reason=reasons.EXTRACT_CRASH, message=f"worker process died: {exc}")
            self._replace_pool()
        finally:
            self.extracting -= 1
        record_extraction(self.ctx, self.batcher, item, result, self.variants)
        return item

    def _start_pool(self) -> None:
        workers = self.ctx.crawl.extract_workers or os.cpu_count() or 1
        self.pool = make_pool(workers)
        for _ in range(workers):
            self.pool.submit(_warm)

    def _replace_pool(self) -> None:
        old = self.pool
        self.pool = make_pool(self.ctx.crawl.extract_workers or os.cpu_count() or 1)
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)

    def tick(self) -> None:
        assert self.batcher is not None
        self.batcher.flush_if_stale()
        self.ctx.recorder.flush_if_stale()
        snap = self.ctx.snapshot(pending=_pending_requests(self.crawler),
                                 extracting=self.extracting, unflushed=len(self.batcher))
        if self.ctx.progress is not None:
            self.ctx.progress(snap)
        now = time.monotonic()
        if now - self._last_log >= PROGRESS_LOG_SECONDS:
            self._last_log = now
            c = snap.counts
            log.info("crawl %.0fs: %d requests, %d articles fetched, %d stored, %d rejected, "
                     "%d failed, %d not modified, %d pending", snap.elapsed_s, c["requests"],
                     c["fetched"], c["stored"], c["rejected"], c["failed"], c["not_modified"],
                     snap.pending_requests)

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self._ticker is not None and self._ticker.running:
            self._ticker.stop()
        if self.batcher is not None:
            self.batcher.flush()
        self.ctx.recorder.write()  # outcomes recorded since the last batch
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        if self.ctx.progress is not None and self.batcher is not None:
            self.ctx.progress(self.ctx.snapshot(pending=0, extracting=0, unflushed=0))


def _pending_requests(crawler: Crawler) -> int:
    """Requests waiting in the scheduler or downloading (best effort: engine internals)."""
    engine = getattr(crawler, "engine", None)
    if engine is None:
        return 0
    pending = len(getattr(engine.downloader, "active", ()) or ())
    slot = getattr(engine, "_slot", None) or getattr(engine, "slot", None)
    scheduler = getattr(slot, "scheduler", None) or getattr(engine, "scheduler", None)
    try:
        pending += len(scheduler) if scheduler is not None else 0
    except TypeError:
        pass
    return pending
