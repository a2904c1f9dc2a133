"""What a crawl did: counters and the reasons behind every skip and failure, kept in Scrapy's
stats collector (``crawler.stats``) under ``newsmon/…`` keys, and read back as one ``CrawlStats``
for the run summary and the run record (which ``newsmon status`` shows)."""
from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["COUNTERS", "CrawlCounters", "CrawlProgress", "CrawlStats"]

COUNTERS = (
    "requests",          # HTTP requests sent (retries and robots.txt included)
    "feeds_fetched",     # feeds, sitemaps, section pages and robots.txt answered with a body
    "not_modified",      # of those, answered 304 to a conditional GET
    "discovered",        # distinct article candidates found this run
    "skipped_known",     # candidates already stored or rejected (never fetched again)
    "fetched_articles",  # article pages downloaded
    "stored",            # articles written to the store
    "flagged",           # stored or seen as paywalled / truncated / challenge
    "rejected",          # not an article, 404/410, not HTML: never tried again
    "failed",            # 5xx, timeouts, network errors, too large: tried again next run
    "robots_blocked",    # requests refused by robots.txt
    "offsite_blocked",   # links or redirects outside the source's domains, never requested
    "listing_failures",  # listings (feeds, sitemaps, sections) that failed: articles may be missed
)
PREFIX = "newsmon/"
REASON_PREFIX = "newsmon/reasons/"
# counters Scrapy keeps itself: requests sent are its downloader's count
SCRAPY_KEYS = {"requests": "downloader/request_count"}


def _key(counter: str) -> str:
    return SCRAPY_KEYS.get(counter, PREFIX + counter)


class StatsCollector(Protocol):  # the part of scrapy.statscollectors.StatsCollector used here
    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None: ...
    def get_value(self, key: str, default: Any = None) -> Any: ...
    def get_stats(self) -> dict[str, Any]: ...


class CrawlCounters:
    """The crawl's counters in a Scrapy stats collector."""

    def __init__(self, collector: StatsCollector) -> None:
        self.collector = collector

    def count(self, counter: str | None, reason: str | None = None, n: int = 1) -> None:
        """Add ``n`` to ``counter`` (one of ``COUNTERS``; None: none) and to ``reason``."""
        if counter is not None:
            if counter not in COUNTERS or counter in SCRAPY_KEYS:
                raise KeyError(f"not a crawl counter of newsmon's: {counter!r}")
            self.collector.inc_value(PREFIX + counter, n)
        if reason:
            self.collector.inc_value(REASON_PREFIX + reason, n)

    def get(self, counter: str) -> int:
        return int(self.collector.get_value(_key(counter), 0))

    def counts(self) -> dict[str, int]:
        """The counters alone, with the names a progress display leads with."""
        out = {name: self.get(name) for name in COUNTERS if name != "listing_failures"}
        out["fetched"] = out.pop("fetched_articles")
        return out

    def result(self, finish_reason: str = "") -> CrawlStats:
        stats = self.collector.get_stats()
        out = CrawlStats(
            reasons={k[len(REASON_PREFIX):]: int(v) for k, v in stats.items()
                     if k.startswith(REASON_PREFIX)},
            finish_reason=finish_reason or str(stats.get("finish_reason") or ""),
        )
        for name in COUNTERS:
            setattr(out, name, int(stats.get(_key(name), 0)))
        return out


@dataclass(slots=True)
class CrawlStats:
    """One crawl's outcome: the run summary, and what the run record keeps."""

    requests: int = 0
    feeds_fetched: int = 0
    not_modified: int = 0
    discovered: int = 0
    skipped_known: int = 0
    fetched_articles: int = 0
    stored: int = 0
    flagged: int = 0
    rejected: int = 0
    failed: int = 0
    robots_blocked: int = 0
    offsite_blocked: int = 0
    listing_failures: int = 0
    # reason code → count, over every skip, rejection and failure ("http_404": 2, "timeout": 1)
    reasons: dict[str, int] = field(default_factory=dict)
    finish_reason: str = ""
    # per crawled source, its health after this run (SourceHealth.as_dict()), in source order
    health: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed_sources(self) -> list[str]:
        """Sources every listing of which failed this run: their news is missed entirely."""
        return [h["source"] for h in self.health if h.get("state") == "failing"]

    @property
    def ok(self) -> bool:
        """False when anything failed (a fetch, a listing, or the crawl itself stopped early)."""
        return (self.failed == 0 and self.listing_failures == 0
                and self.finish_reason in ("", "finished"))

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["reasons"] = dict(Counter(self.reasons).most_common())
        out["ok"] = self.ok
        return out


@dataclass(frozen=True, slots=True)
class CrawlProgress:
    """A snapshot handed to the ``progress`` callback of ``run_crawl`` about once a second."""

    elapsed_s: float
    counts: dict[str, int]  # CrawlCounters.counts(): fetched, stored, not_modified, rejected, …
    pending_requests: int  # requests scheduled or downloading
    extracting: int  # pages handed to extraction workers and not yet back
    unflushed: int  # extracted articles waiting for the next store batch
