"""The Elasticsearch backend: a versioned index behind an alias, fed from the store.

- ``newsmon-articles`` (the alias) → ``newsmon-articles-v1``, ``-v2``, …: a full build (first
  run, ``--rebuild``, a new embedding model or mapping version) writes a new index and swaps
  the alias in one ``update_aliases`` call when it is complete, so searches never see an empty
  or half-built index; the old index is deleted after the swap. The index's ``_meta`` records
  the embedding model, its dimension and the mapping version; queries embedded by another
  model are refused (``ModelMismatch``).
- Text, per language: where the cluster has the analyzer production clusters use for a language
  (``english`` from the analysis-common module, ``kuromoji`` from the analysis-kuromoji
  plugin), the article's title and body go into ``title_<lang>`` / ``body_<lang>`` fields
  analysed by it, and queries send the text as typed to those fields. Otherwise (a core-only
  node, another language, or ``text_analysis="tokens"``) the tokens newsmon computed (Sudachi
  for Japanese, Snowball stems for English) go into ``title_tokens`` / ``body_tokens`` fields
  analysed by ``whitespace``, which makes BM25 here rank the same tokens as FTS5 in the
  embedded backend. Which analyzers an index uses is decided when it is built (probed with
  ``_analyze``) and recorded in its ``_meta``; a cluster that gains or loses one gets a new
  index at the next ``newsmon index``.
- Vectors: ``dense_vector`` (cosine, the model's dimension) in an int8-quantised HNSW graph
  where the server has it, candidates rescored on the float vectors; kNN with the filters applied
  inside the search.
- Filters and facets: keyword fields (lang, source, story, entities, topic labels), topic scores
  as floats under ``topics.<name>``, ``published`` as a date.
- Writes: ``streaming_bulk`` with retries on 429/5xx and the article id as ``_id``.

Every client error surfaces as ``IndexingError`` with a one-line reason.
"""
from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import numpy as np

from newsmon.index.core.errors import IndexingError
from newsmon.index.core.times import utc_iso
from newsmon.index.search.backend import FACETS, Filters, Hit, IndexDoc

log = logging.getLogger(__name__)

MAPPING_VERSION = 2  # 2: int8_hnsw vectors, rescored
# dense_vector index types, the first the server accepts: quantised where it can be
VECTOR_INDEXES = ("int8_hnsw", "hnsw")
RESCORE_OVERSAMPLE = 3.0
RETRY_STATUS = (429, 502, 503, 504)
# the analyzers production clusters have, per language; used where the cluster has them
SERVER_ANALYZERS = {"en": "english", "ja": "kuromoji"}
TEXT_ANALYSIS = ("auto", "tokens")
MAX_ANALYZED_CHARS = 1000   # query text sent to server analyzers (a 10 kB paste is cut)
MAX_ANALYZED_WORD = 255     # a longer run without spaces is cut (Lucene's own token limit)
SOURCE_EXCLUDES = ["vector", "title_tokens", "body_tokens", "topic_labels", "model",
                   *(f"{f}_{lang}" for lang in SERVER_ANALYZERS for f in ("title", "body"))]
HIT_EXCLUDES = [*SOURCE_EXCLUDES, "body"]   # hits: no body (the caller reads the few it shows)
T = TypeVar("T")


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]


def _wrap(fn: Callable[..., T]) -> Callable[..., T]:
    """Client and transport errors become IndexingError with a one-line reason."""

    @functools.wraps(fn)
    def inner(self: ElasticBackend, *args: Any, **kwargs: Any) -> T:
        from elasticsearch import ApiError, TransportError

        try:
            return fn(self, *args, **kwargs)
        except IndexingError:
            raise
        except TransportError as exc:
            raise IndexingError(f"Elasticsearch at {self.url} is unreachable: "
                                f"{type(exc).__name__}: {_reason(exc)}",
                                reason="unreachable") from exc
        except ApiError as exc:
            raise IndexingError(f"Elasticsearch at {self.url} refused {fn.__name__}: "
                                f"{exc.meta.status} {_reason(exc)}", reason="refused") from exc

    return inner


