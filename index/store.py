"""The store of record: one SQLite file (WAL) holding articles, crawl state, the fetch log and runs.

Every other index (the embedded search tables, Elasticsearch) can be rebuilt from it. Writes are
batched and keyed by deterministic ids, so a rerun is an upsert and a kill -9 loses at most the
batch in flight.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from newsmon.index.article import Article, Stage
from newsmon.index.errors import StoreError

log = logging.getLogger(__name__)

# Each entry upgrades the schema by one version; never edit a released entry, append a new one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE articles (
        id TEXT PRIMARY KEY,
        canonical_url TEXT NOT NULL UNIQUE,
        url TEXT NOT NULL,
        source TEXT NOT NULL,
        lang TEXT,
        title TEXT NOT NULL DEFAULT '',
        published TEXT,
        status TEXT NOT NULL,
        stage TEXT NOT NULL,
        fetched_at TEXT,
        updated_at TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX articles_stage ON articles(stage);
    CREATE INDEX articles_source ON articles(source);
    CREATE INDEX articles_published ON articles(published);

    -- every URL we have decided about; 'stored' and 'rejected' are never fetched again
    CREATE TABLE urls (
        url TEXT PRIMARY KEY,
        article_id TEXT,
        source TEXT,
        state TEXT NOT NULL CHECK (state IN ('stored', 'rejected', 'failed')),
        reason TEXT,
        attempts INTEGER NOT NULL DEFAULT 1,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL
    );

    -- conditional-GET validators of feeds, sitemaps and section pages
    CREATE TABLE feed_state (
        url TEXT PRIMARY KEY,
        source TEXT,
        etag TEXT,
        last_modified TEXT,
        last_status INTEGER,
        last_fetched TEXT,
        not_modified INTEGER NOT NULL DEFAULT 0,
        kind TEXT  -- what the listing turned out to be: rss, atom, sitemapindex, urlset, html…
    );

    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        command TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL DEFAULT 'running',
        stats TEXT NOT NULL DEFAULT '{}'
    );

    CREATE TABLE fetch_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER,
        at TEXT NOT NULL,
        url TEXT NOT NULL,
        source TEXT,
        kind TEXT,
        http_status INTEGER,
        outcome TEXT NOT NULL,
        reason TEXT,
        detail TEXT
    );
    CREATE INDEX fetch_log_run ON fetch_log(run_id);
    CREATE INDEX fetch_log_outcome ON fetch_log(outcome, reason);
    """,
    # 2: enrichment (embeddings, near-duplicate fingerprints, story membership)
    """
    -- one document vector per article, and the model that made it: vectors of two models are
    -- never compared; a model change replaces the row
    CREATE TABLE embeddings (
        article_id TEXT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        dim INTEGER NOT NULL,
        vector BLOB NOT NULL,
        chunks BLOB NOT NULL,
        n_chunks INTEGER NOT NULL,
        has_title INTEGER NOT NULL,
        lang TEXT,
        published TEXT,
        text_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX embeddings_model ON embeddings(model, lang, published);

    CREATE TABLE fingerprints (
        article_id TEXT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        signature BLOB NOT NULL,
        text_hash TEXT NOT NULL
    );

    CREATE TABLE story_members (
        article_id TEXT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
        story TEXT NOT NULL,
        lang TEXT,
        published TEXT,
        how TEXT NOT NULL,
        score REAL,
        via TEXT,
        assigned_at TEXT NOT NULL
    );
    CREATE INDEX story_members_story ON story_members(story);
    CREATE INDEX story_members_published ON story_members(published);
    """,
]

