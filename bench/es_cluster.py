"""A loopback Elasticsearch cluster (`.ci/es` with NEWSMON_ES_NODES): memory of its nodes, and
what keeping a document in its month costs a write, measured in the same run:

- memory: resident set (VmRSS) and JVM heap of every node, idle after the start and after a
  full build of --n documents (384-d vectors, first seen over three months, es_replicas=1);
- re-index: ``ElasticBackend.upsert`` of documents already indexed (it first asks the alias
  which monthly index holds each one, then bulk-writes there) against the same bulk writes of
  the same documents to indices known beforehand (no lookup), same batches, same cluster.

    nice -n 10 .venv/bin/python bench/es_cluster.py --n 3000 [--nodes 3]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _search_corpus import MODEL, Corpus  # noqa: E402

from newsmon.index.search.elastic import ElasticBackend  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BATCH = 500


def ci_es(instance: str, nodes: int, *args: str) -> str:
    env = {**os.environ, "NEWSMON_ES_INSTANCE": instance, "NEWSMON_ES_NODES": str(nodes),
           "NEWSMON_ES_OWNER_PID": str(os.getpid())}
    res = subprocess.run(["bash", str(REPO / ".ci" / "es"), *args], env=env, check=True,
                         capture_output=True, text=True)
    return res.stdout.strip()


def memory(be: ElasticBackend) -> list[tuple[str, int, int]]:
    """(node, VmRSS MiB, heap used MiB) of every node (the nodes run on this machine)."""
    info = be.es.nodes.info(metric="process")["nodes"]
    stats = be.es.nodes.stats(metric="jvm")["nodes"]
    out = []
    for node_id, node in sorted(info.items(), key=lambda kv: kv[1]["name"]):
        pid = node["process"]["id"]
        rss = 0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) // 1024
        heap = stats[node_id]["jvm"]["mem"]["heap_used_in_bytes"] // 2**20
        out.append((node["name"], rss, heap))
    return out


def show(label: str, rows: list[tuple[str, int, int]]) -> None:
    total = sum(r[1] for r in rows)
    print(f"{label}: " + ", ".join(f"{n} RSS {r} MiB heap {h} MiB" for n, r, h in rows)
          + f"; total RSS {total} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--nodes", type=int, default=3)
    args = ap.parse_args()
    instance = f"bench-{os.getpid()}-cluster"
    t = time.perf_counter()
    urls = ci_es(instance, args.nodes, "start").split(",")
    print(f"cluster of {len(urls)} nodes up in {time.perf_counter() - t:.0f} s: {','.join(urls)}")
    t0 = datetime(2026, 9, 1, tzinfo=UTC)
    docs = [dataclasses.replace(d, first_seen=t0 + timedelta(days=90 * k / args.n))
            for k, d in enumerate(Corpus().docs(args.n))]
    be = ElasticBackend(urls, alias="newsmon-bench", timeout=120, replicas=1)
    try:
        show("idle", memory(be))
        be.prepare(MODEL, docs[0].vector.shape[0], rebuild=True)
        t = time.perf_counter()
        for i in range(0, len(docs), BATCH):
            be.upsert(docs[i:i + BATCH])
        be.finish()
        build = time.perf_counter() - t
        be.es.cluster.health(wait_for_status="green", timeout="120s")
        print(f"full build: {args.n} docs in {build:.1f} s ({args.n / build:.0f} docs/s), "
              f"indices {be.stats()['indices']}")
        show("after the build", memory(be))

        be.prepare(MODEL, docs[0].vector.shape[0])
        t = time.perf_counter()
        for i in range(0, len(docs), BATCH):
            be.upsert(docs[i:i + BATCH])
        be.finish()
        ours = time.perf_counter() - t
        placed = {h["_id"]: h["_index"] for h in be.es.search(
            index=be.alias, size=args.n, source=False, query={"match_all": {}})["hits"]["hits"]}
        analyzers = be._write_analyzers or {}
        t = time.perf_counter()
        for i in range(0, len(docs), BATCH):
            be._bulk(be._action(d, analyzers, placed[d.id]) for d in docs[i:i + BATCH])
        be.finish()
        bare = time.perf_counter() - t
        print(f"re-index {args.n} docs: upsert (lookup + bulk) {ours:.1f} s, bulk to known "
              f"indices {bare:.1f} s: {ours / bare:.2f}x the bare time")
        show("after the re-index", memory(be))
    finally:
        be.close()
        ci_es(instance, args.nodes, "stop")


if __name__ == "__main__":
    main()
