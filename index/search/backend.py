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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

import numpy as np

from newsmon.index.core.errors import ConfigError, IndexingError
from newsmon.index.core.times import utc_iso

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


def search(backend: SearchBackend, query: Query) -> list[Hit]:
    """Run a query in its mode on any backend (the one place modes are told apart)."""
    check_model(backend.model(), query.model if query.vector is not None else None)
    tokens = query.keyword_tokens
    if query.mode == "keyword":
        return backend.keyword(tokens, query.filters, query.k, text=query.text) \
            if tokens else []
    if query.vector is None:
        raise ConfigError(f"{query.mode} search needs a query vector")
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


__all__ = ["Mode", "MODES", "IndexDoc", "Filters", "Query", "Hit", "SearchBackend",
           "ModelMismatch", "check_model", "fuse", "search", "FACETS", "RRF_K"]
