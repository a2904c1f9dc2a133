"""The search backend contract: what the embedded (SQLite) and Elasticsearch backends both do.

``index/`` imports no model: documents arrive with their vector and their tokens already
computed (newsmon.app.indexing), and a query arrives as tokens plus a vector computed by the caller
(newsmon.app.search) with the model the index was built with. Both implementations pass one
contract-test suite (tests/test_backend_contract.py).

Hybrid search is reciprocal rank fusion in Python over the keyword (BM25) and semantic (kNN)
lists (``fuse``), the same function for both backends; server-side RRF is licence-gated in
Elasticsearch and absent from a core-only node.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, Protocol

import numpy as np

from newsmon.index.core.errors import ConfigError, IndexingError
from newsmon.index.core.times import utc_iso
from newsmon.index.search.fair import LangStats

Mode = Literal["hybrid", "semantic", "keyword"]
MODES: tuple[str, ...] = ("hybrid", "semantic", "keyword")
RRF_K = 60                 # the usual constant of reciprocal rank fusion
MAX_QUERY_TOKENS = 64      # a 10 kB paste is cut to its first distinct tokens
FACETS = ("lang", "source", "topic")


class ModelMismatch(IndexingError):
    """A query vector from another embedding model than the one the index was built with."""

    reason = "model_mismatch"


@dataclass(frozen=True, slots=True)
class IndexDoc:
    """One article as both backends index it (built from the store by newsmon.app.indexing)."""

    id: str
    url: str
    title: str                       # NFKC-normalised, for display and snippets
    body: str
    title_tokens: str                # tokens joined by spaces (Sudachi / Snowball)
    body_tokens: str
    source: str
    lang: str | None = None
    published: datetime | None = None
    story: str | None = None
    topics: dict[str, float] = field(default_factory=dict)   # labelled topics -> score
    entities: tuple[str, ...] = ()   # lower-cased entity ids and names
    model: str | None = None
    vector: np.ndarray | None = None
    # when the article was first seen (stored): Elasticsearch files it under that month
    first_seen: datetime | None = None

    def fields(self) -> dict[str, Any]:
        """The stored fields returned with a hit (everything but tokens and vector)."""
        return {"id": self.id, "url": self.url, "title": self.title, "body": self.body,
                "lang": self.lang, "source": self.source, "published": utc_iso(self.published),
                "story": self.story, "topics": dict(self.topics),
                "entities": list(self.entities)}


@dataclass(frozen=True, slots=True)
class Filters:
    lang: str | None = None
    topics: tuple[str, ...] = ()           # every listed topic must be labelled
    min_topic_score: float | None = None   # ... with at least this score
    sources: tuple[str, ...] = ()          # any of
    entities: tuple[str, ...] = ()         # every listed entity (id or name, any case)
    since: datetime | None = None          # published >= since
    until: datetime | None = None          # published < until
    ids: tuple[str, ...] | None = None     # restrict to these article ids

    def __post_init__(self) -> None:
        if self.lang is not None and self.lang not in ("en", "ja"):
            raise ConfigError(f"unknown language filter {self.lang!r}; allowed: en, ja")
        if self.min_topic_score is not None and not 0.0 <= self.min_topic_score <= 1.0:
            raise ConfigError(f"min topic score {self.min_topic_score} is not within 0..1")
        since, until = utc_iso(self.since), utc_iso(self.until)
        if since is not None and until is not None and since >= until:
            raise ConfigError("the date range is empty: since is not before until")

    @property
    def entity_keys(self) -> tuple[str, ...]:
        return tuple(e.strip().lower() for e in self.entities if e.strip())


@dataclass(frozen=True, slots=True)
class Query:
    tokens: tuple[str, ...] = ()
    text: str = ""              # the query as typed, for backends whose server analyses text
    vector: np.ndarray | None = None
    model: str | None = None
    mode: str = "hybrid"
    filters: Filters = Filters()
    k: int = 10
    candidates: int = 100       # depth of each list that hybrid fuses
    # per-language moments of the document vectors: with them, semantic scores are z-scores
    # against the article's own language (index/search/fair.py) and hybrid adds keyword
    # evidence normalised per language; without them, raw cosines and rank fusion
    lang_stats: LangStats | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"unknown search mode {self.mode!r}; allowed: {', '.join(MODES)}")
        if self.k < 1:
            raise ConfigError("k must be at least 1")

    @property
    def keyword_tokens(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for t in self.tokens:
            t = t.strip()
            if t and t not in seen:
                seen[t] = None
            if len(seen) >= MAX_QUERY_TOKENS:
                break
        return tuple(seen)


@dataclass(slots=True)
class Hit:
    id: str
    score: float                        # the mode's score (BM25, cosine, or fused RRF)
    doc: dict[str, Any]                 # IndexDoc.fields(); "body" is "" in search results
    keyword_rank: int | None = None     # 1-based ranks in the lists that produced it
    semantic_rank: int | None = None
    keyword_score: float | None = None
    semantic_score: float | None = None  # cosine similarity to the query vector
    semantic_z: float | None = None      # the cosine as a z-score within its language
    keyword_norm: float | None = None    # BM25 over the best BM25 of its language, 0..1


class SearchBackend(Protocol):
    name: str            # "sqlite" | "elasticsearch"
    cursor_name: str     # its cursor in the store's change feed

    def model(self) -> str | None: ...
    def prepare(self, model: str | None, dim: int | None, *, rebuild: bool = False) -> bool: ...
    def upsert(self, docs: Sequence[IndexDoc]) -> int: ...
    def delete(self, ids: Iterable[str]) -> int: ...
    def delete_source(self, source: str) -> int: ...   # every document of one source
    def finish(self) -> None: ...
    def get(self, article_id: str) -> dict[str, Any] | None: ...
    def count(self, filters: Filters | None = None) -> int: ...
    def keyword(self, tokens: Sequence[str], filters: Filters, k: int, *,
                text: str = "") -> list[Hit]: ...
    def semantic(self, vector: np.ndarray, filters: Filters, k: int) -> list[Hit]: ...
    def facets(self, filters: Filters, ids: Sequence[str]) -> dict[str, dict[str, int]]: ...
    def stats(self) -> dict[str, Any]: ...
    def close(self) -> None: ...


def check_model(index_model: str | None, query_model: str | None) -> None:
    if query_model is not None and index_model is not None and query_model != index_model:
        raise ModelMismatch(
            f"the index was built with embedding model {index_model!r} but the query was "
            f"embedded with {query_model!r}; run `newsmon index --rebuild` or use that model")


def fuse(lists: Sequence[Sequence[Hit]], k: int, *, rrf_k: int = RRF_K) -> list[Hit]:
    """Reciprocal rank fusion: score = sum over lists of 1 / (rrf_k + rank).

    Ties are broken by the best single rank, then by id, so both backends fuse identically.
    """
    fused: dict[str, Hit] = {}
    best: dict[str, int] = {}
    for hits in lists:
        for rank, hit in enumerate(hits, start=1):
            out = fused.get(hit.id)
            if out is None:
                out = fused[hit.id] = Hit(hit.id, 0.0, hit.doc)
                best[hit.id] = rank
            out.score += 1.0 / (rrf_k + rank)
            best[hit.id] = min(best[hit.id], rank)
            for attr in ("keyword_rank", "semantic_rank", "keyword_score", "semantic_score"):
                if getattr(hit, attr) is not None:
                    setattr(out, attr, getattr(hit, attr))
    ordered = sorted(fused.values(), key=lambda h: (-h.score, best[h.id], h.id))
    return ordered[:k]


# Hybrid with language statistics: z + KEYWORD_WEIGHT * (BM25 / best BM25 of the language).
# Keyword evidence counts within each language, so neither language's keyword list outvotes
# the other's; its weight is small because the keyword side still only matches the query's
# own language. Measured on ../shared/devset (cross-lingual MRR with same-language answers
# removed / same-language MRR): 0 -> 0.93 / 1.0, 0.1 -> 0.87 / 1.0, 0.25 -> 0.81 / 1.0,
# 0.5 -> 0.80 / 0.98, 1 -> 0.78 / 0.98; rank fusion of the z list with one keyword list 0.28,
# with per-language keyword lists 0.34 (BENCHMARKS.md, "Language-fair search").
KEYWORD_WEIGHT = 0.1


def _lang_filters(query: Query, stats: LangStats) -> list[Filters]:
    """The filters of the per-language semantic lists: each language competes with its own."""
    f = query.filters
    if f.lang is not None or not stats.langs:
        return [f]
    out = [replace(f, lang=lang) for lang in stats.langs]
    if stats.unknown:   # articles without a language are only in an unfiltered list
        out.append(f)
    return out


def _semantic_fair(lists: Sequence[Sequence[Hit]], query: Query, stats: LangStats) -> list[Hit]:
    """Merge per-language semantic lists by z-score (ties by id); ranks renumbered."""
    assert query.vector is not None
    seen: dict[str, Hit] = {}
    for hits in lists:
        for h in hits:
            if h.id in seen or h.semantic_score is None:
                continue
            h.semantic_z = stats.zscore(h.doc.get("lang"), query.vector, h.semantic_score)
            seen[h.id] = h
    ordered = sorted(seen.values(), key=lambda h: (-(h.semantic_z if h.semantic_z is not None
                                                      else float("-inf")), h.id))
    for rank, h in enumerate(ordered, start=1):
        h.semantic_rank = rank
        h.score = h.semantic_z if h.semantic_z is not None else float("-inf")
    return ordered


def fuse_fair(keyword: Sequence[Hit], semantic: Sequence[Hit], k: int) -> list[Hit]:
    """Hybrid by score: z + KEYWORD_WEIGHT * keyword evidence normalised per language.

    A hit only the keyword list found stands below every semantic candidate of its language:
    it gets the lowest z seen in that language's list (its own is no higher)."""
    best_kw: dict[str | None, float] = {}
    for h in keyword:
        lang = h.doc.get("lang")
        best_kw[lang] = max(best_kw.get(lang, 0.0), h.keyword_score or 0.0)
    floor: dict[str | None, float] = {}
    out: dict[str, Hit] = {}
    for h in semantic:
        lang = h.doc.get("lang")
        z = h.semantic_z if h.semantic_z is not None else 0.0
        floor[lang] = min(floor.get(lang, z), z)
        out[h.id] = Hit(h.id, z, h.doc, semantic_rank=h.semantic_rank,
                        semantic_score=h.semantic_score, semantic_z=h.semantic_z)
    for h in keyword:
        lang = h.doc.get("lang")
        top = best_kw.get(lang) or 0.0
        norm = (h.keyword_score or 0.0) / top if top > 0 else 0.0
        hit = out.get(h.id)
        if hit is None:
            hit = out[h.id] = Hit(h.id, floor.get(lang, 0.0), h.doc)
        hit.keyword_rank, hit.keyword_score, hit.keyword_norm = \
            h.keyword_rank, h.keyword_score, norm
        hit.score += KEYWORD_WEIGHT * norm
    ordered = sorted(out.values(), key=lambda h: (-h.score, h.id))
    return ordered[:k]


