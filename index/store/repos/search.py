"""The embedded search backend's tables (search_docs, search_fts, search_meta): every statement
newsmon.index.search.embedded runs, behind named methods; the backend keeps the ranking.

The store does not import the search package (search depends on the store, not the other way
round), so documents and filters arrive as anything shaped like ``IndexDoc`` and ``Filters``
(the protocols below).
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn, Protocol

import numpy as np

from newsmon.index.core.codec import vector_from_bytes, vector_to_bytes
from newsmon.index.core.times import utc_iso
from newsmon.index.store.dialect import Connection
from newsmon.index.store.repos import Repo, chunked, marks

DOC_COLUMNS = "d.article_id, d.url, d.title, d.body, d.lang, d.source, d.published, d.story, " \
              "d.topics, d.entities"
# search results carry every field but the body (the caller reads the few bodies it shows
# from the store's search text; ranking 200 candidates need not move 200 bodies)
HIT_COLUMNS = DOC_COLUMNS.replace("d.body", "''")

# a document's stored fields, as IndexDoc.fields() gives them (the body is "" in hits)
DocFields = dict[str, Any]
# (rowid, article_id, lang, source, published, topics JSON, entities JSON, title tokens,
# body tokens): what KeywordCache.build reads
KeywordRow = tuple[Any, ...]


class SearchDoc(Protocol):
    """What the index stores of one document (newsmon.index.search.backend.IndexDoc)."""

    @property
    def id(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def title_tokens(self) -> str: ...
    @property
    def body_tokens(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def lang(self) -> str | None: ...
    @property
    def published(self) -> datetime | None: ...
    @property
    def story(self) -> str | None: ...
    @property
    def topics(self) -> Mapping[str, float]: ...
    @property
    def entities(self) -> Sequence[str]: ...
    @property
    def model(self) -> str | None: ...
    @property
    def vector(self) -> np.ndarray | None: ...


class SearchFilter(Protocol):
    """The filters a query applies (newsmon.index.search.backend.Filters)."""

    @property
    def lang(self) -> str | None: ...
    @property
    def topics(self) -> Sequence[str]: ...
    @property
    def min_topic_score(self) -> float | None: ...
    @property
    def sources(self) -> Sequence[str]: ...
    @property
    def entity_keys(self) -> Sequence[str]: ...
    @property
    def since(self) -> datetime | None: ...
    @property
    def until(self) -> datetime | None: ...
    @property
    def ids(self) -> Sequence[str] | None: ...


@dataclass(slots=True)
class VectorColumns:
    """The documents of one model that have a vector, in rowid order, column by column."""

    rowids: list[int]
    vectors: list[np.ndarray]
    langs: list[str]             # '' when unknown
    sources: list[str]
    published: list[str]         # ISO strings, '' when unknown
    topics: list[dict[str, float]]
    entities: list[frozenset[str]]
    ids: list[str]


def _doc(row: Sequence[Any]) -> DocFields:
    return {"id": row[0], "url": row[1], "title": row[2], "body": row[3], "lang": row[4],
            "source": row[5], "published": row[6], "story": row[7],
            "topics": json.loads(row[8]), "entities": json.loads(row[9])}


def _where(f: SearchFilter, alias: str = "d") -> tuple[str, list[Any]]:
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


def _out_of_step(doc_rowid: int, fts_rowid: int) -> NoReturn:
    raise RuntimeError(f"search_docs row {doc_rowid} has no FTS row (found {fts_rowid}); "
                       f"rebuild the index: newsmon index --rebuild")


class SearchIndexRepo(Repo):
    # -- metadata (model, dim, gen, building, version) ----------------------------------------
    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM search_meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def version(self) -> int:
        """Bumped by every write, so caches built from the index know when they are stale."""
        return int(self.meta("version") or 0)

    def set_meta(self, values: Mapping[str, str | None]) -> None:
        """Set (None: remove) metadata keys, all in one transaction."""
        with self._store.transaction() as db:
            for key, value in values.items():
                if value is None:
                    db.execute("DELETE FROM search_meta WHERE key = ?", (key,))
                else:
                    db.execute("INSERT INTO search_meta (key, value) VALUES (?, ?) "
                               "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                               (key, value))

    def _bump(self, db: Connection) -> None:
        db.execute("INSERT INTO search_meta (key, value) VALUES ('version', '1') "
                   "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    # -- writing ------------------------------------------------------------------------------
    def upsert(self, docs: Sequence[SearchDoc], gen: int) -> int:
        """Write documents (row and FTS row) as part of build generation ``gen``."""
        with self._store.transaction() as db:
            for d in docs:
                row = (d.id, d.url, d.title, d.body, d.lang, d.source, utc_iso(d.published),
                       d.story, json.dumps(d.topics, ensure_ascii=False),
                       json.dumps(list(d.entities), ensure_ascii=False), d.model,
                       vector_to_bytes(d.vector) if d.vector is not None else None, gen)
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
        with self._store.transaction() as db:
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

    def delete_source(self, source: str) -> int:
        """Delete every document of ``source`` (a source removed with its articles)."""
        ids = [r[0] for r in self._db.execute(
            "SELECT article_id FROM search_docs WHERE source = ?", (source,))]
        return self.delete(ids)

    def end_build(self, gen: int) -> None:
        """Make ``gen`` the index's generation: rows of older ones (articles gone meanwhile)
        go, and no build is in progress any more."""
        with self._store.transaction() as db:
            stale = [r[0] for r in db.execute("SELECT article_id FROM search_docs WHERE gen < ?",
                                              (gen,))]
            self.delete(stale)
            self.set_meta({"gen": str(gen), "building": None})
            self._bump(db)

    # -- reading ------------------------------------------------------------------------------
    def get(self, article_id: str) -> DocFields | None:
        row = self._db.execute(f"SELECT {DOC_COLUMNS} FROM search_docs d WHERE article_id = ?",
                               (article_id,)).fetchone()
        return _doc(row) if row else None

    def count(self, filters: SearchFilter) -> int:
        where, args = _where(filters)
        return int(self._db.execute(f"SELECT COUNT(*) FROM search_docs d WHERE 1{where}",
                                    args).fetchone()[0])

    def article_ids(self) -> list[str]:
        return [r[0] for r in self._db.execute(
            "SELECT article_id FROM search_docs ORDER BY article_id")]

    def keyword_matches(self, match: str, filters: SearchFilter, k: int, *,
                        title_weight: float) -> list[tuple[DocFields, float]]:
        """The top ``k`` documents (hit fields, BM25 score) for an FTS5 query, best first,
        ties by article id; the title column's terms weigh ``title_weight``."""
        where, args = _where(filters)
        rows = self._db.execute(
            f"""SELECT {HIT_COLUMNS}, -bm25(search_fts, {title_weight}, 1.0) AS score
                FROM search_fts JOIN search_docs d ON d.rowid = search_fts.rowid
                WHERE search_fts MATCH ?{where}
                ORDER BY score DESC, d.article_id LIMIT ?""",
            [match, *args, k]).fetchall()
        return [(_doc(r), float(r[10])) for r in rows]

    def hit_fields(self, rowids: Sequence[int]) -> dict[int, DocFields]:
        """rowid -> hit fields, for the rowids still in the index."""
        return {r[0]: _doc(r[1:]) for r in self._db.execute(
            f"SELECT d.rowid, {HIT_COLUMNS} FROM search_docs d WHERE d.rowid IN "
            f"({marks(len(rowids))})", list(rowids))}

    def facet_rows(self, filters: SearchFilter, ids: Sequence[str]
                   ) -> list[tuple[str | None, str, dict[str, float]]]:
        """(lang, source, topics) of the documents among ``ids`` that match ``filters``."""
        where, args = _where(filters)
        rows = self._db.execute(
            f"""SELECT d.lang, d.source, d.topics FROM search_docs d
                WHERE d.article_id IN (SELECT value FROM json_each(?)){where}""",
            [json.dumps(list(ids)), *args]).fetchall()
        return [(lang, source, json.loads(topics)) for lang, source, topics in rows]

    def vector_columns(self, model: str | None, dim: int) -> VectorColumns:
        """Every document of ``model`` with a vector (of ``dim`` dimensions), in rowid order."""
        out = VectorColumns([], [], [], [], [], [], [], [])
        for r in self._db.execute(
                """SELECT rowid, vector, lang, source, published, topics, entities,
                          article_id FROM search_docs
                   WHERE vector IS NOT NULL AND model IS ? ORDER BY rowid""", (model,)):
            out.rowids.append(r[0])
            out.vectors.append(vector_from_bytes(r[1], dim))
            out.langs.append(r[2] or "")
            out.sources.append(r[3])
            out.published.append(r[4] or "")
            out.topics.append(json.loads(r[5]))
            out.entities.append(frozenset(json.loads(r[6])))
            out.ids.append(r[7])
        return out

    @contextmanager
    def keyword_snapshot(self) -> Iterator[tuple[int, Iterator[KeywordRow]]]:
        """(version, rows in rowid order) of the index as it is now, read on a connection of
        its own in one read transaction, so that the version and the rows agree; for a build
        that runs beside the store's connection (on another thread)."""
        con = sqlite3.connect(f"file:{self._store.location}?mode=ro", uri=True, timeout=30,
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
            yield (int(row[0]) if row else 0), rows
            con.execute("COMMIT")
        finally:
            con.close()


__all__ = ["SearchIndexRepo", "SearchDoc", "SearchFilter", "VectorColumns", "DocFields",
           "KeywordRow"]
