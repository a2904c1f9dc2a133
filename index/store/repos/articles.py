"""Articles: the Article records themselves (JSON in ``data``, key fields as columns)."""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from newsmon.index.core.article import Article, Stage
from newsmon.index.core.times import now_iso, utc_iso
from newsmon.index.store.repos import Repo, chunked, marks

# the columns `count_by` may group on (a column name cannot be a bound parameter)
GROUPABLE = ("source", "lang", "stage", "status")


def _load(data: str) -> Article:
    return Article.from_dict(json.loads(data))


class ArticleRepo(Repo):
    def upsert(self, articles: Iterable[Article], *,
               aliases: dict[str, Iterable[str]] | None = None) -> int:
        """Insert or replace articles (and mark their URLs stored) in one transaction.

        ``aliases`` maps an article id to further URLs that reached it (the URL as discovered
        before redirects, a tracking or AMP variant); they are marked stored in the same
        transaction, so a crash never leaves a URL marked without its article.
        """
        rows = []
        url_rows = []
        now = now_iso()
        aliases = aliases or {}
        for art in articles:
            data = art.to_dict()
            rows.append((
                art.id, art.canonical_url, art.url, art.source, art.lang, art.title,
                utc_iso(art.published), data["status"], data["stage"], data["fetched_at"], now,
                json.dumps(data, ensure_ascii=False),
            ))
            for url in {art.url, art.canonical_url, *aliases.get(art.id, ())}:
                url_rows.append((url, art.id, art.source, now, now))
        if not rows:
            return 0
        with self._tx() as db:
            db.executemany(
                """INSERT INTO articles (id, canonical_url, url, source, lang, title, published,
                       status, stage, fetched_at, updated_at, data)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?)
                   ON CONFLICT(id) DO UPDATE SET url=excluded.url, source=excluded.source,
                       lang=excluded.lang, title=excluded.title, published=excluded.published,
                       status=excluded.status, stage=excluded.stage,
                       fetched_at=excluded.fetched_at, updated_at=excluded.updated_at,
                       data=excluded.data""",
                rows,
            )
            self._store.frontier.mark_stored(url_rows)
        return len(rows)

    def update_enriched(self, articles: Iterable[Article]) -> int:
        """Write enrichment results of existing articles (enrichment never creates one)."""
        now = now_iso()
        rows = [(a.lang, a.title, a.stage.value, now,
                 json.dumps(a.to_dict(), ensure_ascii=False), a.id) for a in articles]
        if rows:
            with self._tx() as db:
                db.executemany("UPDATE articles SET lang=?, title=?, stage=?, updated_at=?, data=?"
                               " WHERE id=?", rows)
        return len(rows)

    def sources(self, ids: Iterable[str]) -> set[str]:
        """The sources of the articles ``ids``."""
        return {r[0] for r in self._rows_in(
            "SELECT DISTINCT source FROM articles WHERE id IN ({ids})", ids)}

    def titles(self, source: str) -> dict[str, tuple[str, dict[str, str]]]:
        """id → (title, title_affix) of every article of ``source``, without loading texts."""
        return {r[0]: (r[1] or "", json.loads(r[2]) if r[2] else {}) for r in self._db.execute(
            f"SELECT id, {self._sql.json_text('data', 'title')}, "
            f"{self._sql.json_text('data', 'title_affix')} FROM articles WHERE source = ?",
            (source,))}

    def ids_of_source(self, source: str) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT id FROM articles WHERE source = ? "
                                                "ORDER BY id", (source,))]

    def delete(self, ids: Iterable[str]) -> int:
        """Delete articles (their vectors, stories and search text go with them); each leaves a
        tombstone in the change feed."""
        n = 0
        with self._tx() as db:
            for chunk in chunked(ids):
                n += db.execute(f"DELETE FROM articles WHERE id IN ({marks(len(chunk))})",
                                chunk).rowcount
        return n

    def get(self, article_id: str) -> Article | None:
        row = self._db.execute("SELECT data FROM articles WHERE id=?", (article_id,)).fetchone()
        return _load(row["data"]) if row else None

    def get_by_url(self, url: str) -> Article | None:
        row = self._db.execute(
            "SELECT a.data FROM urls u JOIN articles a ON a.id=u.article_id WHERE u.url=?", (url,)
        ).fetchone()
        return _load(row["data"]) if row else None

    def get_many(self, ids: Iterable[str]) -> list[Article]:
        """Articles by id, in the order asked (missing ids are left out)."""
        ids = list(ids)
        found = {row["id"]: _load(row["data"]) for row in self._rows_in(
            "SELECT id, data FROM articles WHERE id IN ({ids})", ids)}
        return [found[i] for i in ids if i in found]

    def iter(
        self,
        *,
        since: datetime | None = None,
        stage: Stage | None = None,
        stages: Iterable[Stage] | None = None,
        source: str | None = None,
        batch_size: int = 500,
    ) -> Iterator[Article]:
        """Articles in id order, read in batches so a large store never sits in memory."""
        where, params = [], []
        if since is not None:
            where.append("published >= ?")
            params.append(utc_iso(since))
        if stage is not None:
            stages = [stage]
        if stages is not None:
            stages = list(stages)
            where.append(f"stage IN ({marks(len(stages))})")
            params.extend(s.value for s in stages)
        if source is not None:
            where.append("source = ?")
            params.append(source)
        clause = (" AND " + " AND ".join(where)) if where else ""
        last = ""
        while True:
            rows = self._db.execute(
                f"SELECT id, data FROM articles WHERE id > ?{clause} ORDER BY id LIMIT ?",
                [last, *params, batch_size],
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _load(row["data"])
            last = rows[-1]["id"]

    def ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT id FROM articles ORDER BY id")]

    def count(self, **filters: Any) -> int:
        where, params = [], []
        for key in ("stage", "source", "lang", "status"):
            if filters.get(key) is not None:
                where.append(f"{key} = ?")
                value = filters[key]
                params.append(getattr(value, "value", value))
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        return int(
            self._db.execute(f"SELECT COUNT(*) FROM articles {clause}", params).fetchone()[0])

    def count_by(self, column: str) -> dict[str, int]:
        """Articles per value of ``column`` (source, lang, stage or status); NULL is 'unknown'."""
        if column not in GROUPABLE:
            raise ValueError(f"cannot count articles by {column!r}; allowed: {GROUPABLE}")
        return {(r[0] or "unknown"): int(r[1]) for r in self._db.execute(
            f"SELECT {column}, COUNT(*) FROM articles GROUP BY {column}")}

    def recent_published(self, source: str, limit: int) -> list[str]:
        """The newest ``limit`` publication times (ISO) of ``source``'s articles, newest first."""
        return [r[0] for r in self._db.execute(
            """SELECT published FROM articles WHERE source = ? AND published IS NOT NULL
               ORDER BY published DESC LIMIT ?""", (source, limit))]

    def coverage_per_day(self, since: datetime | None = None,
                         until: datetime | None = None) -> list[dict[str, Any]]:
        """Articles per published day (UTC) and labelled topic:
        ``[{"day": "2026-11-13", "topic": "cyber", "count": 3}, ...]``."""
        where, params = ["a.published IS NOT NULL", self._sql.json_value_true("t.value", "label")], []
        if since is not None:
            where.append("a.published >= ?")
            params.append(utc_iso(since))
        if until is not None:
            where.append("a.published < ?")
            params.append(utc_iso(until))
        rows = self._db.execute(
            f"""SELECT substr(a.published, 1, 10) AS day, t.key AS topic, COUNT(*) AS n
                FROM articles a, {self._sql.json_entries('a.data', 'topics', 't')}
                WHERE {" AND ".join(where)} GROUP BY day, topic ORDER BY day, topic""", params)
        return [{"day": r[0], "topic": r[1], "count": r[2]} for r in rows]

    def enrich_pending(self, version: str) -> list[tuple[str, int]]:
        """(id, text length) of articles not enriched with ``version`` (never, or an older one)."""
        rows = self._db.execute(
            f"""SELECT id, length(title) + length(COALESCE({self._sql.json_text('data', 'text')}, ''))
                   FROM articles
                   WHERE COALESCE({self._sql.json_text('data', 'enrich_version')}, '') != ?
                   ORDER BY id""",
            (version,),
        ).fetchall()
        return [(r[0], int(r[1] or 0)) for r in rows]


__all__ = ["ArticleRepo"]