def search(backend: SearchBackend, query: Query) -> list[Hit]:
    """Run a query in its mode on any backend (the one place modes are told apart)."""
    check_model(backend.model(), query.model if query.vector is not None else None)
    tokens = query.keyword_tokens
    if query.mode == "keyword":
        return backend.keyword(tokens, query.filters, query.k, text=query.text) \
            if tokens else []
    if query.vector is None:
        raise ConfigError(f"{query.mode} search needs a query vector")
    stats = query.lang_stats
    if stats is not None:
        return _search_fair(backend, query, stats, tokens)
    if query.mode == "semantic":
        return backend.semantic(query.vector, query.filters, query.k)
    depth = max(query.candidates, query.k)
    both = getattr(backend, "keyword_and_semantic", None)  # one round trip, where it helps
    if both is not None and tokens:
        keyword, semantic = both(tokens, query.vector, query.filters, depth, text=query.text)
    else:
        keyword = backend.keyword(tokens, query.filters, depth, text=query.text) \
            if tokens else []
        semantic = backend.semantic(query.vector, query.filters, depth)
    return fuse([keyword, semantic], query.k)


def _search_fair(backend: SearchBackend, query: Query, stats: LangStats,
                 tokens: tuple[str, ...]) -> list[Hit]:
    assert query.vector is not None
    filters = _lang_filters(query, stats)
    if query.mode == "semantic":
        some = getattr(backend, "semantics", None)   # one product for every list, where it helps
        lists = some(query.vector, filters, query.k) if some is not None else \
            [backend.semantic(query.vector, f, query.k) for f in filters]
        return _semantic_fair(lists, query, stats)[:query.k]
    depth = max(query.candidates, query.k)
    # the languages' lists share the fused list's depth (each at least the k results asked
    # for): two full-depth kNN lists cost Elasticsearch 1.44x the raw search at 100k
    # (BENCHMARKS.md, "Search latency"), where the budget for language fairness is 1.2x
    per_lang = depth if len(filters) == 1 else max(query.k, -(-depth // len(filters)))
    many = getattr(backend, "keyword_and_semantics", None)  # one round trip, where it helps
    if many is not None:
        keyword, lists = many(tokens, query.vector, query.filters, filters, depth,
                              text=query.text, semantic_k=per_lang)
    else:
        keyword = backend.keyword(tokens, query.filters, depth, text=query.text) \
            if tokens else []
        lists = [backend.semantic(query.vector, f, per_lang) for f in filters]
    return fuse_fair(keyword, _semantic_fair(lists, query, stats), query.k)


__all__ = ["Mode", "MODES", "IndexDoc", "Filters", "Query", "Hit", "SearchBackend",
           "ModelMismatch", "check_model", "fuse", "fuse_fair", "search", "FACETS", "RRF_K",
           "KEYWORD_WEIGHT", "LangStats"]