def mapping(dim: int | None, vector_index: str = "int8_hnsw",
            analyzers: dict[str, str] | None = None) -> dict[str, Any]:
    """``analyzers``: language → the server analyzer its text fields use (none: tokens only)."""
    props: dict[str, Any] = {
        "id": {"type": "keyword"},
        "url": {"type": "keyword", "index": False},
        "title": {"type": "text", "index": False},
        "body": {"type": "text", "index": False},
        "title_tokens": {"type": "text", "analyzer": "whitespace"},
        "body_tokens": {"type": "text", "analyzer": "whitespace"},
        "lang": {"type": "keyword"},
        "source": {"type": "keyword"},
        "story": {"type": "keyword"},
        "published": {"type": "date"},
        "entities": {"type": "keyword"},
        "topic_labels": {"type": "keyword"},
        "topics": {"type": "object", "dynamic": True},
        "model": {"type": "keyword"},
    }
    for lang, analyzer in sorted((analyzers or {}).items()):
        props[f"title_{lang}"] = {"type": "text", "analyzer": analyzer}
        props[f"body_{lang}"] = {"type": "text", "analyzer": analyzer}
    if dim:
        # int8-quantised HNSW (a quarter of the graph's vector memory); queries rescore the
        # candidates on the float vectors (``rescore_vector``), so kNN still ranks like exact
        # cosine search. A server without int8_hnsw gets plain "hnsw" (see ``prepare``).
        props["vector"] = {"type": "dense_vector", "dims": dim, "index": True,
                           "similarity": "cosine", "index_options": {"type": vector_index}}
    return {"dynamic_templates": [{"topic_scores": {
                "path_match": "topics.*", "mapping": {"type": "float"}}}],
            "properties": props}


def filter_clauses(f: Filters) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if f.lang:
        out.append({"term": {"lang": f.lang}})
    if f.sources:
        out.append({"terms": {"source": list(f.sources)}})
    for topic in f.topics:
        if f.min_topic_score is None:
            out.append({"term": {"topic_labels": topic}})
        else:
            out.append({"range": {f"topics.{topic}": {"gte": f.min_topic_score}}})
    for entity in f.entity_keys:
        out.append({"term": {"entities": entity}})
    if f.since is not None or f.until is not None:
        rng: dict[str, Any] = {}
        if f.since is not None:
            rng["gte"] = utc_iso(f.since)
        if f.until is not None:
            rng["lt"] = utc_iso(f.until)
        out.append({"range": {"published": rng}})
    if f.ids is not None:
        out.append({"ids": {"values": list(f.ids)}})
    return out


def _doc(source: dict[str, Any]) -> dict[str, Any]:
    return {"id": source["id"], "url": source["url"], "title": source["title"],
            "body": source.get("body", ""), "lang": source.get("lang"), "source": source["source"],
            "published": source.get("published"), "story": source.get("story"),
            "topics": source.get("topics") or {}, "entities": source.get("entities") or []}


