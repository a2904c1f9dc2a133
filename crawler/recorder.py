"""How a crawl's outcomes reach the store: the deferred-write queue and its transaction, the
fetch log, the URL table, the counters, and the feed validators saved at the end.

Every outcome goes through ``CrawlRecorder``, so each one lands in the fetch log (with the run
id), in the counters, and, for article URLs, in the store's URL table that decides what is
fetched again. Those rows are not written one transaction each: they wait in memory and are
written with the next batch of articles, in its transaction (``write``), or on their own once
they are ``FLUSH_SECONDS`` old. A kill -9 loses at most that batch, and the next run repeats its
work.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from functools import partial

from newsmon.crawler.stats import CrawlCounters
from newsmon.index.core import reasons
from newsmon.index.core.article import Article
from newsmon.index.core.times import now_iso
from newsmon.index.store import DISCOVERED, FAILED, NOT_MODIFIED, REJECTED, SKIPPED, StoreBase
from newsmon.index.store.repos.health import CrawlError, SourceTally

log = logging.getLogger(__name__)

__all__ = ["CrawlRecorder", "BatchHook", "FLUSH_SECONDS", "LISTING_KINDS"]

# the fetches that find articles: when every one of a source's fails, the source failed
LISTING_KINDS = frozenset({"feed", "sitemap", "section", "robots"})
# listing failures whose detail says what came instead (an HTTP error's detail says nothing more)
_SAYS_WHAT = frozenset({reasons.NOT_A_FEED, reasons.NOT_A_SITEMAP, reasons.BAD_FEED,
                        reasons.BAD_SITEMAP})

# what a batch's transaction also runs (CrawlJob.on_batch)
BatchHook = Callable[[StoreBase, list[Article]], None]

# Recorded outcomes wait at most this long for a batch of articles to be written with.
FLUSH_SECONDS = 5.0


@dataclass(slots=True)
class _Validators:
    source: str
    status: int
    etag: str | None
    last_modified: str | None
    kind: str | None


class CrawlRecorder:
    """Records one run's outcomes (see the module doc). ``on_store_failure`` is called once,
    with the error, when a write to the store fails: the crawl has to stop."""

    def __init__(self, store: StoreBase, run_id: int, counters: CrawlCounters, *,
                 on_store_failure: Callable[[Exception], None] | None = None,
                 on_batch: BatchHook | None = None) -> None:
        self.store = store
        self._on_batch = on_batch
        self.run_id = run_id
        self.stats = counters
        self._on_store_failure = on_store_failure
        # Validators of listings answered 200 this run. They are saved only when the crawl ends
        # normally: saved earlier, a killed crawl would get 304s next time and never see the
        # articles it had not reached yet.
        self._validators: dict[str, _Validators] = {}
        self._pending: list[Callable[[], None]] = []
        self._pending_since: float | None = None
        # the first failed write to the store; the crawl stops and run_crawl raises it
        self.store_failure: Exception | None = None
        # per source: what its listings and pages did this run (its health, see tallies())
        self._tallies: dict[str, SourceTally] = {}

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
                    # a copy the store's Iterable-valued mapping type accepts
                    written = self.store.articles.upsert(articles, aliases=dict(aliases or {}))
                    for article in articles:
                        self._tally(article.source).stored += 1
                    if self._on_batch is not None:
                        self._on_batch(self.store, articles)
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
        if self._on_store_failure is not None:
            self._on_store_failure(exc)

    def flush_if_stale(self, max_age: float = FLUSH_SECONDS) -> None:
        if self._pending_since is not None and time.monotonic() - self._pending_since >= max_age:
            self.write()

    # -- per-source health ------------------------------------------------------------------------
    def _tally(self, source: str) -> SourceTally:
        tally = self._tallies.get(source)
        if tally is None:
            tally = self._tallies[source] = SourceTally(source)
        return tally

    def tallies(self, sources: Iterable[str]) -> list[SourceTally]:
        """What each of ``sources`` did this run (one entry each, crawled or not reached)."""
        return [self._tally(s) for s in sources]

    # -- recording --------------------------------------------------------------------------------
    def log(self, url: str, outcome: str, *, source: str | None, kind: str,
            http_status: int | None = None, reason: str | None = None,
            detail: str | None = None) -> None:
        if source is not None and kind in LISTING_KINDS and outcome in (
                DISCOVERED, NOT_MODIFIED) and not (kind == "robots" and http_status == 404):
            # (a missing robots.txt is nothing missed, but no sign the source works either)
            tally = self._tally(source)
            tally.listings_ok += 1
            tally.last_success_at = now_iso()
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
        if http_status is not None and reason == reasons.http(http_status):
            # a page the site says is gone is a failure of the site; not-an-article is not
            self._page_failed(source, url, reason, http_status, detail)
        self.mark_urls((url, *also), "rejected", source=source, reason=reason)

    def article_failed(self, url: str, reason: str, *, source: str,
                       http_status: int | None = None, detail: str | None = None) -> None:
        """Try again in a later run, up to ``max_attempts`` runs."""
        self.stats.count("failed", reason)
        self.log(url, FAILED, source=source, kind="article", http_status=http_status,
                 reason=reason, detail=detail)
        self.mark_urls((url,), "failed", source=source, reason=reason)
        self._page_failed(source, url, reason, http_status, detail)

    def _page_failed(self, source: str, url: str, reason: str, http_status: int | None,
                     detail: str | None) -> None:
        tally = self._tally(source)
        tally.pages_failed += 1
        tally.page_error = CrawlError(url, "article", reason, http_status, detail, now_iso())

    def skipped(self, url: str, reason: str, *, counter: str | None, source: str | None,
                kind: str, detail: str | None = None, log_it: bool = True) -> None:
        self.stats.count(counter, reason)
        if log_it:
            self.log(url, SKIPPED, source=source, kind=kind, reason=reason, detail=detail)
        if source is not None and kind in LISTING_KINDS and reason == reasons.ROBOTS:
            # a configured listing the site's robots.txt forbids: never read, its news missed
            tally = self._tally(source)
            tally.listings_failed += 1
            tally.listing_error = CrawlError(url, kind, reason, None, detail, now_iso())
            log.warning("source %s: %s %s is disallowed by the site's robots.txt: not read",
                        source, kind, url)

    def listing_failed(self, url: str, reason: str, *, source: str, kind: str,
                       http_status: int | None = None, detail: str | None = None) -> None:
        self.stats.count("listing_failures", reason)
        self.log(url, FAILED, source=source, kind=kind, http_status=http_status, reason=reason,
                 detail=detail)
        tally = self._tally(source)
        tally.listings_failed += 1
        tally.listing_error = CrawlError(url, kind, reason, http_status, detail, now_iso())
        # at WARNING: a broken feed must be seen without reading the store's fetch log
        log.warning("source %s: %s %s failed: %s — %s%s", source, kind, url, reason,
                    reasons.describe(reason),
                    f"; {detail}" if detail and reason in _SAYS_WHAT else "")

    # -- conditional GET --------------------------------------------------------------------------
    def remember_validators(self, url: str, source: str, status: int, etag: str | None,
                            last_modified: str | None, kind: str | None = None) -> None:
        self._validators[url] = _Validators(source, status, etag, last_modified, kind)

    def not_modified(self, url: str, source: str) -> None:
        self._later(partial(self.store.frontier.save_feed_state, url, source=source, status=304))

    def save_validators(self, finished: bool, *, except_sources: Collection[str] = ()) -> int:
        """Save the validators of this run's listings (see ``__init__``), but for those of
        ``except_sources``, with whatever else is still waiting to be written; returns how many
        validators were saved."""
        if not finished:
            log.info("crawl did not finish; keeping the previous feed validators")
            self.write()
            return 0
        saved = 0
        for url, v in self._validators.items():
            if v.source in except_sources:
                continue
            self._later(partial(self.store.frontier.save_feed_state, url, source=v.source,
                                status=v.status, etag=v.etag, last_modified=v.last_modified,
                                kind=v.kind))
            saved += 1
        self.write()
        return saved
