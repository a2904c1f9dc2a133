"""Approximate nearest-neighbour libraries for the embedded backend, side by side at one size:
build time, memory, recall@10 and recall@100 against exact search, query p50/p95 on one thread.

The vectors have the search corpus's geometry (bench/_search_corpus.py: the real model's title
vectors of the devset plus Gaussian noise, re-normalised); the queries are the 34 devset
queries embedded by the real model. Exact search (``M @ q`` + ``argpartition``) is the baseline
of the same run. Libraries that are not installed are skipped with a line saying so (faiss-cpu,
hnswlib and sqlite-vec are not newsmon dependencies; install them into a folder of their own
and name it with ``--extra-path``).

    nice -n 10 .venv/bin/python bench/ann_candidates.py --size 100000 --extra-path DIR
"""
from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _search_corpus import Corpus  # noqa: E402


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 1e6


def vectors(corpus: Corpus, n: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = corpus.base_vectors[np.arange(n) % len(corpus.base_vectors)]
    v = base + rng.normal(0, corpus.noise / np.sqrt(corpus.dim), (n, corpus.dim))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v.astype(np.float32)


def exact(m: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    sims = m @ q
    top = np.argpartition(-sims, k - 1)[:k]
    return top[np.argsort(-sims[top])]


def run(name: str, build: Callable[[], Callable[[np.ndarray, int], np.ndarray]],
        queries: np.ndarray, truth: dict[int, list[set[int]]], repeats: int) -> None:
    gc.collect()
    before = rss_mb()
    t = time.perf_counter()
    try:
        search = build()
    except ImportError as e:
        print(f"{name:<34} skipped: {e}")
        return
    built = time.perf_counter() - t
    mem = rss_mb() - before
    rec = {}
    for k in (10, 100):
        got = [set(map(int, search(q, k))) for q in queries]
        rec[k] = float(np.mean([len(g & t_) / k for g, t_ in zip(got, truth[k])]))
    times = []
    for _ in range(repeats):
        for q in queries:
            t = time.perf_counter()
            search(q, 100)
            times.append((time.perf_counter() - t) * 1000)
    print(f"{name:<34} build {built:7.1f} s  +{mem:6.0f} MB  recall@10 {rec[10]:.3f}  "
          f"recall@100 {rec[100]:.3f}  k=100 p50 {pct(times, 50):6.2f} p95 {pct(times, 95):6.2f}"
          f" ms", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2, help="for building; queries use one")
    ap.add_argument("--extra-path", action="append", default=[],
                    help="a folder with candidate libraries (searched after the venv)")
    ap.add_argument("--only", nargs="*", help="candidate name prefixes to run")
    args = ap.parse_args()
    sys.path.extend(args.extra_path)
    corpus = Corpus()
    m = vectors(corpus, args.size)
    queries = np.vstack([q for _, q in corpus.queries()])
    truth = {k: [set(map(int, exact(m, q, k))) for q in queries] for k in (10, 100)}
    n, dim = m.shape
    print(f"{n} vectors, dim {dim}, {len(queries)} queries; matrix {m.nbytes / 1e6:.0f} MB")

    def numpy_exact() -> Callable[[np.ndarray, int], np.ndarray]:
        return lambda q, k: exact(m, q, k)

    def usearch_hnsw(dtype: str, conn: int, ef: int) -> Callable[[], Callable]:
        def build() -> Callable[[np.ndarray, int], np.ndarray]:
            from usearch.index import Index

            index = Index(ndim=dim, metric="ip", dtype=dtype, connectivity=conn,
                          expansion_add=128, expansion_search=ef)
            index.add(np.arange(n), m, threads=args.threads)

            def search(q: np.ndarray, k: int) -> np.ndarray:
                return index.search(q, k, threads=1).keys
            return search
        return build

    def faiss_hnsw(conn: int, ef: int) -> Callable[[], Callable]:
        def build() -> Callable[[np.ndarray, int], np.ndarray]:
            import faiss

            faiss.omp_set_num_threads(args.threads)
            index = faiss.IndexHNSWFlat(dim, conn, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 128
            index.add(m)
            faiss.omp_set_num_threads(1)
            index.hnsw.efSearch = ef

            def search(q: np.ndarray, k: int) -> np.ndarray:
                return index.search(q[None, :], k)[1][0]
            return search
        return build

    def faiss_ivf(nlist: int, nprobe: int) -> Callable[[], Callable]:
        def build() -> Callable[[np.ndarray, int], np.ndarray]:
            import faiss

            faiss.omp_set_num_threads(args.threads)
            quant = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quant, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(m[np.random.default_rng(1).choice(n, min(n, nlist * 40), False)])
            index.add(m)
            faiss.omp_set_num_threads(1)
            index.nprobe = nprobe

            def search(q: np.ndarray, k: int) -> np.ndarray:
                return index.search(q[None, :], k)[1][0]
            return search
        return build

    def hnswlib_hnsw(conn: int, ef: int) -> Callable[[], Callable]:
        def build() -> Callable[[np.ndarray, int], np.ndarray]:
            import hnswlib

            index = hnswlib.Index(space="ip", dim=dim)
            index.init_index(max_elements=n, M=conn, ef_construction=128)
            index.add_items(m, np.arange(n), num_threads=args.threads)
            index.set_ef(ef)
            index.set_num_threads(1)

            def search(q: np.ndarray, k: int) -> np.ndarray:
                return index.knn_query(q, k=k)[0][0]
            return search
        return build

    def sqlite_vec() -> Callable[[np.ndarray, int], np.ndarray]:
        import sqlite3

        import sqlite_vec as sv

        db = sqlite3.connect(":memory:")
        db.enable_load_extension(True)
        sv.load(db)
        db.execute(f"CREATE VIRTUAL TABLE v USING vec0(e float[{dim}] distance_metric=cosine)")
        db.executemany("INSERT INTO v(rowid, e) VALUES (?, ?)",
                       ((i, m[i].tobytes()) for i in range(n)))

        def search(q: np.ndarray, k: int) -> np.ndarray:
            rows = db.execute("SELECT rowid FROM v WHERE e MATCH ? AND k = ? ORDER BY distance",
                              (q.tobytes(), k)).fetchall()
            return np.asarray([r[0] for r in rows])
        return search

    cands: list[tuple[str, Callable]] = [
        ("numpy exact (baseline)", numpy_exact),
        ("usearch hnsw f32 M16 ef128", usearch_hnsw("f32", 16, 128)),
        ("usearch hnsw f32 M16 ef256", usearch_hnsw("f32", 16, 256)),
        ("usearch hnsw f16 M16 ef128", usearch_hnsw("f16", 16, 128)),
        ("usearch hnsw i8 M16 ef128", usearch_hnsw("i8", 16, 128)),
        ("faiss hnsw flat M16 ef128", faiss_hnsw(16, 128)),
        ("faiss ivf flat 1024/16", faiss_ivf(1024, 16)),
        ("hnswlib M16 ef128", hnswlib_hnsw(16, 128)),
        ("sqlite-vec vec0 (brute force)", sqlite_vec),
    ]
    for name, build in cands:
        if args.only and not any(name.startswith(p) for p in args.only):
            continue
        run(name, build, queries, truth, args.repeats)


if __name__ == "__main__":
    main()
