"""The embedded search backend: inside the store-of-record file, zero servers.

- Keyword: FTS5 over the pre-computed tokens (title and body columns), ranked by FTS5's BM25
  (k1 1.2, b 0.75, title weighted 2), filters applied in the same SQL statement. A long-lived
  process (`newsmon serve`) answers from an in-memory copy of the postings instead, with the
  same scores (index/search/keyword_cache.py): FTS5 scores every row holding any query term, which
  costs hundreds of milliseconds at 100k articles when the terms are common.
- Semantic: cosine search over a matrix of the document vectors, read from ``search_docs``
  once and re-read when the index has changed (``search_meta.version``). Below
  ``ANN_MIN_DOCS`` vectors the search is exact (numpy; at 100k articles it costs about what a
  bare numpy product costs, BENCHMARKS.md "Search latency"). Above it, in a long-lived
  process, per-language ANN indexes (faiss IVF: index/search/ann.py, kept in files beside the
  store and patched with what changed) propose candidates and the matrix re-ranks them
  exactly, so scores stay true cosines; a filter that keeps few rows is answered exactly over
  those rows. Without faiss the search stays exact (logged once). Both caches are rebuilt
  from the store whenever they are missing or stale.

The statements live in the store's ``search_index`` repository (index/store/repos/search.py);
this module ranks. Writes happen inside the caller's store transaction, so the documents and
the backend's cursor commit together: a kill -9 during ``newsmon index`` loses nothing and
duplicates nothing.
Any text is a valid query: tokens are quoted for FTS5 (``"`` doubled), never parsed as syntax.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from newsmon.index.core.times import utc_iso
from newsmon.index.search.ann import AnnIndex, AnnParams, SyncReport, unavailable
from newsmon.index.search.backend import FACETS, Filters, Hit, IndexDoc
from newsmon.index.search.keyword_cache import KeywordCache, single_term
from newsmon.index.store import Store

log = logging.getLogger(__name__)

TITLE_WEIGHT = 2.0
# vectors from which the ANN index answers semantic queries: below it exact search costs
# < 20 ms (100k, BENCHMARKS.md) and stays, so small stores and tests keep exact results
ANN_MIN_DOCS = 200_000
# ANN candidates per wanted hit, before the exact re-ranking on the matrix
ANN_OVERSAMPLE = 2
# a filter (other than language) that keeps fewer rows than this is answered exactly over
# them: copying that many rows costs less than oversampling the index past the filter
ANN_EXACT_BELOW = 20_000


def fts_query(tokens: Sequence[str]) -> str:
    """An FTS5 query matching any of ``tokens``: each one a quoted string, so that user text
    (quotes, ``*``, ``-``, ``NEAR``, ``AND``, parentheses) is never read as FTS5 syntax."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in tokens)


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


