"""`newsmon index` as a plain function: push what changed in the store to a search backend.

Each backend keeps a cursor in the store's change feed (``backend:sqlite``,
``backend:elasticsearch``). A run reads the changes after the cursor in batches, builds each
changed article's search document from the store (text and tokens, vector of the index's model,
story, labelled topics, entities), upserts it — or deletes it when the article is gone — and
moves the cursor past the batch only after the backend accepted it. So a crash, a kill -9 or an
unreachable cluster leaves the cursor at the last batch the backend holds, and the next run
re-sends the rest (upserts keyed by article id: nothing is duplicated).

A first run, ``--rebuild``, or a change of embedding model or mapping is a full build from the
articles table; the cursor then moves to the feed's head as it was when the build started.
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from newsmon.app.searchtext import search_text, text_hash
from newsmon.index.core.errors import ConfigError, IndexingError
from newsmon.index.core.settings import Settings, es_urls
from newsmon.index.core.times import parse_iso
from newsmon.index.search.backend import IndexDoc, SearchBackend
from newsmon.index.store import Store, StoreBase

log = logging.getLogger(__name__)

BACKENDS = ("sqlite", "elasticsearch")
ES_API_KEY_ENV = "NEWSMON_ES_API_KEY"


def open_backend(settings: Settings, store: StoreBase, name: str | None = None, *,
                 long_lived: bool = False) -> SearchBackend:
    """The configured search backend (``[index] backend``) or the one named. ``long_lived``:
    for a process that answers many queries (`newsmon serve`): the embedded backend then
    keeps an in-memory keyword cache (index/keyword_cache.py) and, from ANN_MIN_DOCS vectors,
    the ANN index (index/search/ann.py)."""
    name = name or settings.index.backend
    if name == "sqlite":
        from newsmon.index.search.embedded import ANN_MIN_DOCS, EmbeddedBackend

        if not isinstance(store, Store):
            raise ConfigError(f"the sqlite search backend keeps its index in the SQLite store; "
                              f"the store at {store.location} is not one: use elasticsearch")
        # a one-shot command asks a query or two: one exact product costs less than reading
        # (or building) the ANN index, which pays off only over many queries
        return EmbeddedBackend(store, keyword_cache=long_lived,
                               ann_min_docs=ANN_MIN_DOCS if long_lived else None)
    if name == "elasticsearch":
        from newsmon.index.search.elastic import ElasticBackend

        return ElasticBackend(es_urls(settings.index.es_url), alias=settings.index.es_index,
                              api_key=os.environ.get(ES_API_KEY_ENV) or None,
                              text_analysis=settings.index.es_text_analysis,
                              shards=settings.index.es_shards,
                              replicas=settings.index.es_replicas)
    raise ConfigError(f"unknown search backend {name!r}; allowed: {', '.join(BACKENDS)}")


def index_model(settings: Settings) -> str:
    """The embedding model whose vectors go into the index (the one enrich uses)."""
    return settings.enrich.model


def build_docs(store: StoreBase, ids: Sequence[str], model: str) -> tuple[list[IndexDoc], list[str]]:
    """Search documents of the articles ``ids`` (from the store), and the ids that are gone."""
    articles = {a.id: a for a in store.articles.get_many(ids)}
    gone = [i for i in ids if i not in articles]
    texts = store.search_text.get_many(articles)
    fresh = []
    for aid, art in articles.items():
        st = texts.get(aid)
        if st is None or st.text_hash != text_hash(art):
            texts[aid] = st = search_text(art)
            fresh.append(st)
    if fresh:
        store.search_text.save(fresh)
    vectors = store.vectors.get_vectors(list(articles), model)
    stories = store.vectors.stories(list(articles))
    first_seen = store.frontier.first_seen(list(articles))
    docs = []
    for aid in ids:
        if aid not in articles:
            continue
        art = articles[aid]
        st = texts[aid]
        topics = {t: round(float(v.get("score", 0.0)), 4) for t, v in (art.topics or {}).items()
                  if v.get("label")}
        entities: dict[str, None] = {}
        for e in art.entities or []:
            for key in (e.get("id"), e.get("name")):
                if key:
                    entities[str(key).strip().lower()] = None
        vector = vectors.get(aid)
        docs.append(IndexDoc(
            id=aid, url=art.canonical_url or art.url, title=st.title, body=st.body,
            title_tokens=st.title_tokens,
            body_tokens=st.body_tokens, source=art.source, lang=art.lang,
            published=art.published, story=stories.get(aid) or art.story, topics=topics,
            entities=tuple(entities), model=model if vector is not None else None,
            vector=vector, first_seen=parse_iso(first_seen.get(aid)) or art.fetched_at))
    return docs, gone


@dataclass(slots=True)
class IndexStats:
    backend: str
    model: str
    full: bool = False
    upserted: int = 0
    deleted: int = 0
    batches: int = 0
    cursor_before: int = 0
    cursor_after: int = 0
    head: int = 0
    seconds: float = 0.0
    documents: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def index_store(settings: Settings, store: StoreBase, *, backend: str | None = None,
                rebuild: bool = False, batch_size: int = 500,
                progress: Callable[[int, int], None] | None = None,
                target: SearchBackend | None = None) -> IndexStats:
    """Bring one backend up to date with the store; raises IndexingError when it fails (the
    cursor then stands after the last batch the backend accepted)."""
    started = time.perf_counter()
    be = target or open_backend(settings, store, backend)
    model = index_model(settings)
    stats = IndexStats(backend=be.name, model=model)
    try:
        cursor = store.cursors.get(be.cursor_name)
        stats.cursor_before = cursor
        head = store.changes.head()
        stats.head = head
        full = be.prepare(model, store.vectors.model_dim(model), rebuild=rebuild or cursor == 0)
        stats.full = full
        if full:
            ids = store.articles.ids()
            for start in range(0, len(ids), batch_size):
                docs, _ = build_docs(store, ids[start:start + batch_size], model)
                _push(store, be, docs, [], None)
                stats.upserted += len(docs)
                stats.batches += 1
                if progress:
                    progress(min(start + batch_size, len(ids)), len(ids))
            be.finish()
            _push(store, be, [], [], head)
            cursor = head
        while True:
            changes = store.changes.since(cursor, limit=batch_size)
            if not changes:
                break
            ids = list(dict.fromkeys(c.article_id for c in changes))
            docs, gone = build_docs(store, ids, model)
            _push(store, be, docs, gone, changes[-1].seq)
            stats.upserted += len(docs)
            stats.deleted += len(gone)
            stats.batches += 1
            cursor = changes[-1].seq
            if progress:
                progress(cursor, max(head, cursor))
        be.finish()
        stats.cursor_after = cursor
        stats.documents = be.count()
    finally:
        stats.seconds = round(time.perf_counter() - started, 3)
        if target is None:
            be.close()
    return stats


def _push(store: StoreBase, be: SearchBackend, docs: list[IndexDoc], gone: list[str],
          seq: int | None) -> None:
    """Send one batch; the cursor moves only after the backend accepted it. The embedded
    backend lives in the store file: its documents and its cursor commit in one transaction.
    A remote backend is written first, then the cursor (a crash between the two re-sends the
    batch next time, which the deterministic ids make harmless)."""
    local = getattr(be, "store", None) is store
    with store.transaction() if local else contextlib.nullcontext():
        if docs:
            be.upsert(docs)
        if gone:
            be.delete(gone)
        if seq is not None:
            store.cursors.set(be.cursor_name, seq)




__all__ = ["BACKENDS", "open_backend", "build_docs", "index_store", "IndexStats",
           "ES_API_KEY_ENV", "IndexingError"]
