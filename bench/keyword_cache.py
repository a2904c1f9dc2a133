"""The embedded backend's keyword cache at scale: its search against the plain way of computing
the same top k, the same cache, the same queries, the same run.

The cache (index/search/keyword_cache.py) is built from the search benchmark's corpus
(bench/_search_corpus.py: devset paragraphs re-mixed, so every word is common) and asked the 34
devset queries for their top 100 (the depth hybrid search fuses), no filter and Japanese only.
Baseline: tests/helpers/bm25_reference.py, the cache's search before 2026-12-07 (fresh
temporaries for every term's postings, BM25's length norm recomputed per query, every matched
document ranked — at 1M articles a common term matches half the index). Both must return the
same list; the benchmark stops if they do not. Timed: CPU time, the best of ``--repeats``.

    .venv/bin/python bench/keyword_cache.py --n 1000000
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _enrich_articles import DEVSET  # noqa: E402
from _search_corpus import Corpus  # noqa: E402

from newsmon.app.searchtext import query_tokens  # noqa: E402
from newsmon.index.search.backend import Query  # noqa: E402
from newsmon.index.search.embedded import TITLE_WEIGHT  # noqa: E402
from newsmon.index.search.keyword_cache import KeywordCache, single_term  # noqa: E402
from tests.helpers.bm25_reference import plain_top_k  # noqa: E402


def rows(corpus: Corpus, n: int):
    for start in range(0, n, 5000):
        for i, d in enumerate(corpus.docs(min(5000, n - start), start)):
            yield (start + i + 1, d.id, d.lang, d.source, d.published.isoformat(),
                   json.dumps(d.topics), "[]", d.title_tokens, d.body_tokens)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    texts = [json.loads(x)["text"] for x in
             (DEVSET / "queries.jsonl").read_text("utf-8").splitlines() if x.strip()]
    queries = [[t for t in map(single_term, Query(tokens=query_tokens(q), text=q).keyword_tokens)
                if t] for q in texts]
    t = time.perf_counter()
    cache = KeywordCache.build(1, rows(Corpus(), args.n), TITLE_WEIGHT)
    print(f"{args.n} documents, {len(cache.docs)} postings, built in "
          f"{time.perf_counter() - t:.1f} s; {len(queries)} queries, top 100; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    ja = cache.lang == "ja"
    for label, mask in (("no filter", None), ("lang=ja", ja)):
        cpu: dict[str, list[float]] = {"before": [], "now": []}
        postings = []
        for terms in queries:
            spans = [(int(cache.offsets[cache.vocab[x]]), int(cache.offsets[cache.vocab[x] + 1]))
                     for x in terms if x in cache.vocab]
            postings.append(sum(hi - lo for lo, hi in spans))
            got = {}
            for name, search in (("before", lambda t, m: plain_top_k(cache, t, m, 100)),
                                 ("now", lambda t, m: cache.search(t, m, 100))):
                best = float("inf")
                for _ in range(args.repeats):
                    c = time.process_time()
                    got[name] = search(terms, mask)
                    best = min(best, time.process_time() - c)
                cpu[name].append(best * 1000)
            if got["before"] != got["now"]:
                sys.exit(f"the two differ for {terms}")
        print(f"\n{label}: postings per query p50 {pct(postings, 50):.0f}, max {max(postings)}")
        for name, xs in cpu.items():
            print(f"  {name:<10} CPU p50 {pct(xs, 50):6.2f} p95 {pct(xs, 95):6.2f} "
                  f"max {max(xs):6.2f} ms")
        print(f"  now / before: p50 {pct(cpu['now'], 50) / pct(cpu['before'], 50):.2f}, p95 "
              f"{pct(cpu['now'], 95) / pct(cpu['before'], 95):.2f}; the same results for all "
              f"{len(queries)} queries")


if __name__ == "__main__":
    main()
