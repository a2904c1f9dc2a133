"""Index throughput (articles/s) of both backends against a plain bulk of the same documents,
measured in the same run:

- embedded: ``EmbeddedBackend.upsert`` (search_docs + FTS5 rows, in the store file, batches of
  500 in one transaction each) vs a bare SQLite ``executemany`` INSERT of the same fields into
  a plain table of the same file, same batches;
- Elasticsearch (with --es-url): ``ElasticBackend.upsert`` (streaming_bulk with retries, into
  the index being built) vs ``elasticsearch.helpers.bulk`` of the same sources into an index
  with the same mapping;
- end to end: ``newsmon index`` work (``index_store``: reading articles from the store,
  computing the search text and Sudachi/Snowball tokens, then the embedded backend), on the
  same number of stored articles.

    .venv/bin/python bench/index_throughput.py --n 5000 [--es-url URL]
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _enrich_articles import synthetic_articles  # noqa: E402
from _search_corpus import MODEL, Corpus  # noqa: E402

from newsmon.app.indexing import index_store  # noqa: E402
from newsmon.index.core.codec import vector_to_bytes  # noqa: E402
from newsmon.index.core.settings import DataSettings, Settings  # noqa: E402
from newsmon.index.core.times import utc_iso  # noqa: E402
from newsmon.index.search.embedded import EmbeddedBackend  # noqa: E402
from newsmon.index.store import Store  # noqa: E402

BATCH = 500


def batches(docs):
    for i in range(0, len(docs), BATCH):
        yield docs[i:i + BATCH]


def timed_build(be, docs) -> float:
    """Seconds for a full build of ``docs`` through the backend contract."""
    be.prepare(MODEL, docs[0].vector.shape[0], rebuild=True)
    t = time.perf_counter()
    for b in batches(docs):
        be.upsert(b)
    be.finish()
    return time.perf_counter() - t


def bench_sqlite(docs) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        with Store(Path(tmp) / "a.db") as store:
            ours = timed_build(EmbeddedBackend(store), docs)
        db = sqlite3.connect(Path(tmp) / "b.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE plain (id TEXT PRIMARY KEY, url, title, body, title_tokens, "
                   "body_tokens, lang, source, published, topics, vector BLOB)")
        t = time.perf_counter()
        for b in batches(docs):
            db.execute("BEGIN")
            db.executemany("INSERT INTO plain VALUES (?,?,?,?,?,?,?,?,?,?,?)", [
                (d.id, d.url, d.title, d.body, d.title_tokens, d.body_tokens, d.lang, d.source,
                 utc_iso(d.published), str(d.topics), vector_to_bytes(d.vector)) for d in b])
            db.execute("COMMIT")
        bare = time.perf_counter() - t
        db.close()
    return ours, bare


def bench_es(docs, url: str) -> tuple[float, float]:
    from elasticsearch.helpers import bulk

    from newsmon.index.search.elastic import ElasticBackend, mapping

    alias = f"newsmon-bench-{uuid.uuid4().hex[:8]}"
    be = ElasticBackend(url, alias=alias, timeout=120)
    plain = f"{alias}-plain"
    try:
        ours = timed_build(be, docs)
        analyzers = be._write_analyzers or {}    # as newsmon chose (the cluster's analyzers)
        be.es.indices.create(index=plain, mappings=mapping(docs[0].vector.shape[0],
                                                           analyzers=analyzers), settings={
            "number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "-1"})
        sources = [be._action(d, analyzers, plain)["_source"] for d in docs]
        t = time.perf_counter()
        bulk(be.es, ({"_index": plain, "_id": s["id"], "_source": s} for s in sources),
             chunk_size=BATCH)
        be.es.indices.refresh(index=plain)
        bare = time.perf_counter() - t
    finally:
        be.es.indices.delete(index=f"{alias}-*", allow_no_indices=True)
        be.close()
    return ours, bare


def bench_end_to_end(n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data=DataSettings(dir=Path(tmp)))
        with Store(settings.data.store_path) as store:
            store.articles.upsert(synthetic_articles(n))
            t = time.perf_counter()
            stats = index_store(settings, store, backend="sqlite")
            assert stats.documents == n
            return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--es-url")
    args = ap.parse_args()
    docs = Corpus().docs(args.n)
    print(f"{args.n} documents (384-d vectors, remixed devset text); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    ours, bare = bench_sqlite(docs)
    print(f"embedded backend upsert   {args.n / ours:8.0f} docs/s  | bare SQLite insert "
          f"{args.n / bare:8.0f} docs/s | takes {ours / bare:.2f}x the bare time")
    if args.es_url:
        ours, bare = bench_es(docs, args.es_url)
        print(f"elasticsearch upsert      {args.n / ours:8.0f} docs/s  | helpers.bulk       "
              f"{args.n / bare:8.0f} docs/s | takes {ours / bare:.2f}x the bare time")
    e2e = bench_end_to_end(args.n)
    print(f"newsmon index (sqlite, tokenising from the store) {args.n / e2e:8.0f} articles/s")


if __name__ == "__main__":
    main()