# outcomes written to fetch_log
STORED, NOT_MODIFIED, DISCOVERED, REJECTED, FAILED, SKIPPED = (
    "stored", "not_modified", "discovered", "rejected", "failed", "skipped",
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _utc_iso(value: datetime | None) -> str | None:
    """Instants are stored in UTC so that text comparison in SQL orders them correctly."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


def _now() -> str:
    return utcnow().isoformat(timespec="seconds")


class Store:
    """Store of record. Thread-safe for the simple calls; one connection per Store object."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(
                str(self.path), timeout=30, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:  # pragma: no cover - depends on the file system
            raise StoreError(f"cannot open store {self.path}: {exc}") from exc
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    # -- plumbing -----------------------------------------------------------------------------
    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"store {self.path} has schema version {version}, newer than this newsmon "
                f"({len(MIGRATIONS)}); upgrade newsmon"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction() as db:
                for statement in _statements(script):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version={number}")
            log.info("store %s migrated to schema %d", self.path, number)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    @property
    def connection(self) -> sqlite3.Connection:
        """The raw connection, for backends that keep their tables in the same file."""
        return self._db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- articles -----------------------------------------------------------------------------
    def upsert_articles(self, articles: Iterable[Article], *,
                        aliases: dict[str, Iterable[str]] | None = None) -> int:
        """Insert or replace articles (and mark their URLs stored) in one transaction.

        ``aliases`` maps an article id to further URLs that reached it (the URL as discovered
        before redirects, a tracking or AMP variant); they are marked stored in the same
        transaction, so a crash never leaves a URL marked without its article.
        """
        rows = []
        url_rows = []
        now = _now()
        aliases = aliases or {}
        for art in articles:
            data = art.to_dict()
            rows.append((
                art.id, art.canonical_url, art.url, art.source, art.lang, art.title,
                _utc_iso(art.published), data["status"], data["stage"], data["fetched_at"], now,
                json.dumps(data, ensure_ascii=False),
            ))
            for url in {art.url, art.canonical_url, *aliases.get(art.id, ())}:
                url_rows.append((url, art.id, art.source, now, now))
        if not rows:
            return 0
        with self.transaction() as db:
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
            db.executemany(
                """INSERT INTO urls (url, article_id, source, state, first_seen, last_seen)
                   VALUES (?,?,?,'stored',?,?)
                   ON CONFLICT(url) DO UPDATE SET article_id=excluded.article_id,
                       state='stored', reason=NULL, last_seen=excluded.last_seen""",
                url_rows,
            )
        return len(rows)

    def get(self, article_id: str) -> Article | None:
        row = self._db.execute("SELECT data FROM articles WHERE id=?", (article_id,)).fetchone()
        return Article.from_dict(json.loads(row["data"])) if row else None

    def get_by_url(self, url: str) -> Article | None:
        row = self._db.execute(
            "SELECT a.data FROM urls u JOIN articles a ON a.id=u.article_id WHERE u.url=?", (url,)
        ).fetchone()
        return Article.from_dict(json.loads(row["data"])) if row else None

    def iter_articles(
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
            params.append(_utc_iso(since))
        if stage is not None:
            stages = [stage]
        if stages is not None:
            stages = list(stages)
            where.append(f"stage IN ({','.join('?' * len(stages))})")
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
                yield Article.from_dict(json.loads(row["data"]))
            last = rows[-1]["id"]

    def count_articles(self, **filters: Any) -> int:
        where, params = [], []
        for key in ("stage", "source", "lang", "status"):
            if filters.get(key) is not None:
                where.append(f"{key} = ?")
                value = filters[key]
                params.append(getattr(value, "value", value))
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        return self._db.execute(f"SELECT COUNT(*) FROM articles {clause}", params).fetchone()[0]

    # -- URLs ---------------------------------------------------------------------------------
    def known_urls(self, urls: Iterable[str], *, max_attempts: int = 3) -> set[str]:
        """Those of `urls` that must not be fetched again: stored, rejected, or failed too often."""
        urls = list(urls)
        known: set[str] = set()
        for start in range(0, len(urls), 500):
            chunk = urls[start:start + 500]
            rows = self._db.execute(
                f"""SELECT url FROM urls WHERE url IN ({','.join('?' * len(chunk))})
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

    def is_known(self, url: str, *, max_attempts: int = 3) -> bool:
        return bool(self.known_urls([url], max_attempts=max_attempts))

    def mark_url(self, url: str, state: str, *, source: str | None = None,
                 reason: str | None = None, article_id: str | None = None) -> None:
        """Record a decision about a URL that did not become a stored article."""
        now = _now()
        with self.transaction() as db:
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
    def feed_validators(self, url: str) -> tuple[str | None, str | None]:
        row = self._db.execute(
            "SELECT etag, last_modified FROM feed_state WHERE url=?", (url,)
        ).fetchone()
        return (row["etag"], row["last_modified"]) if row else (None, None)

    def feed_kind(self, url: str) -> str | None:
        """What a listing was when last read ('sitemapindex', 'rss', 'html', …), or None."""
        row = self._db.execute("SELECT kind FROM feed_state WHERE url=?", (url,)).fetchone()
        return row["kind"] if row else None

    def save_feed_state(self, url: str, *, source: str | None, status: int,
                        etag: str | None = None, last_modified: str | None = None,
                        kind: str | None = None) -> None:
        now = _now()
        not_modified = 1 if status == 304 else 0
        with self.transaction() as db:
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

    # -- runs and the fetch log ---------------------------------------------------------------
    def start_run(self, command: str) -> int:
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO runs (command, started_at) VALUES (?, ?)", (command, _now())
            )
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, status: str, stats: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at=?, status=?, stats=? WHERE id=?",
                (_now(), status, json.dumps(stats, default=str, sort_keys=True), run_id),
            )

    def log_fetch(self, url: str, outcome: str, *, run_id: int | None = None,
                  source: str | None = None, kind: str | None = None,
                  http_status: int | None = None, reason: str | None = None,
                  detail: str | None = None) -> None:
        with self.transaction() as db:
            db.execute(
                """INSERT INTO fetch_log (run_id, at, url, source, kind, http_status, outcome,
                       reason, detail) VALUES (?,?,?,?,?,?,?,?,?)""",
                (run_id, _now(), url, source, kind, http_status, outcome, reason,
                 (detail or "")[:2000] or None),
            )

    def fetch_log(self, *, run_id: int | None = None, outcome: str | None = None) -> list[dict]:
        where, params = [], []
        if run_id is not None:
            where.append("run_id = ?")
            params.append(run_id)
        if outcome is not None:
            where.append("outcome = ?")
            params.append(outcome)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        return [dict(r) for r in self._db.execute(
            f"SELECT * FROM fetch_log {clause} ORDER BY id", params)]

    def last_run(self, command: str | None = None) -> dict | None:
        sql = "SELECT * FROM runs"
        params: list[Any] = []
        if command:
            sql += " WHERE command = ?"
            params.append(command)
        row = self._db.execute(sql + " ORDER BY id DESC LIMIT 1", params).fetchone()
        if not row:
            return None
        out = dict(row)
        out["stats"] = json.loads(out["stats"])
        return out

    # -- enrichment ---------------------------------------------------------------------------
    def enrich_pending(self, version: str) -> list[tuple[str, int]]:
        """(id, text length) of articles not enriched with ``version`` (never, or an older one)."""
        rows = self._db.execute(
            """SELECT id, length(title) + length(COALESCE(json_extract(data, '$.text'), ''))
                   FROM articles
                   WHERE COALESCE(json_extract(data, '$.enrich_version'), '') != ?
                   ORDER BY id""",
            (version,),
        ).fetchall()
        return [(r[0], int(r[1] or 0)) for r in rows]

    def get_many(self, ids: Iterable[str]) -> list[Article]:
        """Articles by id, in the order asked (missing ids are left out)."""
        ids = list(ids)
        found: dict[str, Article] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for row in self._db.execute(
                f"SELECT id, data FROM articles WHERE id IN ({','.join('?' * len(chunk))})",
                chunk,
            ):
                found[row["id"]] = Article.from_dict(json.loads(row["data"]))
        return [found[i] for i in ids if i in found]

    def embedding_hashes(self, ids: Iterable[str], model: str) -> dict[str, str]:
        """article id -> text hash of its stored vector, for vectors made by ``model`` only."""
        ids = list(ids)
        out: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            out.update((r[0], r[1]) for r in self._db.execute(
                f"""SELECT article_id, text_hash FROM embeddings WHERE model = ?
                    AND article_id IN ({','.join('?' * len(chunk))})""", [model, *chunk]))
        return out

    def save_embeddings(self, rows: Iterable[dict[str, Any]]) -> int:
        """Store vectors and fingerprints of a batch in one transaction.

        Each row: article_id, model, vector (dim,), chunks (n, dim), has_title, lang,
        published (datetime or None), text_hash, fingerprint_kind, signature (bytes).
        """
        now = _now()
        emb, fps = [], []
        for r in rows:
            vector = np.asarray(r["vector"], dtype="<f4")
            chunks = np.asarray(r["chunks"], dtype="<f4")
            if chunks.ndim != 2 or chunks.shape[1] != vector.shape[0]:
                raise StoreError(f"article {r['article_id']}: chunk vectors of shape "
                                 f"{chunks.shape} do not match a vector of {vector.shape[0]}")
            emb.append((r["article_id"], r["model"], int(vector.shape[0]), vector.tobytes(),
                        chunks.tobytes(), int(chunks.shape[0]), int(bool(r["has_title"])),
                        r.get("lang"), _utc_iso(r.get("published")), r["text_hash"], now))
            fps.append((r["article_id"], r["fingerprint_kind"], bytes(r["signature"]),
                        r["text_hash"]))
        if not emb:
            return 0
        with self.transaction() as db:
            db.executemany(
                """INSERT INTO embeddings (article_id, model, dim, vector, chunks, n_chunks,
                       has_title, lang, published, text_hash, created_at)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?)
                   ON CONFLICT(article_id) DO UPDATE SET model=excluded.model,
                       dim=excluded.dim, vector=excluded.vector, chunks=excluded.chunks,
                       n_chunks=excluded.n_chunks, has_title=excluded.has_title,
                       lang=excluded.lang, published=excluded.published,
                       text_hash=excluded.text_hash, created_at=excluded.created_at""",
                emb,
            )
            db.executemany(
                """INSERT INTO fingerprints (article_id, kind, signature, text_hash)
                   VALUES (?,?,?,?)
                   ON CONFLICT(article_id) DO UPDATE SET kind=excluded.kind,
                       signature=excluded.signature, text_hash=excluded.text_hash""",
                fps,
            )
        return len(emb)

    def get_vectors(self, ids: Iterable[str], model: str) -> dict[str, np.ndarray]:
        """Document vectors of ``model`` by article id (articles without one are left out)."""
        ids = list(ids)
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for r in self._db.execute(
                f"""SELECT article_id, vector FROM embeddings WHERE model = ?
                    AND article_id IN ({','.join('?' * len(chunk))})""", [model, *chunk]):
                out[r[0]] = np.frombuffer(r[1], dtype="<f4").astype(np.float32)
        return out

    def iter_vectors(self, model: str, *, batch_size: int = 1000
                     ) -> Iterator[tuple[str, np.ndarray]]:
        """(article id, document vector) of every article embedded by ``model``, in id order."""
        last = ""
        while True:
            rows = self._db.execute(
                """SELECT article_id, vector FROM embeddings WHERE model = ? AND article_id > ?
                   ORDER BY article_id LIMIT ?""", (model, last, batch_size)).fetchall()
            if not rows:
                return
            for r in rows:
                yield r[0], np.frombuffer(r[1], dtype="<f4").astype(np.float32)
            last = rows[-1][0]

    def iter_chunk_vectors(self, model: str, lang: str, *, newest: int,
                           batch_size: int = 500) -> Iterator[np.ndarray]:
        """Chunk matrices of the ``newest`` articles of one language embedded by ``model``."""
        offset = 0
        while offset < newest:
            rows = self._db.execute(
                """SELECT chunks, n_chunks, dim FROM embeddings WHERE model = ? AND lang = ?
                   ORDER BY published DESC, article_id DESC LIMIT ? OFFSET ?""",
                (model, lang, min(batch_size, newest - offset), offset)).fetchall()
            if not rows:
                return
            for r in rows:
                yield np.frombuffer(r[0], dtype="<f4").reshape(r[1], r[2])
            offset += len(rows)

    def embedding_langs(self, model: str) -> list[str]:
        return [r[0] for r in self._db.execute(
            "SELECT DISTINCT lang FROM embeddings WHERE model = ? AND lang IS NOT NULL "
            "ORDER BY lang", (model,))]

    def story_pool(self, model: str, fingerprint_kind: str, since: datetime,
                   until: datetime) -> list[dict[str, Any]]:
        """Articles with a story published in [since, until], with what assignment compares."""
        rows = self._db.execute(
            """SELECT s.article_id, s.story, s.lang, s.published, e.chunks, e.n_chunks, e.dim,
                      e.has_title, f.signature, f.kind
               FROM story_members s
               JOIN embeddings e ON e.article_id = s.article_id AND e.model = ?
               JOIN fingerprints f ON f.article_id = s.article_id
               WHERE s.published >= ? AND s.published <= ?
               ORDER BY s.published, s.article_id""",
            (model, _utc_iso(since), _utc_iso(until)),
        ).fetchall()
        out = []
        for r in rows:
            out.append({
                "article_id": r["article_id"], "story": r["story"], "lang": r["lang"],
                "published": datetime.fromisoformat(r["published"]) if r["published"] else None,
                "chunks": np.frombuffer(r["chunks"], dtype="<f4").reshape(r["n_chunks"],
                                                                            r["dim"]),
                "has_title": bool(r["has_title"]),
                "signature": (bytes(r["signature"]) if r["kind"] == fingerprint_kind
                              else None),
            })
        return out

    def story_pool_rows(self, ids: Iterable[str], model: str,
                        fingerprint_kind: str) -> list[dict[str, Any]]:
        """What story assignment compares, for given articles (no story needed yet)."""
        ids = list(ids)
        out = []
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for r in self._db.execute(
                f"""SELECT e.article_id, e.lang, e.published, e.chunks, e.n_chunks, e.dim,
                           e.has_title, f.signature, f.kind
                    FROM embeddings e LEFT JOIN fingerprints f ON f.article_id = e.article_id
                    WHERE e.model = ? AND e.article_id IN ({','.join('?' * len(chunk))})""",
                    [model, *chunk]):
                out.append({
                    "article_id": r["article_id"], "lang": r["lang"],
                    "published": (datetime.fromisoformat(r["published"]) if r["published"]
                                  else None),
                    "chunks": np.frombuffer(r["chunks"], dtype="<f4").reshape(r["n_chunks"],
                                                                                r["dim"]),
                    "has_title": bool(r["has_title"]),
                    "signature": (bytes(r["signature"]) if r["kind"] == fingerprint_kind
                                  else None),
                })
        return out

    def clear_stories(self, ids: Iterable[str]) -> None:
        """Forget the story membership of articles about to be re-enriched."""
        ids = list(ids)
        with self.transaction() as db:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                db.execute(f"DELETE FROM story_members WHERE article_id IN "
                           f"({','.join('?' * len(chunk))})", chunk)

    def save_enriched(self, articles: Iterable[Article],
                      members: Iterable[dict[str, Any]]) -> int:
        """Write enriched articles and their story membership in one transaction.

        Only existing articles are updated (enrichment never creates one). Each member:
        article_id, story, lang, published (datetime or None), how, score, via.
        """
        now = _now()
        rows = [(a.lang, a.stage.value, now, json.dumps(a.to_dict(), ensure_ascii=False), a.id)
                for a in articles]
        member_rows = [(m["article_id"], m["story"], m.get("lang"), _utc_iso(m.get("published")),
                        m["how"], m.get("score"), m.get("via"), now) for m in members]
        if not rows:
            return 0
        with self.transaction() as db:
            db.executemany(
                "UPDATE articles SET lang=?, stage=?, updated_at=?, data=? WHERE id=?", rows)
            db.executemany(
                """INSERT INTO story_members (article_id, story, lang, published, how, score,
                       via, assigned_at) VALUES (?,?,?,?,?,?,?,?)
                   ON CONFLICT(article_id) DO UPDATE SET story=excluded.story,
                       lang=excluded.lang, published=excluded.published, how=excluded.how,
                       score=excluded.score, via=excluded.via,
                       assigned_at=excluded.assigned_at""",
                member_rows,
            )
        return len(rows)

    def story_members(self, story: str) -> list[str]:
        """Article ids of one story, in published order."""
        return [r[0] for r in self._db.execute(
            "SELECT article_id FROM story_members WHERE story = ? ORDER BY published, article_id",
            (story,))]

    def stories(self) -> dict[str, str]:
        """article id -> story id, for every article that has one."""
        return {r[0]: r[1] for r in self._db.execute(
            "SELECT article_id, story FROM story_members")}

    def status(self) -> dict[str, Any]:
        """Counts for `newsmon status`."""
        db = self._db
        by = lambda col: {  # noqa: E731
            (r[0] or "unknown"): r[1]
            for r in db.execute(f"SELECT {col}, COUNT(*) FROM articles GROUP BY {col}")
        }
        failures = {
            f"{r['outcome']}:{r['reason']}": r["n"]
            for r in db.execute(
                """SELECT outcome, reason, COUNT(*) AS n FROM fetch_log
                   WHERE outcome IN ('failed','rejected') GROUP BY outcome, reason
                   ORDER BY n DESC"""
            )
        }
        return {
            "store": str(self.path),
            "articles": db.execute("SELECT COUNT(*) FROM articles").fetchone()[0],
            "by_source": by("source"),
            "by_lang": by("lang"),
            "by_stage": by("stage"),
            "by_status": by("status"),
            "feeds": db.execute("SELECT COUNT(*) FROM feed_state").fetchone()[0],
            "failures_by_reason": failures,
            "last_run": self.last_run(),
        }


def _statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit our transaction)."""
    lines = [ln for ln in script.splitlines() if not ln.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
