"""Crawl health per source: what each source's listings and pages did in its last crawl, when
it last worked, its last error (URL and reason) and how many crawl runs in a row it failed
entirely (every feed, sitemap and section fetch failed). `run`'s summary, `newsmon status` and
`newsmon sources list` read it; the crawl writes it once at its end.

(Not to be confused with ``source_health``, which remembers what source-health *alerts* last
told the user; see newsmon.alerts.health.)
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from newsmon.index.core.times import now_iso
from newsmon.index.store.repos import Repo

# the tables that keep crawl state per source (CrawlHealthRepo.forget)
_SOURCE_TABLES = ("crawl_health", "urls", "feed_state", "fetch_log", "source_blocks",
                  "source_block_articles", "source_health")
# a source's state after a crawl run
OK, DEGRADED, FAILING, NOT_REACHED = "ok", "degraded", "failing", "not reached"


@dataclass(frozen=True, slots=True)
class CrawlError:
    """One failed fetch: which URL, what it was (feed, sitemap, section, robots, article), why."""

    url: str
    kind: str
    reason: str
    http_status: int | None
    detail: str | None
    at: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class SourceTally:
    """What one source's fetches did in this crawl run (kept by the crawl's recorder)."""

    source: str
    listings_ok: int = 0       # feeds, sitemaps, sections, robots.txt answered (or 304)
    listings_failed: int = 0
    pages_failed: int = 0      # article pages that failed (5xx, timeouts) or are gone (404)
    stored: int = 0
    last_success_at: str | None = None
    listing_error: CrawlError | None = None
    page_error: CrawlError | None = None

    @property
    def failed_entirely(self) -> bool:
        """Every listing of the source that was fetched this run failed."""
        return self.listings_failed > 0 and self.listings_ok == 0

    @property
    def state(self) -> str:
        if self.failed_entirely:
            return FAILING
        if self.listings_failed or self.pages_failed:
            return DEGRADED
        return OK if self.listings_ok else NOT_REACHED

    @property
    def error(self) -> CrawlError | None:
        """This run's error to show: a listing's first (it hides articles), else a page's."""
        return self.listing_error or self.page_error


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """A source's health as recorded after its last crawl run."""

    source: str
    state: str                       # ok | degraded | failing | not reached
    last_run_id: int | None
    last_crawl_at: str
    last_success_at: str | None      # the last time one of its listings answered
    consecutive_failures: int        # crawl runs in a row in which every listing failed
    last_error: CrawlError | None    # the latest failure, kept until a newer one
    listings_ok: int = 0             # of its last crawl run
    listings_failed: int = 0
    pages_failed: int = 0
    stored: int = 0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["last_error"] = self.last_error.as_dict() if self.last_error else None
        return out


def _error(raw: str | None) -> CrawlError | None:
    if not raw:
        return None
    return CrawlError(**json.loads(raw))


class CrawlHealthRepo(Repo):
    def record(self, run_id: int, tallies: Iterable[SourceTally]) -> list[SourceHealth]:
        """Fold this run's tallies into each source's health; returns the new health."""
        now = now_iso()
        out = []
        with self._tx() as db:
            for t in tallies:
                before = self.get(t.source)
                streak = before.consecutive_failures if before else 0
                if t.failed_entirely:
                    streak += 1
                elif t.listings_ok:
                    streak = 0
                error = t.error or (before.last_error if before else None)
                health = SourceHealth(
                    source=t.source, state=t.state, last_run_id=run_id, last_crawl_at=now,
                    last_success_at=t.last_success_at or (before.last_success_at
                                                          if before else None),
                    consecutive_failures=streak, last_error=error,
                    listings_ok=t.listings_ok, listings_failed=t.listings_failed,
                    pages_failed=t.pages_failed, stored=t.stored)
                db.execute(
                    """INSERT INTO crawl_health (source, state, last_run_id,
                           last_crawl_at, last_success_at, consecutive_failures, last_error,
                           listings_ok, listings_failed, pages_failed, stored)
                       VALUES (?,?,?,?,?,?,?,?,?,?,?)
                       ON CONFLICT (source) DO UPDATE SET state=excluded.state,
                           last_run_id=excluded.last_run_id,
                           last_crawl_at=excluded.last_crawl_at,
                           last_success_at=excluded.last_success_at,
                           consecutive_failures=excluded.consecutive_failures,
                           last_error=excluded.last_error, listings_ok=excluded.listings_ok,
                           listings_failed=excluded.listings_failed,
                           pages_failed=excluded.pages_failed, stored=excluded.stored""",
                    (health.source, health.state, run_id, now, health.last_success_at, streak,
                     json.dumps(error.as_dict()) if error else None, t.listings_ok,
                     t.listings_failed, t.pages_failed, t.stored))
                out.append(health)
        return out

    def get(self, source: str) -> SourceHealth | None:
        row = self._db.execute("SELECT * FROM crawl_health WHERE source = ?",
                               (source,)).fetchone()
        return self._health(row) if row else None

    def all(self) -> dict[str, SourceHealth]:
        return {r["source"]: self._health(r)
                for r in self._db.execute("SELECT * FROM crawl_health ORDER BY source")}

    def forget(self, source: str) -> dict[str, int]:
        """Drop every crawl trace of a removed source — its health, the URLs decided about,
        its listings' validators, its fetch log, its boilerplate memory and its source-health
        alert state — so a source added again later starts afresh; returns rows per table.
        (Its articles go through ``store.articles.delete``, which leaves change-feed
        tombstones for the search backends.)"""
        out: dict[str, int] = {}
        with self._tx() as db:
            for table in _SOURCE_TABLES:
                out[table] = db.execute(f"DELETE FROM {table} WHERE source = ?",
                                        (source,)).rowcount
        return out

    @staticmethod
    def _health(r: Any) -> SourceHealth:
        return SourceHealth(r["source"], r["state"], r["last_run_id"], r["last_crawl_at"],
                            r["last_success_at"], r["consecutive_failures"],
                            _error(r["last_error"]), r["listings_ok"], r["listings_failed"],
                            r["pages_failed"], r["stored"])


class MaintenanceRepo(Repo):
    """When store-wide chores last ran (the daily quick check): key → value."""

    def get(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM maintenance WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("""INSERT INTO maintenance (key, value, updated_at) VALUES (?,?,?)
                          ON CONFLICT(key) DO UPDATE SET value=excluded.value,
                              updated_at=excluded.updated_at""", (key, value, now_iso()))


__all__ = ["CrawlHealthRepo", "MaintenanceRepo", "SourceTally", "SourceHealth", "CrawlError",
           "OK", "DEGRADED", "FAILING", "NOT_REACHED"]
