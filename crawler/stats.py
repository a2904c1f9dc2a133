"""What a crawl did: counters, the reasons behind every skip and failure, and progress snapshots."""
from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CrawlStats", "CrawlProgress", "COUNTERS"]

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
)


@dataclass(slots=True)
class CrawlStats:
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
    # reason code → count, over every skip, rejection and failure ("http_404": 2, "timeout": 1)
    reasons: dict[str, int] = field(default_factory=dict)
    # listings (feeds, sitemaps, sections) that failed: their articles may have been missed
    listing_failures: int = 0
    finish_reason: str = ""

    def count(self, counter: str, reason: str | None = None, n: int = 1) -> None:
        setattr(self, counter, getattr(self, counter) + n)
        if reason:
            self.reasons[reason] = self.reasons.get(reason, 0) + n

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

    def counts(self) -> dict[str, int]:
        """The counters alone, with the names a progress display leads with."""
        out = {name: getattr(self, name) for name in COUNTERS}
        out["fetched"] = out.pop("fetched_articles")
        return out


@dataclass(frozen=True, slots=True)
class CrawlProgress:
    """A snapshot handed to the ``progress`` callback of ``run_crawl`` about once a second."""

    elapsed_s: float
    counts: dict[str, int]  # CrawlStats.counts(): fetched, stored, not_modified, rejected, failed, …
    pending_requests: int  # requests scheduled or downloading
    extracting: int  # pages handed to extraction workers and not yet back
    unflushed: int  # extracted articles waiting for the next store batch
