"""The crawl frontier: every URL decided about, and conditional-GET validators of listings."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from newsmon.index.core.times import now_iso
from newsmon.index.store.repos import Repo, chunked, marks


@dataclass(frozen=True, slots=True)
class FeedState:
    url: str
    source: str | None
    etag: str | None
    last_modified: str | None
    last_status: int | None
    last_fetched: str | None
    not_modified: int
    kind: str | None


class Frontier(Repo):
    def mark_stored(self, rows: Iterable[tuple[str, str, str, str, str]]) -> None:
        """(url, article_id, source, first_seen, last_seen) rows of URLs that became articles;
        called inside the article write's transaction."""
        with self._tx() as db:
            db.executemany(
                """INSERT INTO urls (url, article_id, source, state, first_seen, last_seen)
                   VALUES (?,?,?,'stored',?,?)
                   ON CONFLICT(url) DO UPDATE SET article_id=excluded.article_id,
                       state='stored', reason=NULL, last_seen=excluded.last_seen""",
                list(rows),
            )

    def first_seen(self, article_ids: Iterable[str]) -> dict[str, str]:
        """article id -> when the first of its URLs was first seen (ISO): when the article was
        first seen, which a re-crawl or correction does not change (first_seen is kept)."""
        return {r[0]: str(r[1]) for r in self._rows_in(
            "SELECT article_id, MIN(first_seen) FROM urls WHERE article_id IN ({ids}) "
            "GROUP BY article_id", article_ids)}

    def known_urls(self, urls: Iterable[str], *, max_attempts: int = 3) -> set[str]:
        """Those of `urls` that must not be fetched again: stored, rejected, or failed too often."""
        known: set[str] = set()
        for chunk in chunked(urls):
            rows = self._db.execute(
                f"""SELECT url FROM urls WHERE url IN ({marks(len(chunk))})
                    AND (state IN ('stored','rejected') OR attempts >= ?)""",
                [*chunk, max_attempts],
            ).fetchall()
            known.update(r["url"] for r in rows)
        return known

    def retry_urls(self, source: str, *, max_attempts: int = 3) -> list[str]:
        """URLs of ``source`` whose fetch failed in an earlier run and may be tried again."""
        return [r["url"] for r in self._db.execute(
            """SELECT url FROM urls WHERE source = ? AND state = 'failed' AND attempts < ?
               ORDER BY last_seen""", (source, max_attempts))]

    def retry_count(self, *, max_attempts: int = 3) -> int:
        """How many URLs, of every source, failed and may be tried again (the crawl's queue)."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM urls WHERE state = 'failed' AND attempts < ?",
            (max_attempts,)).fetchone()
        return int(row[0])

    def stored_sources(self) -> set[str]:
        """The sources that have at least one stored article."""
        return {r[0] for r in self._db.execute(
            "SELECT DISTINCT source FROM urls WHERE state = 'stored' AND source IS NOT NULL")}

    def last_stored(self, source: str) -> str | None:
        """When the newest stored URL of ``source`` was first seen (ISO), None if none is."""
        row = self._db.execute(
            "SELECT MAX(first_seen) FROM urls WHERE source = ? AND state = 'stored'",
            (source,)).fetchone()
        return None if row[0] is None else str(row[0])

    def is_known(self, url: str, *, max_attempts: int = 3) -> bool:
        return bool(self.known_urls([url], max_attempts=max_attempts))

    def mark_url(self, url: str, state: str, *, source: str | None = None,
                 reason: str | None = None, article_id: str | None = None) -> None:
        """Record a decision about a URL that did not become a stored article."""
        now = now_iso()
        with self._tx() as db:
            db.execute(
                """INSERT INTO urls (url, article_id, source, state, reason, first_seen, last_seen)
                   VALUES (?,?,?,?,?,?,?)
                   ON CONFLICT(url) DO UPDATE SET
                       state=CASE WHEN urls.state='stored' THEN 'stored' ELSE excluded.state END,
                       reason=excluded.reason, attempts=urls.attempts+1,
                       last_seen=excluded.last_seen""",
                (url, article_id, source, state, reason, now, now),
            )

    # -- feed validators ----------------------------------------------------------------------
    def feed_state(self, url: str) -> FeedState | None:
        row = self._db.execute(
            """SELECT url, source, etag, last_modified, last_status, last_fetched, not_modified,
                      kind FROM feed_state WHERE url=?""", (url,)).fetchone()
        return FeedState(*row) if row else None

    def feed_validators(self, url: str) -> tuple[str | None, str | None]:
        state = self.feed_state(url)
        return (state.etag, state.last_modified) if state else (None, None)

    def feed_kind(self, url: str) -> str | None:
        """What a listing was when last read ('sitemapindex', 'rss', 'html', …), or None."""
        state = self.feed_state(url)
        return state.kind if state else None

    def feed_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM feed_state").fetchone()[0])

    def save_feed_state(self, url: str, *, source: str | None, status: int,
                        etag: str | None = None, last_modified: str | None = None,
                        kind: str | None = None) -> None:
        now = now_iso()
        not_modified = 1 if status == 304 else 0
        with self._tx() as db:
            db.execute(
                """INSERT INTO feed_state (url, source, etag, last_modified, last_status,
                       last_fetched, not_modified, kind) VALUES (?,?,?,?,?,?,?,?)
                   ON CONFLICT(url) DO UPDATE SET source=excluded.source,
                       kind=COALESCE(excluded.kind, feed_state.kind),
                       etag=COALESCE(excluded.etag, CASE WHEN excluded.last_status=304
                                     THEN feed_state.etag END),
                       last_modified=COALESCE(excluded.last_modified,
                                     CASE WHEN excluded.last_status=304
                                     THEN feed_state.last_modified END),
                       last_status=excluded.last_status, last_fetched=excluded.last_fetched,
                       not_modified=feed_state.not_modified + excluded.not_modified""",
                (url, source, etag, last_modified, status, now, not_modified, kind),
            )


__all__ = ["Frontier", "FeedState"]