class EmbeddedBackend:
    name = "sqlite"
    cursor_name = "backend:sqlite"

    def __init__(self, store: Store, *, keyword_cache: bool = False,
                 build_in_background: bool = True, ann_min_docs: int | None = ANN_MIN_DOCS,
                 ann_in_background: bool | None = None,
                 ann_params: AnnParams | None = None) -> None:
        """``keyword_cache``: answer keyword queries from an in-memory BM25 cache
        (index/search/keyword_cache.py) once it is built for the index's current version, for a
        long-lived process such as `newsmon serve`. Until then FTS5 answers; the cache is
        built on a thread of its own (or at once, with ``build_in_background=False``).

        ``ann_min_docs``: from this many vectors semantic search goes through the ANN index
        (None: always exact). ``ann_in_background`` (default: as the keyword cache, when there
        is one): bring the index up to date on a thread while exact search answers; else
        the first semantic query after a change does it."""
        self.store = store
        self._ann_min_docs = ann_min_docs
        self._ann_background = (keyword_cache and build_in_background
                                if ann_in_background is None else ann_in_background)
        self._ann_params = ann_params or AnnParams()
        self._ann: AnnIndex | None = None
        self._ann_version = -1            # the matrix version the index matches (-1: none)
        self._ann_lock = threading.Lock()  # held while the index changes
        self._ann_building: threading.Thread | None = None
        self._ann_start = threading.Lock()
        self._ann_missing: str | None = None
        self.ann_report: SyncReport | None = None   # what the last sync did
        self._index = store.search_index
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
        return self._index.meta(key)

    def model(self) -> str | None:
        return self._meta("model")

    def version(self) -> int:
        return self._index.version()

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
        self._index.set_meta({"building": str(self._gen), "model": model,
                              "dim": str(dim) if dim else None})
        return True

    def upsert(self, docs: Sequence[IndexDoc]) -> int:
        return self._index.upsert(docs, self._gen)

    def delete(self, ids: Iterable[str]) -> int:
        return self._index.delete(ids)

    def delete_source(self, source: str) -> int:
        return self._index.delete_source(source)

    def finish(self) -> None:
        """End a full build: rows of older generations (articles gone meanwhile) go."""
        building = self._meta("building")
        if building is None:
            return
        self._index.end_build(int(building))

    # -- reading ------------------------------------------------------------------------------
    def get(self, article_id: str) -> dict[str, Any] | None:
        return self._index.get(article_id)

    def count(self, filters: Filters | None = None) -> int:
        return self._index.count(filters or Filters())

    def ids(self) -> list[str]:
        return self._index.article_ids()

    def keyword(self, tokens: Sequence[str], filters: Filters, k: int, *,
                text: str = "") -> list[Hit]:
        """``text`` (the query as typed) is not used: this backend ranks newsmon's tokens."""
        if not tokens:
            return []
        cache = self._current_keyword_cache()
        if cache is not None:
            terms = [t for t in map(single_term, tokens) if t]
            # a token FTS5 reads as a phrase is answered by FTS5, like the whole query
            if len(terms) == len(tokens):
                return self._keyword_from_cache(cache, terms, filters, k)
        matches = self._index.keyword_matches(fts_query(tokens), filters, k,
                                              title_weight=TITLE_WEIGHT)
        return [Hit(doc["id"], score, doc, keyword_rank=i, keyword_score=score)
                for i, (doc, score) in enumerate(matches, start=1)]

    def _keyword_from_cache(self, cache: KeywordCache, terms: list[str], filters: Filters,
                            k: int) -> list[Hit]:
        top = cache.search(terms, self._mask(cache, filters), k)
        if not top:
            return []
        rowids = [int(cache.rowids[i]) for i, _ in top]
        docs = self._index.hit_fields(rowids)
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
        """Start building the keyword cache now rather than at the first query, and (in the
        background mode) bringing the ANN index up to date (``wait``: until both are
        done)."""
        self._current_keyword_cache()
        if self._ann_background and self._ann_min_docs is not None:
            self._start_ann_thread()
        for building in (self._kw_building, self._ann_building):
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
        with self._index.keyword_snapshot() as (version, rows):
            return KeywordCache.build(version, rows, TITLE_WEIGHT)

    def _load_matrix(self) -> _Matrix:
        version = self.version()
        with self._matrix_lock:
            if self._matrix is not None and self._matrix.version == version:
                return self._matrix
            dim = int(self._meta("dim") or 0)
            c = self._index.vector_columns(self.model(), dim)
            self._matrix = _Matrix(
                version, np.asarray(c.rowids, dtype=np.int64),
                np.vstack(c.vectors) if c.vectors else np.zeros((0, max(dim, 1)), np.float32),
                np.asarray(c.langs, dtype=object), np.asarray(c.sources, dtype=object),
                np.asarray(c.published, dtype=object), c.topics, c.entities,
                np.asarray(c.ids, dtype=object))
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
        return self.semantics(vector, [filters], k)[0]

    def semantics(self, vector: np.ndarray, filters: Sequence[Filters], k: int
                  ) -> list[list[Hit]]:
        """One semantic list per filter (language-fair search's per-language lists): from the
        ANN index above the size threshold, else from one product of the matrix with the
        query."""
        m = self._load_matrix()
        if not len(m.rowids):
            return [[] for _ in filters]
        q = self._query(m, vector)
        ann = self._current_ann(m)
        sims: np.ndarray | None = None
        out = []
        for f in filters:
            hits = self._semantic_ann(m, ann, q, f, k) if ann is not None else None
            if hits is None:
                if sims is None:
                    sims = m.vectors @ q
                hits = self._semantic_top(m, sims, self._mask(m, f), k)
            out.append(hits)
        return out

    def keyword_and_semantics(self, tokens: Sequence[str], vector: np.ndarray,
                              filters: Filters, semantic_filters: Sequence[Filters], k: int, *,
                              text: str = "", semantic_k: int | None = None
                              ) -> tuple[list[Hit], list[list[Hit]]]:
        keyword = self.keyword(tokens, filters, k, text=text) if tokens else []
        return keyword, self.semantics(vector, semantic_filters, semantic_k or k)

    @staticmethod
    def _query(m: _Matrix, vector: np.ndarray) -> np.ndarray:
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        if q.shape[0] != m.vectors.shape[1]:
            raise ValueError(f"query vector has {q.shape[0]} dimensions, the index "
                             f"{m.vectors.shape[1]}")
        return q

    def _semantic_top(self, m: _Matrix, sims: np.ndarray, mask: np.ndarray | None,
                      k: int) -> list[Hit]:
        if mask is None:
            return self._ranked(m, np.arange(len(sims)), sims, k)
        # all rows, then the filter: copying the kept rows out costs more than the product
        pos = np.flatnonzero(mask)
        return self._ranked(m, pos, sims[pos], k)

    def _ranked(self, m: _Matrix, pos: np.ndarray, sims: np.ndarray, k: int) -> list[Hit]:
        """Hits for the top ``k`` of rows ``pos`` of the matrix, whose similarities are
        ``sims``."""
        if not len(pos):
            return []
        k = min(k, len(sims))
        # order by similarity, ties by article id (deterministic, as in Elasticsearch tests)
        top = sorted(np.argpartition(-sims, k - 1)[:k],
                     key=lambda i: (-float(sims[i]), m.ids[pos[i]]))
        rowids = [int(m.rowids[pos[i]]) for i in top]
        docs = self._index.hit_fields(rowids)
        out = []
        for rank, (i, rowid) in enumerate(zip(top, rowids), start=1):
            if rowid in docs:
                score = float(sims[i])
                out.append(Hit(docs[rowid]["id"], score, docs[rowid], semantic_rank=rank,
                               semantic_score=score))
        return out

    # -- the ANN index ------------------------------------------------------------------------
    def _semantic_ann(self, m: _Matrix, ann: AnnIndex, q: np.ndarray, f: Filters,
                      k: int) -> list[Hit] | None:
        """The top ``k`` for filter ``f`` from the ANN index, re-ranked exactly; None when exact
        search over the matrix should answer (the index is changing, or a filter keeps too
        few rows for the index to find them)."""
        langs = [f.lang] if f.lang else list(ann.langs)
        pool = sum(ann.size(lang) for lang in langs)
        if not pool:
            return []
        rest = replace(f, lang=None)
        mask = None if rest == Filters() else self._mask(m, f)
        want = k * ANN_OVERSAMPLE
        if mask is not None:
            kept = int(np.count_nonzero(mask))
            if kept < ANN_EXACT_BELOW or kept * 4 < pool:
                pos = np.flatnonzero(mask)
                return self._ranked(m, pos, m.vectors[pos] @ q, k)
            want = int(want * pool / kept) + k
        if not self._ann_lock.acquire(blocking=False):
            return None
        try:
            if self._ann_version != m.version:
                return None
            keys = ann.search(langs, q, want)
        finally:
            self._ann_lock.release()
        pos = np.searchsorted(m.rowids, keys)
        pos = pos[(pos < len(m.rowids))]
        pos = np.unique(pos[np.isin(m.rowids[pos], keys)])
        if mask is not None:
            pos = pos[mask[pos]]
            if len(pos) < min(k, kept):
                kept_pos = np.flatnonzero(mask)
                return self._ranked(m, kept_pos, m.vectors[kept_pos] @ q, k)
        return self._ranked(m, pos, m.vectors[pos] @ q, k)

    def _ann_folder(self) -> Path | None:
        path = getattr(self.store, "path", None)
        if path is None or str(path) == ":memory:":
            return None
        path = Path(path)
        return path.with_name(path.name + ".ann")

    def _current_ann(self, m: _Matrix) -> AnnIndex | None:
        """The ANN index when it matches matrix ``m``; None when exact search answers: below the
        size threshold, without its library, or (in the background mode) while it is brought
        up to date."""
        if self._ann_min_docs is None or len(m.rowids) < self._ann_min_docs:
            return None
        if self._ann is not None and self._ann_version == m.version:
            return self._ann
        if self._ann_missing is None:
            self._ann_missing = unavailable(self._ann_params.engine) or ""
            if self._ann_missing:
                log.warning("%d vectors, above the ANN threshold (%d); %s", len(m.rowids),
                            self._ann_min_docs, self._ann_missing)
        if self._ann_missing:
            return None
        if not self._ann_background:
            self.sync_ann(m)
            return self._ann if self._ann_version == m.version else None
        self._start_ann_thread()
        return None

    def _start_ann_thread(self) -> None:
        with self._ann_start:
            if self._ann_building is None or not self._ann_building.is_alive():
                self._ann_building = threading.Thread(
                    target=self._sync_ann_quietly, name="newsmon-ann", daemon=True)
                self._ann_building.start()

    def _sync_ann_quietly(self) -> None:
        try:
            m = self._load_matrix()
            if self._ann_min_docs is not None and len(m.rowids) >= self._ann_min_docs \
                    and not unavailable(self._ann_params.engine):
                self.sync_ann(m)
        except Exception:  # noqa: BLE001 - exact search keeps answering; the next query retries
            log.warning("bringing the ANN index up to date failed; exact search answers",
                        exc_info=True)

    def sync_ann(self, m: _Matrix | None = None) -> SyncReport:
        """Bring the ANN index (and its files) to the index's vectors now."""
        m = m or self._load_matrix()
        model = self.model()
        with self._ann_lock:
            if self._ann is None or (self._ann.model, self._ann.dim) != (model,
                                                                         m.vectors.shape[1]):
                self._ann = AnnIndex(self._ann_folder(), model, int(m.vectors.shape[1]),
                                     self._ann_params)
            self._ann_version = -1
            self.ann_report = self._ann.sync(m.rowids, m.vectors, m.lang)
            self._ann_version = m.version
        r = self.ann_report
        if r.rebuilt or r.added or r.removed:
            log.info("ANN index: %d added, %d removed, rebuilt %s", r.added, r.removed,
                     r.rebuilt or "none")
        return r

    def facets(self, filters: Filters, ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Counts by language, source and labelled topic over ``ids`` (matching ``filters``)."""
        out: dict[str, dict[str, int]] = {name: {} for name in FACETS}
        if not ids:
            return out
        for lang, source, topics in self._index.facet_rows(filters, ids):
            out["lang"][lang or "unknown"] = out["lang"].get(lang or "unknown", 0) + 1
            out["source"][source] = out["source"].get(source, 0) + 1
            for t in topics:
                out["topic"][t] = out["topic"].get(t, 0) + 1
        return out

    def stats(self) -> dict[str, Any]:
        ann = self._ann
        return {"backend": self.name, "documents": self.count(), "model": self.model(),
                "dim": int(self._meta("dim") or 0) or None,
                "cursor": self.store.cursors.get(self.cursor_name),
                "building": self._meta("building") is not None,
                "ann": None if ann is None else {
                    "languages": {lang or "unknown": ann.size(lang) for lang in ann.langs},
                    "rebuilds": dict(ann.rebuilds), "queries": ann.queries}}

    def close(self) -> None:
        self._matrix = None
        self._kw = None
        self._ann = None
        self._ann_version = -1


__all__ = ["EmbeddedBackend", "fts_query"]
