"""The embedded search backend: inside the store-of-record file, zero servers.

- Keyword: FTS5 over the pre-computed tokens (title and body columns), ranked by FTS5's BM25
  (k1 1.2, b 0.75, title weighted 2), filters applied in the same SQL statement. A long-lived
  process (`newsmon serve`) answers from an in-memory copy of the postings instead, with the
  same scores (index/keyword_cache.py): FTS5 scores every row holding any query term, which
  costs hundreds of milliseconds at 100k articles when the terms are common.
- Semantic: exact cosine search with numpy over a matrix of the document vectors, read from
  ``search_docs`` once and re-read when the index has changed (``search_meta.version``). At
  100k articles it costs about what a bare numpy product costs (BENCHMARKS.md, "Search
  latency"), so no ANN library is needed; the matrix is a cache that is rebuilt from the store
  whenever it is missing or stale.

Writes happen inside the caller's store transaction, so the documents and the backend's cursor
commit together: a kill -9 during ``newsmon index`` loses nothing and duplicates nothing.
Any text is a valid query: tokens are quoted for FTS5 (``"`` doubled), never parsed as syntax.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from newsmon.index.core.codec import vector_from_bytes, vector_to_bytes
from newsmon.index.core.times import utc_iso
from newsmon.index.search.backend import FACETS, Filters, Hit, IndexDoc
from newsmon.index.search.keyword_cache import KeywordCache, single_term
from newsmon.index.store import Store
from newsmon.index.store.repos import chunked, marks

log = logging.getLogger(__name__)

TITLE_WEIGHT = 2.0
DOC_COLUMNS = "d.article_id, d.url, d.title, d.body, d.lang, d.source, d.published, d.story, " \
              "d.topics, d.entities"
# search results carry every field but the body (the caller reads the few bodies it shows
# from the store's search text; ranking 200 candidates need not move 200 bodies)
HIT_COLUMNS = DOC_COLUMNS.replace("d.body", "''")


def fts_query(tokens: Sequence[str]) -> str:
    """An FTS5 query matching any of ``tokens``: each one a quoted string, so that user text
    (quotes, ``*``, ``-``, ``NEAR``, ``AND``, parentheses) is never read as FTS5 syntax."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in tokens)


def _doc(row: Sequence[Any]) -> dict[str, Any]:
    return {"id": row[0], "url": row[1], "title": row[2], "body": row[3], "lang": row[4],
            "source": row[5], "published": row[6], "story": row[7],
            "topics": json.loads(row[8]), "entities": json.loads(row[9])}


def _where(f: Filters, alias: str = "d") -> tuple[str, list[Any]]:
    """SQL conditions (joined by AND, starting with AND) for the filters."""
    sql: list[str] = []
    args: list[Any] = []
    if f.lang:
        sql.append(f"{alias}.lang = ?")
        args.append(f.lang)
    if f.sources:
        sql.append(f"{alias}.source IN ({marks(len(f.sources))})")
        args.extend(f.sources)
    for topic in f.topics:
        sql.append(f"json_extract({alias}.topics, '$.\"' || ? || '\"') >= ?")
        args.extend([topic, f.min_topic_score if f.min_topic_score is not None else -1.0])
    for entity in f.entity_keys:
        sql.append(f"EXISTS (SELECT 1 FROM json_each({alias}.entities) WHERE value = ?)")
        args.append(entity)
    if f.since is not None:
        sql.append(f"{alias}.published >= ?")
        args.append(utc_iso(f.since))
    if f.until is not None:
        sql.append(f"{alias}.published < ?")
        args.append(utc_iso(f.until))
    if f.ids is not None:
        sql.append(f"{alias}.article_id IN (SELECT value FROM json_each(?))")
        args.append(json.dumps(list(f.ids)))
    return "".join(" AND " + s for s in sql), args


