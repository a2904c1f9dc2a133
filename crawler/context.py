"""One crawl's shared state: settings, sources, the store, counters, and how outcomes are recorded.

Every outcome goes through here, so each one lands in the fetch log (with the run id), in the
counters, and, for article URLs, in the store's URL table that decides what is fetched again.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from newsmon.crawler.sources import Source
from newsmon.crawler.stats import CrawlProgress, CrawlStats
from newsmon.index.settings import CrawlSettings, Settings
from newsmon.index.store import FAILED, REJECTED, SKIPPED, Store

log = logging.getLogger(__name__)

# HTTP statuses after which an article URL is given up at once: the page is gone.
GONE = frozenset({404, 410})


@dataclass(slots=True)
class _Validators:
    source: str
    status: int
    etag: str | None
    last_modified: str | None
    kind: str | None


class CrawlContext:
    def __init__(self, settings: Settings, sources: list[Source], store: Store, *, run_id: int,
                 progress: Callable[[CrawlProgress], None] | None = None) -> None:
        self.settings = settings
        self.crawl: CrawlSettings = settings.crawl
        self.sources: dict[str, Source] = {s.id: s for s in sources}
        self.store = store
        self.run_id = run_id
        self.progress = progress
        self.stats = CrawlStats()
        self.started = time.monotonic()
        # Validators of listings answered 200 this run. They are saved only when the crawl ends
        # normally: saved earlier, a killed crawl would get 304s next time and never see the
        # articles it had not reached yet.
        self._validators: dict[str, _Validators] = {}
        # sources whose article limit cut discovery short: their listings must be re-read
        self.limited_sources: set[str] = set()
        self.listing_failed_sources: set[str] = set()

    # -- recording --------------------------------------------------------------------------------
    def log(self, url: str, outcome: str, *, source: str | None, kind: str,
            http_status: int | None = None, reason: str | None = None,
            detail: str | None = None) -> None:
        self.store.runs.log_fetch(url, outcome, run_id=self.run_id, source=source, kind=kind,
                             http_status=http_status, reason=reason, detail=detail)

    def article_rejected(self, url: str, reason: str, *, source: str,
                         http_status: int | None = None, detail: str | None = None,
                         also: tuple[str, ...] = ()) -> None:
        """Never fetch this article URL again (404, not an article, not HTML)."""
        self.stats.count("rejected", reason)
        self.log(url, REJECTED, source=source, kind="article", http_status=http_status,
                 reason=reason, detail=detail)
        for u in dict.fromkeys((url, *also)):
            self.store.frontier.mark_url(u, "rejected", source=source, reason=reason)

    def article_failed(self, url: str, reason: str, *, source: str,
                       http_status: int | None = None, detail: str | None = None) -> None:
        """Try again in a later run, up to ``max_attempts`` runs."""
        self.stats.count("failed", reason)
        self.log(url, FAILED, source=source, kind="article", http_status=http_status,
                 reason=reason, detail=detail)
        self.store.frontier.mark_url(url, "failed", source=source, reason=reason)

    def skipped(self, url: str, reason: str, *, counter: str | None, source: str | None,
                kind: str, detail: str | None = None, log_it: bool = True) -> None:
        if counter:
            self.stats.count(counter, reason)
        else:
            self.stats.reasons[reason] = self.stats.reasons.get(reason, 0) + 1
        if log_it:
            self.log(url, SKIPPED, source=source, kind=kind, reason=reason, detail=detail)

    def listing_failed(self, url: str, reason: str, *, source: str, kind: str,
                       http_status: int | None = None, detail: str | None = None) -> None:
        self.stats.listing_failures += 1
        self.stats.reasons[reason] = self.stats.reasons.get(reason, 0) + 1
        self.listing_failed_sources.add(source)
        self.log(url, FAILED, source=source, kind=kind, http_status=http_status, reason=reason,
                 detail=detail)

    # -- conditional GET --------------------------------------------------------------------------
    def remember_validators(self, url: str, source: str, status: int, etag: str | None,
                            last_modified: str | None, kind: str | None = None) -> None:
        self._validators[url] = _Validators(source, status, etag, last_modified, kind)

    def not_modified(self, url: str, source: str) -> None:
        self.store.frontier.save_feed_state(url, source=source, status=304)

    def save_validators(self, finished: bool) -> int:
        """Save the validators of this run's listings (see ``__init__``); returns how many."""
        if not finished:
            log.info("crawl did not finish; keeping the previous feed validators")
            return 0
        saved = 0
        for url, v in self._validators.items():
            if v.source in self.limited_sources:
                continue  # candidates left unfetched: read the listing in full next run
            self.store.frontier.save_feed_state(url, source=v.source, status=v.status, etag=v.etag,
                                       last_modified=v.last_modified, kind=v.kind)
            saved += 1
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
