"""The Elasticsearch backend: monthly indices of one generation behind an alias, fed from the store.

- ``newsmon-articles`` (the alias, which every search reads) → ``newsmon-articles-v3-2026.11``,
  ``-v3-2026.12``, …: one index per month in which articles were first seen (UTC), so old months
  can be kept, shrunk or dropped as a whole and no index grows without bound. A document's
  ``_id`` is the store's article id, and a document stays in the index that holds it: a
  correction or a re-index never moves it to another month. New months are created explicitly
  with the generation's mapping, ``[index] es_shards`` and ``es_replicas``, already behind the
  alias.
- Generations (``-v1``, ``-v2``, …): a full build (first run, ``--rebuild``, a new embedding
  model or mapping version) writes a new generation's monthly indices and swaps the alias from
  all the old ones to all the new ones in one ``update_aliases`` call when it is complete, so
  searches never see an empty or half-built index; the old generation is deleted after the
  swap. Each index's ``_meta`` records the embedding model, its dimension and the mapping
  version; queries embedded by another model are refused (``ModelMismatch``). An install with
  the single index of mapping version 2 (``<alias>-v<N>``) is rebuilt from the store into
  monthly indices by its next ``newsmon index``.
- Nodes: ``url`` may list several nodes of a cluster; the client spreads requests over them and
  retries one that fails to connect on another node.
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
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np

from newsmon.index.core.errors import IndexingError
from newsmon.index.core.times import utc_iso
from newsmon.index.search.backend import FACETS, Filters, Hit, IndexDoc

log = logging.getLogger(__name__)

# 2: int8_hnsw vectors, rescored; 3: one index per month of first sight (an install with a
# version-2 index rebuilds into monthly ones at its next `newsmon index`)
MAPPING_VERSION = 3
# dense_vector index types, the first the server accepts: quantised where it can be
VECTOR_INDEXES = ("int8_hnsw", "hnsw")
RESCORE_OVERSAMPLE = 3.0
RETRY_STATUS = (429, 502, 503, 504)
REPLICA_WAIT = "60s"   # for a new index's replicas to be in sync before it is written
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


def month_of(d: IndexDoc) -> str:
    """``YYYY.MM`` of the month the article was first seen (UTC): the suffix of its index."""
    at = d.first_seen or d.published or datetime.now(UTC)
    at = at.astimezone(UTC) if at.tzinfo else at
    return f"{at.year:04d}.{at.month:02d}"


def _split_urls(url: str | Sequence[str]) -> list[str]:
    urls = [u.strip() for u in (url.split(",") if isinstance(url, str) else url)]
    urls = [u for u in urls if u]
    if not urls:
        raise IndexingError("no Elasticsearch URL given")
    return urls


class ElasticBackend:
    name = "elasticsearch"
    cursor_name = "backend:elasticsearch"

    def __init__(self, url: str | Sequence[str], *, alias: str = "newsmon-articles",
                 api_key: str | None = None, timeout: float = 30.0, client: Any = None,
                 text_analysis: str = "auto", server_analyzers: dict[str, str] | None = None,
                 shards: int = 1, replicas: int = 0) -> None:
        """``url``: one node, or the nodes of one cluster (a list, or URLs separated by commas):
        the client spreads requests over them and retries a request that fails to connect on
        another node. ``text_analysis``: "auto" uses the cluster's analyzers where it has them
        (``server_analyzers``, by default SERVER_ANALYZERS), "tokens" never does. ``shards``,
        ``replicas``: of each monthly index this backend creates."""
        from elasticsearch import Elasticsearch

        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", alias):
            raise IndexingError(f"invalid Elasticsearch index name {alias!r}")
        if text_analysis not in TEXT_ANALYSIS:
            raise IndexingError(f"unknown text analysis {text_analysis!r}; allowed: "
                                f"{', '.join(TEXT_ANALYSIS)}")
        if shards < 1 or replicas < 0:
            raise IndexingError(f"shards must be >= 1 and replicas >= 0, got {shards}, {replicas}")
        self.text_analysis = text_analysis
        self.server_analyzers = dict(SERVER_ANALYZERS if server_analyzers is None
                                     else server_analyzers)
        self._write_analyzers: dict[str, str] | None = None   # of the index prepare() chose
        self.urls = _split_urls(url)
        self.url = ",".join(self.urls)
        self.alias = alias
        self.shards, self.replicas = shards, replicas
        # a connection error or timeout is retried on the next node; every node gets one try
        self.es = client or Elasticsearch(self.urls, api_key=api_key, request_timeout=timeout,
                                          retry_on_timeout=True,
                                          max_retries=max(2, len(self.urls)))
        self._gen: str | None = None        # generation written: "<alias>-v<N>"
        self._building = False              # a full build of _gen, not yet behind the alias
        self._create_body: dict[str, Any] | None = None   # mappings of _gen's monthly indices
        self._known: set[str] = set()       # monthly indices known to exist
        # (when read, generation behind the alias, its _meta): searches re-read it every 2 s
        self._meta_cache: tuple[float, str | None, dict[str, Any] | None] = (0.0, None, None)

    # -- the alias and its indices --------------------------------------------------------------
    def _parse(self, index: str) -> int | None:
        """The generation of one of our indices: ``<alias>-v<N>-YYYY.MM``, or ``<alias>-v<N>``
        of installs from before monthly indices; None for anything else."""
        m = re.fullmatch(re.escape(self.alias) + r"-v(\d+)(?:-\d{4}\.\d{2})?", index)
        return int(m.group(1)) if m else None

    def _alias_indices(self) -> list[str]:
        if not self.es.indices.exists_alias(name=self.alias):
            return []
        return sorted(self.es.indices.get_alias(name=self.alias))

    def _current(self) -> tuple[str | None, dict[str, Any] | None]:
        """The generation behind the alias and its _meta (None, None when there is none)."""
        indices = self._alias_indices()
        if not indices:
            return None, None
        gen = self._parse(indices[0])
        target = f"{self.alias}-v{gen}" if gen is not None else indices[0]
        meta = self.es.indices.get_mapping(index=indices[0])[indices[0]]["mappings"].get(
            "_meta") or {}
        return target, meta

    def _all_indices(self) -> dict[str, int]:
        """Every index of every generation (behind the alias or not) -> its generation."""
        found = self.es.indices.get(index=f"{self.alias}-v*", allow_no_indices=True,
                                    expand_wildcards="all")
        return {name: gen for name in found if (gen := self._parse(name)) is not None}

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

    def _settings(self, refresh: str) -> dict[str, Any]:
        return {"number_of_shards": self.shards, "number_of_replicas": self.replicas,
                "refresh_interval": refresh}

    @_wrap
    def prepare(self, model: str | None, dim: int | None, *, rebuild: bool = False) -> bool:
        target, meta = self._current()
        analyzers = self._available_analyzers()
        wanted = {"model": model, "dim": dim, "mapping_version": MAPPING_VERSION}
        self._known = set()
        if target and meta and not rebuild and all(meta.get(k) == v for k, v in wanted.items()) \
                and (meta.get("analyzers") or {}) == analyzers:
            self._gen, self._building = target, False
            self._write_analyzers = analyzers
            # months this generation has not seen yet are created like its others, already
            # behind the alias
            body = mapping(dim, meta.get("vector_index", "hnsw"), analyzers)
            body["_meta"] = meta
            self._create_body = {"mappings": body, "settings": self._settings("1s"),
                                 "aliases": {self.alias: {}}}
            indices = self._alias_indices()
            self._known = set(indices)
            if self.es.indices.get_settings(index=indices[0], name="index.number_of_replicas")[
                    indices[0]]["settings"]["index"]["number_of_replicas"] != str(self.replicas):
                # replicas can change on live indices (shards only on new ones)
                self.es.indices.put_settings(index=self.alias, settings={
                    "number_of_replicas": self.replicas})
            return False
        # unfinished builds of earlier runs (never behind the alias) go first
        behind = set(self._alias_indices())
        existing = self._all_indices()
        stale = sorted(name for name in existing if name not in behind)
        if stale:
            self.es.indices.delete(index=",".join(stale), ignore_unavailable=True)
        gen = f"{self.alias}-v{max(existing.values(), default=0) + 1}"
        from elasticsearch import BadRequestError

        # The month of the build is created at once: it tells which vector index the server
        # takes, and an empty store still leaves an index (holding the _meta) behind the alias.
        first = f"{gen}-{datetime.now(UTC):%Y.%m}"
        for vector_index in VECTOR_INDEXES:
            body = mapping(dim, vector_index, analyzers)
            body["_meta"] = {**wanted, "complete": False, "vector_index": vector_index,
                             "analyzers": analyzers}
            try:
                self.es.indices.create(index=first, mappings=body,
                                       settings=self._settings("-1"))
                break
            except BadRequestError as exc:
                if not dim or vector_index == VECTOR_INDEXES[-1] or "index_options" not in \
                        str(exc):
                    raise
                log.info("elasticsearch: %s refused (%s); trying %s", vector_index,
                         _reason(exc), VECTOR_INDEXES[-1])
        self._await_copies([first])
        log.info("elasticsearch: building %s-YYYY.MM (model %s, dim %s, text analysed by %s, "
                 "%d shards, %d replicas) behind %s", gen, model, dim,
                 ", ".join(f"{a} ({lang})" for lang, a in analyzers.items())
                 or "newsmon's tokens", self.shards, self.replicas, self.alias)
        self._create_body = {"mappings": body, "settings": self._settings("-1")}
        self._known = {first}
        self._gen, self._building = gen, True
        self._write_analyzers = analyzers
        return True

    def _generation_indices(self) -> list[str]:
        assert self._gen is not None
        found = self.es.indices.get(index=f"{self._gen}-*", allow_no_indices=True,
                                    expand_wildcards="all")
        return sorted(name for name in found if self._parse(name) is not None)

    @_wrap
    def finish(self) -> None:
        """Make writes visible; a full build gets the alias (atomically, all its monthly
        indices in one step) and the indices of the generation before are dropped."""
        if not self._building:
            if self.es.indices.exists_alias(name=self.alias):
                self.es.indices.refresh(index=self.alias)
            return
        new = self._generation_indices()
        pattern = f"{self._gen}-*"
        self.es.indices.put_settings(index=pattern, settings={"refresh_interval": "1s"})
        self.es.indices.refresh(index=pattern)
        meta = self.es.indices.get_mapping(index=new[0])[new[0]]["mappings"].get("_meta") or {}
        self.es.indices.put_mapping(index=pattern, meta={**meta, "complete": True})
        old = [i for i in self._alias_indices() if i not in new]
        actions: list[dict[str, Any]] = [{"remove": {"index": i, "alias": self.alias}}
                                         for i in old]
        actions += [{"add": {"index": i, "alias": self.alias}} for i in new]
        self.es.indices.update_aliases(actions=actions)
        if old:
            self.es.indices.delete(index=",".join(old), ignore_unavailable=True)
        if self._create_body is not None:
            self._create_body = {**self._create_body, "settings": self._settings("1s"),
                                 "aliases": {self.alias: {}}}
            self._create_body["mappings"] = {**self._create_body["mappings"],
                                             "_meta": {**meta, "complete": True}}
        self._building = False
        self._meta_cache = (0.0, None, None)

    # -- writing ------------------------------------------------------------------------------
    def _ensure(self, indices: Iterable[str]) -> None:
        """Create the monthly indices not there yet (explicitly, with the generation's mapping:
        a cluster that auto-creates indices would give them a guessed one)."""
        from elasticsearch import BadRequestError

        for index in sorted(set(indices) - self._known):
            if self._create_body is None:
                raise IndexingError(f"Elasticsearch index {index} is missing and the backend "
                                    "was not prepared to create it (call prepare first)")
            try:
                self.es.indices.create(index=index, **self._create_body)
            except BadRequestError as exc:
                # another process created it first
                if "resource_already_exists" not in str(exc):
                    raise
            self._known.add(index)
            self._await_copies([index])

    def _await_copies(self, indices: list[str]) -> None:
        """Wait until new indices have every replica in sync. A replica still recovering
        cannot take over: a node dying then would leave a shard without a primary (red) and
        its documents unwritable. Where the replicas cannot be placed (fewer nodes than
        copies) there is nothing to wait for."""
        if not self.replicas:
            return
        health = self.es.cluster.health(index=",".join(indices), wait_for_status="green",
                                        timeout=REPLICA_WAIT)
        if health["timed_out"] and health["number_of_data_nodes"] > self.replicas:
            log.warning("elasticsearch: the replicas of %s were not in sync after %s (%s); "
                        "writing anyway", ", ".join(indices), REPLICA_WAIT, health["status"])

    def _placed(self, ids: Sequence[str]) -> dict[str, str]:
        """article id -> the index holding it now (of the generation written)."""
        index = f"{self._gen}-*" if self._building else self.alias
        res = self.es.search(index=index, query={"ids": {"values": list(ids)}}, source=False,
                             size=len(ids), track_total_hits=False, allow_no_indices=True,
                             ignore_unavailable=True)
        return {h["_id"]: h["_index"] for h in res["hits"]["hits"]}

    def _action(self, d: IndexDoc, analyzers: dict[str, str], index: str) -> dict[str, Any]:
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
        return {"_op_type": "index", "_index": index, "_id": d.id, "_source": src}

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

    def _prepare_writes(self) -> None:
        """Writes without prepare() (tests, `sources remove`): into the alias's generation."""
        if self._gen is not None:
            return
        target, meta = self._current()
        if target is None or meta is None:
            raise IndexingError(f"Elasticsearch alias {self.alias} has no index yet; run "
                                "`newsmon index` first", reason="refused")
        self._gen, self._building = target, False
        self._write_analyzers = dict(meta.get("analyzers") or {})
        body = mapping(meta.get("dim"), meta.get("vector_index", "hnsw"), self._write_analyzers)
        body["_meta"] = meta
        self._create_body = {"mappings": body, "settings": self._settings("1s"),
                             "aliases": {self.alias: {}}}
        self._known = set(self._alias_indices())

    @_wrap
    def upsert(self, docs: Sequence[IndexDoc]) -> int:
        if not docs:
            return 0
        self._prepare_writes()
        analyzers = self._write_analyzers or {}
        # A document stays in the index that holds it: a correction or a re-index never
        # moves it to another month, even if the time it is filed under changed since. (A full
        # build writes each article once, into an empty generation: nothing to look up.)
        placed = {} if self._building else self._placed([d.id for d in docs])
        targets = [placed.get(d.id) or f"{self._gen}-{month_of(d)}" for d in docs]
        self._ensure(t for t in targets if t not in placed.values())
        return self._bulk(self._action(d, analyzers, t) for d, t in zip(docs, targets,
                                                                       strict=True))

    def _delete_placed(self, placed: dict[str, str]) -> int:
        return self._bulk({"_op_type": "delete", "_index": index, "_id": i}
                          for i, index in placed.items())

    @_wrap
    def delete(self, ids: Iterable[str]) -> int:
        ids = list(ids)
        if not ids or (self._gen is None and not self._exists()):
            return 0
        self._prepare_writes()
        # which month holds each one is asked of the index, after a refresh: a document
        # written moments ago (not yet searchable) must be found too
        self.es.indices.refresh(index=f"{self._gen}-*" if self._building else self.alias)
        return self._delete_placed(self._placed(ids))

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
            placed = {h["_id"]: h["_index"] for h in res["hits"]["hits"]}
            if not placed:
                return deleted
            deleted += self._delete_placed(placed)

    # -- reading ------------------------------------------------------------------------------
    def _exists(self) -> bool:
        if self._building or self._meta_cache[1] is None:
            self._meta_cache = (0.0, None, None)   # while writing, or nothing seen yet: ask
        return self._cached()[0] is not None

    @_wrap
    def get(self, article_id: str) -> dict[str, Any] | None:
        if not self._exists():
            return None
        # a search, not GET: GET needs one concrete index, and the alias spans the months
        res = self.es.search(index=self.alias, query={"ids": {"values": [article_id]}},
                             size=1, source_excludes=SOURCE_EXCLUDES, track_total_hits=False)
        hits = res["hits"]["hits"]
        return _doc(hits[0]["_source"]) if hits else None

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

    def semantics(self, vector: np.ndarray, filters: Sequence[Filters], k: int
                  ) -> list[list[Hit]]:
        """One semantic list per filter (language-fair search's per-language lists) in one
        round trip (``_msearch``)."""
        return self.keyword_and_semantics((), vector, Filters(), filters, k)[1]

    @_wrap
    def keyword_and_semantics(self, tokens: Sequence[str], vector: np.ndarray,
                              filters: Filters, semantic_filters: Sequence[Filters], k: int, *,
                              text: str = "", semantic_k: int | None = None
                              ) -> tuple[list[Hit], list[list[Hit]]]:
        """The keyword list (``k`` deep) and one semantic list per filter (``semantic_k`` deep:
        the per-language lists of language-fair search) in one round trip (``_msearch``)."""
        if not self._exists():
            return [], [[] for _ in semantic_filters]
        searches: list[dict[str, Any]] = []
        if tokens:
            searches += [{}, self._keyword_body(tokens, filters, k, text)]
        for f in semantic_filters:
            searches += [{}, self._semantic_body(vector, f, semantic_k or k)]
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
                "indices": self._alias_indices(),
                "documents": self.count(), "model": (meta or {}).get("model"),
                "dim": (meta or {}).get("dim"),
                "mapping_version": (meta or {}).get("mapping_version"),
                "analyzers": (meta or {}).get("analyzers") or {}}

    def close(self) -> None:
        self.es.close()


__all__ = ["ElasticBackend", "mapping", "filter_clauses", "MAPPING_VERSION"]