@dataclass(slots=True)
class _Matrix:
    """The semantic-search cache: vectors and filter columns of one model's documents."""

    version: int
    rowids: np.ndarray
    vectors: np.ndarray          # (n, dim) float32, L2-normalised by the embedder
    lang: np.ndarray
    source: np.ndarray
    published: np.ndarray        # ISO strings ('' when unknown), compared as text like SQL
    topics: list[dict[str, float]]
    entities: list[frozenset[str]]
    ids: np.ndarray
    masks: dict[Filters, np.ndarray | None] = field(default_factory=dict)  # see _mask


def _out_of_step(doc_rowid: int, fts_rowid: int) -> bool:
    raise RuntimeError(f"search_docs row {doc_rowid} has no FTS row (found {fts_rowid}); "
                       f"rebuild the index: newsmon index --rebuild")


class EmbeddedBackend:
    name = "sqlite"
    cursor_name = "backend:sqlite"

    def __init__(self, store: Store, *, keyword_cache: bool = False,
                 build_in_background: bool = True) -> None:
        """``keyword_cache``: answer keyword queries from an in-memory BM25 cache
        (index/keyword_cache.py) once it is built for the index's current version, for a
        long-lived process such as `newsmon serve`. Until then FTS5 answers; the cache is
        built on a thread of its own (or at once, with ``build_in_background=False``)."""
        self.store = store
        self._db = store.connection
        self._matrix: _Matrix | None = None
        self._matrix_lock = threading.Lock()
        self._gen = 0
        self._keyword_cache = keyword_cache
        self._kw_background = build_in_background
        self._kw: KeywordCache | None = None
        self._kw_building: threading.Thread | None = None
        self._kw_lock = threading.Lock()

    # -- metadata -----------------------------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM search_meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, db: Any, key: str, value: str | None) -> None:
        if value is None:
            db.execute("DELETE FROM search_meta WHERE key = ?", (key,))
        else:
            db.execute("INSERT INTO search_meta (key, value) VALUES (?, ?) ON CONFLICT(key) "
                       "DO UPDATE SET value = excluded.value", (key, value))

    def _bump(self, db: Any) -> None:
        db.execute("INSERT INTO search_meta (key, value) VALUES ('version', '1') "
                   "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    def model(self) -> str | None:
        return self._meta("model")

    def version(self) -> int:
        return int(self._meta("version") or 0)

    # -- writing ------------------------------------------------------------------------------
    def prepare(self, model: str | None, dim: int | None, *, rebuild: bool = False) -> bool:
        """Make the index ready for documents of ``model``. True when a full build is needed:
        asked for, a different model or dimension, or an earlier build that did not finish.

        A full build writes a new generation over the old rows in place (no window with an
        empty index); ``finish`` then drops rows of older generations.
        """
        same = (self._meta("model") == model and self._meta("dim") == (str(dim) if dim else None)
                and self._meta("building") is None)
        current = int(self._meta("gen") or 0)
        if same and not rebuild:
            self._gen = current
            return False
        self._gen = int(self._meta("building") or current + 1)
        with self.store.transaction() as db:
            self._set_meta(db, "building", str(self._gen))
            self._set_meta(db, "model", model)
            self._set_meta(db, "dim", str(dim) if dim else None)
        return True

    def upsert(self, docs: Sequence[IndexDoc]) -> int:
        with self.store.transaction() as db:
            for d in docs:
                row = (d.id, d.url, d.title, d.body, d.lang, d.source, utc_iso(d.published),
                       d.story, json.dumps(d.topics, ensure_ascii=False),
                       json.dumps(list(d.entities), ensure_ascii=False), d.model,
                       vector_to_bytes(d.vector) if d.vector is not None else None, self._gen)
                rowid = db.execute(
                    """INSERT INTO search_docs (article_id, url, title, body, lang, source,
                           published, story, topics, entities, model, vector, gen)
                       VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
                       ON CONFLICT(article_id) DO UPDATE SET url=excluded.url,
                           title=excluded.title, body=excluded.body, lang=excluded.lang,
                           source=excluded.source, published=excluded.published,
                           story=excluded.story, topics=excluded.topics,
                           entities=excluded.entities, model=excluded.model,
                           vector=excluded.vector, gen=excluded.gen
                       RETURNING rowid""", row).fetchone()[0]
                db.execute("DELETE FROM search_fts WHERE rowid = ?", (rowid,))
                db.execute("INSERT INTO search_fts (rowid, title, body) VALUES (?,?,?)",
                           (rowid, d.title_tokens, d.body_tokens))
            if docs:
                self._bump(db)
        return len(docs)

    def delete(self, ids: Iterable[str]) -> int:
        n = 0
        with self.store.transaction() as db:
            for chunk in chunked(ids):
                q = f"SELECT rowid FROM search_docs WHERE article_id IN ({marks(len(chunk))})"
                rowids = [r[0] for r in db.execute(q, chunk)]
                for rc in chunked(rowids):
                    db.execute(f"DELETE FROM search_fts WHERE rowid IN ({marks(len(rc))})", rc)
                    n += db.execute(f"DELETE FROM search_docs WHERE rowid IN ({marks(len(rc))})",
                                    rc).rowcount
            if n:
                self._bump(db)
        return n

    def finish(self) -> None:
        """End a full build: rows of older generations (articles gone meanwhile) go."""
        building = self._meta("building")
        if building is None:
            return
        with self.store.transaction() as db:
            stale = [r[0] for r in db.execute("SELECT article_id FROM search_docs WHERE gen < ?",
                                              (int(building),))]
            self.delete(stale)
            self._set_meta(db, "gen", building)
            self._set_meta(db, "building", None)
            self._bump(db)

    # -- reading ------------------------------------------------------------------------------
    def get(self, article_id: str) -> dict[str, Any] | None:
        row = self._db.execute(f"SELECT {DOC_COLUMNS} FROM search_docs d WHERE article_id = ?",
                               (article_id,)).fetchone()
        return _doc(row) if row else None

    def count(self, filters: Filters | None = None) -> int:
        where, args = _where(filters or Filters())
        return self._db.execute(f"SELECT COUNT(*) FROM search_docs d WHERE 1{where}",
                                args).fetchone()[0]

    def ids(self) -> list[str]:
        return [r[0] for r in self._db.execute(
            "SELECT article_id FROM search_docs ORDER BY article_id")]

    def keyword(self, tokens: Sequence[str], filters: Filters, k: int, *,
                text: str = "") -> list[Hit]:
        """``text`` (the query as typed) is not used: this backend ranks newsmon's tokens."""
        if not tokens:
            return []
        cache = self._current_keyword_cache()
        terms = [single_term(t) for t in tokens] if cache is not None else []
        if cache is not None and all(terms):
            return self._keyword_from_cache(cache, terms, filters, k)  # type: ignore[arg-type]
        where, args = _where(filters)
        rows = self._db.execute(
            f"""SELECT {HIT_COLUMNS}, -bm25(search_fts, {TITLE_WEIGHT}, 1.0) AS score
                FROM search_fts JOIN search_docs d ON d.rowid = search_fts.rowid
                WHERE search_fts MATCH ?{where}
                ORDER BY score DESC, d.article_id LIMIT ?""",
            [fts_query(tokens), *args, k]).fetchall()
        return [Hit(r[0], float(r[10]), _doc(r), keyword_rank=i, keyword_score=float(r[10]))
                for i, r in enumerate(rows, start=1)]

    def _keyword_from_cache(self, cache: KeywordCache, terms: list[str], filters: Filters,
                            k: int) -> list[Hit]:
        top = cache.search(terms, self._mask(cache, filters), k)
        if not top:
            return []
        rowids = [int(cache.rowids[i]) for i, _ in top]
        docs = {r[0]: _doc(r[1:]) for r in self._db.execute(
            f"SELECT d.rowid, {HIT_COLUMNS} FROM search_docs d WHERE d.rowid IN "
            f"({marks(len(rowids))})", rowids)}
        out = []
        for rank, ((_, score), rowid) in enumerate(zip(top, rowids), start=1):
            if rowid in docs:
                out.append(Hit(docs[rowid]["id"], score, docs[rowid], keyword_rank=rank,
                               keyword_score=score))
        return out

    def _current_keyword_cache(self) -> KeywordCache | None:
        """The keyword cache when it matches the index's version; else None (and a build of
        the current version is started, unless one runs already)."""
        if not self._keyword_cache:
            return None
        version = self.version()
        cache = self._kw
        if cache is not None and cache.version == version:
            return cache
        if not self._kw_background:
            self._kw = self.build_keyword_cache()
            return self._kw if self._kw.version == version else None
        with self._kw_lock:
            if self._kw_building is None or not self._kw_building.is_alive():
                self._kw_building = threading.Thread(
                    target=self._build_keyword_cache_quietly, name="newsmon-keyword-cache",
                    daemon=True)
                self._kw_building.start()
        return None

    def warm(self, *, wait: bool = False) -> None:
        """Start building the keyword cache now rather than at the first query (``wait``:
        until it is built)."""
        self._current_keyword_cache()
        building = self._kw_building
        if wait and building is not None:
            building.join()

    def _build_keyword_cache_quietly(self) -> None:
        try:
            self._kw = self.build_keyword_cache()
        except Exception:  # noqa: BLE001 - FTS5 keeps answering; the next query retries
            log.warning("building the keyword cache failed; FTS5 answers keyword queries",
                        exc_info=True)

    def build_keyword_cache(self) -> KeywordCache:
        """The cache of the index as it is now, read on a connection of its own (one read
        transaction: the version and the rows agree)."""
        con = sqlite3.connect(f"file:{self.store.path}?mode=ro", uri=True, timeout=30,
                              check_same_thread=False)
        try:
            con.execute("BEGIN")
            row = con.execute("SELECT value FROM search_meta WHERE key = 'version'").fetchone()
            # two scans in rowid order, zipped: a join would look up FTS5 once per row
            docs = con.execute(
                """SELECT rowid, article_id, lang, source, published, topics, entities
                   FROM search_docs ORDER BY rowid""")
            texts = con.execute("SELECT rowid, title, body FROM search_fts ORDER BY rowid")
            rows = (d + t[1:] for d, t in zip(docs, texts, strict=True) if d[0] == t[0] or
                    _out_of_step(d[0], t[0]))
            cache = KeywordCache.build(int(row[0]) if row else 0, rows, TITLE_WEIGHT)
            con.execute("COMMIT")
            return cache
        finally:
            con.close()

    def _load_matrix(self) -> _Matrix:
        version = self.version()
        with self._matrix_lock:
            if self._matrix is not None and self._matrix.version == version:
                return self._matrix
            model = self.model()
            rowids, vecs, langs, sources, pubs, topics, ents, ids = [], [], [], [], [], [], [], []
            dim = int(self._meta("dim") or 0)
            for r in self._db.execute(
                    """SELECT rowid, vector, lang, source, published, topics, entities,
                              article_id FROM search_docs
                       WHERE vector IS NOT NULL AND model IS ? ORDER BY rowid""", (model,)):
                rowids.append(r[0])
                vecs.append(vector_from_bytes(r[1], dim))
                langs.append(r[2] or "")
                sources.append(r[3])
                pubs.append(r[4] or "")
                topics.append(json.loads(r[5]))
                ents.append(frozenset(json.loads(r[6])))
                ids.append(r[7])
            self._matrix = _Matrix(
                version, np.asarray(rowids, dtype=np.int64),
                np.vstack(vecs) if vecs else np.zeros((0, max(dim, 1)), np.float32),
                np.asarray(langs, dtype=object), np.asarray(sources, dtype=object),
                np.asarray(pubs, dtype=object), topics, ents, np.asarray(ids, dtype=object))
            return self._matrix

    def _mask(self, m: _Matrix | KeywordCache, f: Filters) -> np.ndarray | None:
        """The rows of ``m`` that ``f`` keeps (None: all). Kept per cache for the last few
        filters: comparing 100k strings costs more than the search itself."""
        try:
            return m.masks[f]
        except (KeyError, TypeError):
            pass
        mask = self._compute_mask(m, f)
        try:
            if len(m.masks) >= 32:
                m.masks.pop(next(iter(m.masks)))
            m.masks[f] = mask
        except TypeError:
            pass  # an unhashable filter value: not kept
        return mask

    def _compute_mask(self, m: _Matrix | KeywordCache, f: Filters) -> np.ndarray | None:
        mask = None

        def both(cond: np.ndarray) -> None:
            nonlocal mask
            mask = cond if mask is None else (mask & cond)

        if f.lang:
            both(m.lang == f.lang)
        if f.sources:
            both(np.isin(m.source, list(f.sources)))
        if f.topics:
            floor = f.min_topic_score if f.min_topic_score is not None else -1.0
            both(np.fromiter((all(t.get(x, -2.0) >= floor for x in f.topics) for t in m.topics),
                             dtype=bool, count=len(m.topics)))
        if f.entity_keys:
            want = set(f.entity_keys)
            both(np.fromiter((want <= e for e in m.entities), dtype=bool, count=len(m.entities)))
        if f.since is not None:
            both((m.published != "") & (m.published >= utc_iso(f.since)))
        if f.until is not None:
            both((m.published != "") & (m.published < utc_iso(f.until)))
        if f.ids is not None:
            both(np.isin(m.ids, list(f.ids)))
        return mask

    def semantic(self, vector: np.ndarray, filters: Filters, k: int) -> list[Hit]:
        m = self._load_matrix()
        if not len(m.rowids):
            return []
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        if q.shape[0] != m.vectors.shape[1]:
            raise ValueError(f"query vector has {q.shape[0]} dimensions, the index "
                             f"{m.vectors.shape[1]}")
        mask = self._mask(m, filters)
        sims = m.vectors @ q
        if mask is None:
            pos = np.arange(len(sims))
        else:
            # all rows, then the filter: copying the kept rows out costs more than the product
            pos = np.flatnonzero(mask)
            if not len(pos):
                return []
            sims = sims[pos]
        k = min(k, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        # order by similarity, ties by article id (deterministic, as in Elasticsearch tests)
        top = sorted(top, key=lambda i: (-float(sims[i]), m.ids[pos[i]]))
        rowids = [int(m.rowids[pos[i]]) for i in top]
        docs = {r[0]: _doc(r[1:]) for r in self._db.execute(
            f"SELECT d.rowid, {HIT_COLUMNS} FROM search_docs d WHERE d.rowid IN "
            f"({marks(len(rowids))})", rowids)}
        out = []
        for rank, (i, rowid) in enumerate(zip(top, rowids), start=1):
            if rowid in docs:
                score = float(sims[i])
                out.append(Hit(docs[rowid]["id"], score, docs[rowid], semantic_rank=rank,
                               semantic_score=score))
        return out

    def facets(self, filters: Filters, ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Counts by language, source and labelled topic over ``ids`` (matching ``filters``)."""
        out: dict[str, dict[str, int]] = {name: {} for name in FACETS}
        if not ids:
            return out
        where, args = _where(filters)
        rows = self._db.execute(
            f"""SELECT d.lang, d.source, d.topics FROM search_docs d
                WHERE d.article_id IN (SELECT value FROM json_each(?)){where}""",
            [json.dumps(list(ids)), *args]).fetchall()
        for lang, source, topics in rows:
            out["lang"][lang or "unknown"] = out["lang"].get(lang or "unknown", 0) + 1
            out["source"][source] = out["source"].get(source, 0) + 1
            for t in json.loads(topics):
                out["topic"][t] = out["topic"].get(t, 0) + 1
        return out

    def stats(self) -> dict[str, Any]:
        return {"backend": self.name, "documents": self.count(), "model": self.model(),
                "dim": int(self._meta("dim") or 0) or None,
                "cursor": self.store.cursors.get(self.cursor_name),
                "building": self._meta("building") is not None}

    def close(self) -> None:
        self._matrix = None
        self._kw = None


__all__ = ["EmbeddedBackend", "fts_query"]