class ElasticBackend:
    name = "elasticsearch"
    cursor_name = "backend:elasticsearch"

    def __init__(self, url: str, *, alias: str = "newsmon-articles", api_key: str | None = None,
                 timeout: float = 30.0, client: Any = None, text_analysis: str = "auto",
                 server_analyzers: dict[str, str] | None = None) -> None:
        """``text_analysis``: "auto" uses the cluster's analyzers where it has them
        (``server_analyzers``, by default SERVER_ANALYZERS), "tokens" never does."""
        from elasticsearch import Elasticsearch

        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", alias):
            raise IndexingError(f"invalid Elasticsearch index name {alias!r}")
        if text_analysis not in TEXT_ANALYSIS:
            raise IndexingError(f"unknown text analysis {text_analysis!r}; allowed: "
                                f"{', '.join(TEXT_ANALYSIS)}")
        self.text_analysis = text_analysis
        self.server_analyzers = dict(SERVER_ANALYZERS if server_analyzers is None
                                     else server_analyzers)
        self._write_analyzers: dict[str, str] | None = None   # of the index prepare() chose
        self.url = url
        self.alias = alias
        self.es = client or Elasticsearch(url, api_key=api_key, request_timeout=timeout,
                                          retry_on_timeout=True, max_retries=2)
        self._write = alias         # where writes go: the alias, or the index being built
        self._building: str | None = None
        # (when read, index behind the alias, its _meta): searches re-read it every 2 s
        self._meta_cache: tuple[float, str | None, dict[str, Any] | None] = (0.0, None, None)

    # -- the alias and its index ----------------------------------------------------------------
    def _current(self) -> tuple[str | None, dict[str, Any] | None]:
        """The index behind the alias and its _meta (None, None when there is none)."""
        if not self.es.indices.exists_alias(name=self.alias):
            return None, None
        target = next(iter(self.es.indices.get_alias(name=self.alias)))
        meta = self.es.indices.get_mapping(index=target)[target]["mappings"].get("_meta") or {}
        return target, meta

    def _versions(self) -> list[int]:
        found = self.es.indices.get(index=f"{self.alias}-v*", allow_no_indices=True,
                                    expand_wildcards="all")
        out = []
        for name in found:
            m = re.fullmatch(re.escape(self.alias) + r"-v(\d+)", name)
            if m:
                out.append(int(m.group(1)))
        return sorted(out)

    def _cached(self) -> tuple[str | None, dict[str, Any] | None]:
        at, target, meta = self._meta_cache
        if time.monotonic() - at >= 2.0:
            target, meta = self._current()
            self._meta_cache = (time.monotonic(), target, meta)
        return target, meta

    def _index_meta(self) -> dict[str, Any] | None:
        return self._cached()[1]

    def _available_analyzers(self) -> dict[str, str]:
        """The server analyzers this cluster has, per language (asked with ``_analyze``)."""
        if self.text_analysis == "tokens":
            return {}
        from elasticsearch import ApiError

        found = {}
        for lang, analyzer in self.server_analyzers.items():
            try:
                self.es.indices.analyze(analyzer=analyzer, text="newsmon")
            except ApiError as exc:
                # 400 "failed to find global analyzer [kuromoji]"; a key without the right
                # to analyse (403) gets tokens as well
                log.info("elasticsearch: no %s analyzer for %s text (%s %s); newsmon's tokens "
                         "are indexed instead", analyzer, lang, exc.meta.status, _reason(exc))
                continue
            found[lang] = analyzer
        return found

    def _analyzers(self) -> dict[str, str]:
        """The analyzers of the index searched (from its _meta)."""
        return dict((self._index_meta() or {}).get("analyzers") or {})

    @_wrap
    def model(self) -> str | None:
        meta = self._index_meta()
        return meta.get("model") if meta else None

    @_wrap
    def prepare(self, model: str | None, dim: int | None, *, rebuild: bool = False) -> bool:
        target, meta = self._current()
        analyzers = self._available_analyzers()
        wanted = {"model": model, "dim": dim, "mapping_version": MAPPING_VERSION}
        if target and meta and not rebuild and all(meta.get(k) == v for k, v in wanted.items()) \
                and (meta.get("analyzers") or {}) == analyzers:
            self._write, self._building = target, None
            self._write_analyzers = analyzers
            return False
        # unfinished builds of earlier runs (never behind the alias) go first
        versions = self._versions()
        for v in versions:
            name = f"{self.alias}-v{v}"
            if name != target:
                self.es.indices.delete(index=name, ignore_unavailable=True)
        new = f"{self.alias}-v{(versions[-1] + 1) if versions else 1}"
        from elasticsearch import BadRequestError

        settings = {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "-1"}
        for vector_index in VECTOR_INDEXES:
            body = mapping(dim, vector_index, analyzers)
            body["_meta"] = {**wanted, "complete": False, "vector_index": vector_index,
                             "analyzers": analyzers}
            try:
                self.es.indices.create(index=new, mappings=body, settings=settings)
                break
            except BadRequestError as exc:
                if not dim or vector_index == VECTOR_INDEXES[-1] or "index_options" not in \
                        str(exc):
                    raise
                log.info("elasticsearch: %s refused (%s); trying %s", vector_index,
                         _reason(exc), VECTOR_INDEXES[-1])
        log.info("elasticsearch: building %s (model %s, dim %s, text analysed by %s) behind %s",
                 new, model, dim, ", ".join(f"{a} ({lang})" for lang, a in analyzers.items())
                 or "newsmon's tokens", self.alias)
        self._write, self._building = new, new
        self._write_analyzers = analyzers
        return True

    @_wrap
    def finish(self) -> None:
        """Make writes visible; a full build gets the alias (atomically) and the old index
        is dropped."""
        if self._building is None:
            if self.es.indices.exists_alias(name=self.alias):
                self.es.indices.refresh(index=self.alias)
            return
        new = self._building
        self.es.indices.put_settings(index=new, settings={"refresh_interval": "1s"})
        self.es.indices.refresh(index=new)
        meta = self.es.indices.get_mapping(index=new)[new]["mappings"].get("_meta") or {}
        self.es.indices.put_mapping(index=new, meta={**meta, "complete": True})
        old, _ = self._current()
        actions: list[dict[str, Any]] = [{"add": {"index": new, "alias": self.alias}}]
        if old:
            actions.insert(0, {"remove": {"index": old, "alias": self.alias}})
        self.es.indices.update_aliases(actions=actions)
        if old and old != new:
            self.es.indices.delete(index=old, ignore_unavailable=True)
        self._write, self._building = self.alias, None
        self._meta_cache = (0.0, None, None)

    # -- writing ------------------------------------------------------------------------------
    def _action(self, d: IndexDoc, analyzers: dict[str, str]) -> dict[str, Any]:
        src: dict[str, Any] = {
            "id": d.id, "url": d.url, "title": d.title, "body": d.body, "lang": d.lang,
            "source": d.source, "story": d.story, "published": utc_iso(d.published),
            "entities": list(d.entities), "topic_labels": sorted(d.topics),
            "topics": dict(d.topics), "model": d.model,
        }
        if d.lang in analyzers:
            src[f"title_{d.lang}"], src[f"body_{d.lang}"] = d.title, d.body
        else:
            src["title_tokens"], src["body_tokens"] = d.title_tokens, d.body_tokens
        if d.vector is not None:
            src["vector"] = np.asarray(d.vector, dtype=np.float32).tolist()
        return {"_op_type": "index", "_index": self._write, "_id": d.id, "_source": src}

    def _bulk(self, actions: Iterable[dict[str, Any]]) -> int:
        from elasticsearch.helpers import streaming_bulk

        ok_count, errors = 0, []
        for ok, item in streaming_bulk(self.es, actions, chunk_size=500, max_retries=3,
                                       initial_backoff=1, retry_on_status=RETRY_STATUS,
                                       raise_on_error=False, raise_on_exception=True):
            op = next(iter(item.values()))
            if ok or (op.get("status") == 404 and "delete" in item):
                ok_count += 1
            else:
                errors.append(op)
        if errors:
            first = errors[0]
            raise IndexingError(
                f"Elasticsearch rejected {len(errors)} documents; first {first.get('_id')}: "
                f"{first.get('status')} {str(first.get('error'))[:200]}", reason="rejected")
        return ok_count

    @_wrap
    def upsert(self, docs: Sequence[IndexDoc]) -> int:
        if not docs:
            return 0
        if self._write_analyzers is None:   # writes without prepare(): the alias's index
            self._write_analyzers = self._analyzers()
        analyzers = self._write_analyzers
        return self._bulk(self._action(d, analyzers) for d in docs)

    @_wrap
    def delete(self, ids: Iterable[str]) -> int:
        ids = list(ids)
        if not ids:
            return 0
        return self._bulk({"_op_type": "delete", "_index": self._write, "_id": i} for i in ids)

    @_wrap
    def delete_source(self, source: str) -> int:
        if not self._exists():
            return 0
        # ids found by search, deleted in bulk: _delete_by_query belongs to the reindex module,
        # which a core-only node lacks. Each round is refreshed so the next finds what is left.
        deleted = 0
        while True:
            self.es.indices.refresh(index=self.alias)
            res = self.es.search(index=self.alias, query={"term": {"source": source}},
                                 source=False, size=1000, track_total_hits=False)
            ids = [h["_id"] for h in res["hits"]["hits"]]
            if not ids:
                return deleted
            deleted += self._bulk({"_op_type": "delete", "_index": self.alias, "_id": i}
                                  for i in ids)

    # -- reading ------------------------------------------------------------------------------
    def _exists(self) -> bool:
        if self._building is not None or self._meta_cache[1] is None:
            self._meta_cache = (0.0, None, None)   # while writing, or nothing seen yet: ask
        return self._cached()[0] is not None

    @_wrap
    def get(self, article_id: str) -> dict[str, Any] | None:
        if not self._exists():
            return None
        res = self.es.options(ignore_status=404).get(
            index=self.alias, id=article_id, source_excludes=SOURCE_EXCLUDES)
        return _doc(res["_source"]) if res.get("found") else None

    @_wrap
    def count(self, filters: Filters | None = None) -> int:
        if not self._exists():
            return 0
        query = {"bool": {"filter": filter_clauses(filters or Filters())}}
        return int(self.es.count(index=self.alias, query=query)["count"])

    @_wrap
    def ids(self) -> list[str]:
        if not self._exists():
            return []
        from elasticsearch.helpers import scan

        return sorted(h["_id"] for h in scan(self.es, index=self.alias, query={
            "query": {"match_all": {}}}, _source=False))

    def _keyword_body(self, tokens: Sequence[str], filters: Filters, k: int,
                      text: str = "") -> dict[str, Any]:
        joined = " ".join(tokens)
        token_clauses: list[dict[str, Any]] = [
            {"match": {"title_tokens": {"query": joined, "boost": 2.0}}},
            {"match": {"body_tokens": {"query": joined}}}]
        analyzers = self._analyzers()
        if analyzers:
            # the server analyses the query as typed, once per language field; documents in
            # other languages are matched on newsmon's tokens
            typed = " ".join(w[:MAX_ANALYZED_WORD]
                             for w in (text.strip() or joined).split())[:MAX_ANALYZED_CHARS]
            should: list[dict[str, Any]] = []
            for lang in sorted(analyzers):
                should += [{"match": {f"title_{lang}": {"query": typed, "boost": 2.0}}},
                           {"match": {f"body_{lang}": {"query": typed}}}]
            should.append({"bool": {"should": token_clauses, "minimum_should_match": 1,
                                     "must_not": [{"terms": {"lang": sorted(analyzers)}}]}})
        else:
            should = token_clauses
        # ordered by score alone and no total count, so Lucene can skip documents that cannot
        # enter the top k (block-max WAND); a tie-break sort field would make it score every
        # match. Ties are ordered by id here, after the fact.
        return {"size": k, "track_total_hits": False, "query": {"bool": {
            "should": should, "minimum_should_match": 1, "filter": filter_clauses(filters)}},
            "_source": {"excludes": HIT_EXCLUDES}}

    @staticmethod
    def _keyword_hits(res: Any) -> list[Hit]:
        ranked = sorted(res["hits"]["hits"], key=lambda h: (-float(h["_score"]), h["_id"]))
        return [Hit(h["_id"], float(h["_score"]), _doc(h["_source"]), keyword_rank=i,
                    keyword_score=float(h["_score"]))
                for i, h in enumerate(ranked, start=1)]

    def _semantic_body(self, vector: np.ndarray, filters: Filters, k: int) -> dict[str, Any]:
        q = np.asarray(vector, dtype=np.float32).reshape(-1).tolist()
        knn: dict[str, Any] = {"field": "vector", "query_vector": q, "k": k,
                               "num_candidates": min(10_000, max(3 * k, 200))}
        meta = self._index_meta() or {}
        if meta.get("vector_index", "hnsw") != "hnsw":
            # the int8 graph finds candidates; their float vectors order them
            knn["rescore_vector"] = {"oversample": RESCORE_OVERSAMPLE}
        clauses = filter_clauses(filters)
        if clauses:
            knn["filter"] = clauses
        return {"knn": knn, "size": k, "_source": {"excludes": HIT_EXCLUDES}}

    @staticmethod
    def _semantic_hits(res: Any) -> list[Hit]:
        hits = []
        for h in res["hits"]["hits"]:
            cosine = 2.0 * float(h["_score"]) - 1.0   # ES cosine score is (1 + cos) / 2
            hits.append((cosine, h))
        hits.sort(key=lambda x: (-x[0], x[1]["_id"]))
        return [Hit(h["_id"], c, _doc(h["_source"]), semantic_rank=i, semantic_score=c)
                for i, (c, h) in enumerate(hits, start=1)]

    @_wrap
    def keyword(self, tokens: Sequence[str], filters: Filters, k: int, *,
                text: str = "") -> list[Hit]:
        if not tokens or not self._exists():
            return []
        return self._keyword_hits(self.es.search(
            index=self.alias, body=self._keyword_body(tokens, filters, k, text)))

    @_wrap
    def semantic(self, vector: np.ndarray, filters: Filters, k: int) -> list[Hit]:
        if not self._exists():
            return []
        return self._semantic_hits(self.es.search(index=self.alias,
                                                  body=self._semantic_body(vector, filters, k)))

    @_wrap
    def keyword_and_semantic(self, tokens: Sequence[str], vector: np.ndarray, filters: Filters,
                             k: int, *, text: str = "") -> tuple[list[Hit], list[Hit]]:
        """Both halves of a hybrid query in one round trip (``_msearch``)."""
        if not self._exists():
            return [], []
        res = self.es.msearch(index=self.alias, searches=[
            {}, self._keyword_body(tokens, filters, k, text),
            {}, self._semantic_body(vector, filters, k)])
        for r in res["responses"]:
            if "error" in r:
                err = r["error"]
                reason = err.get("reason") or err.get("type") if isinstance(err, dict) else err
                raise IndexingError(f"Elasticsearch at {self.url} refused msearch: "
                                    f"{r.get('status')} {reason}", reason="refused")
        return self._keyword_hits(res["responses"][0]), self._semantic_hits(res["responses"][1])

    @_wrap
    def keyword_and_semantics(self, tokens: Sequence[str], vector: np.ndarray,
                              filters: Filters, semantic_filters: Sequence[Filters], k: int, *,
                              text: str = "") -> tuple[list[Hit], list[list[Hit]]]:
        """The keyword list and one semantic list per filter (the per-language lists of
        language-fair search) in one round trip (``_msearch``)."""
        if not self._exists():
            return [], [[] for _ in semantic_filters]
        searches: list[dict[str, Any]] = []
        if tokens:
            searches += [{}, self._keyword_body(tokens, filters, k, text)]
        for f in semantic_filters:
            searches += [{}, self._semantic_body(vector, f, k)]
        res = self.es.msearch(index=self.alias, searches=searches)
        for r in res["responses"]:
            if "error" in r:
                err = r["error"]
                reason = err.get("reason") or err.get("type") if isinstance(err, dict) else err
                raise IndexingError(f"Elasticsearch at {self.url} refused msearch: "
                                    f"{r.get('status')} {reason}", reason="refused")
        responses = list(res["responses"])
        keyword = self._keyword_hits(responses.pop(0)) if tokens else []
        return keyword, [self._semantic_hits(r) for r in responses]

    @_wrap
    def facets(self, filters: Filters, ids: Sequence[str]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {name: {} for name in FACETS}
        if not ids or not self._exists():
            return out
        res = self.es.search(index=self.alias, size=0, query={"bool": {"filter": [
            {"ids": {"values": list(ids)}}, *filter_clauses(filters)]}}, aggs={
            "lang": {"terms": {"field": "lang", "size": 10, "missing": "unknown"}},
            "source": {"terms": {"field": "source", "size": 100}},
            "topic": {"terms": {"field": "topic_labels", "size": 100}}})
        for name, field in (("lang", "lang"), ("source", "source"), ("topic", "topic")):
            for b in res["aggregations"][field]["buckets"]:
                out[name][b["key"]] = int(b["doc_count"])
        return out

    @_wrap
    def stats(self) -> dict[str, Any]:
        target, meta = self._current()
        return {"backend": self.name, "alias": self.alias, "index": target,
                "documents": self.count(), "model": (meta or {}).get("model"),
                "dim": (meta or {}).get("dim"),
                "mapping_version": (meta or {}).get("mapping_version"),
                "analyzers": (meta or {}).get("analyzers") or {}}

    def close(self) -> None:
        self.es.close()


__all__ = ["ElasticBackend", "mapping", "filter_clauses", "MAPPING_VERSION"]
