"""Approximate nearest-neighbour libraries for the embedded backend, side by side at one size:
build time, memory, recall@10 and recall@100 against exact search, query p50/p95 on one thread,
for a few search parameters per build (HNSW's ef, IVF's nprobe).

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


Search = Callable[[np.ndarray, int, int], np.ndarray]   # (query, k, search parameter)


def run(name: str, build: Callable[[], Search], sweep: tuple[int, ...], queries: np.ndarray,
        truth: dict[int, list[set[int]]], repeats: int) -> None:
    """Build once, then per search parameter (HNSW ef, IVF nprobe): recall and latency."""
    gc.collect()
    before = rss_mb()
    t = time.perf_counter()
    try:
        search = build()
    except ImportError as e:
        print(f"{name:<34} skipped: {e}", flush=True)
        return
    built = time.perf_counter() - t
    mem = rss_mb() - before
    for param in sweep:
        rec = {}
        for k in (10, 100):
            got = [set(map(int, search(q, k, param))) for q in queries]
            rec[k] = float(np.mean([len(g & t_) / k for g, t_ in zip(got, truth[k])]))
        times = []
        for _ in range(repeats):
            for q in queries:
                t = time.perf_counter()
                search(q, 100, param)
                times.append((time.perf_counter() - t) * 1000)
        print(f"{name:<30} {param:>5}  build {built:6.1f} s  +{mem:5.0f} MB  recall@10 "
              f"{rec[10]:.3f}  recall@100 {rec[100]:.3f}  k=100 p50 {pct(times, 50):6.2f} "
              f"p95 {pct(times, 95):6.2f} ms", flush=True)


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

    def numpy_exact() -> Search:
        return lambda q, k, _: exact(m, q, k)

    def usearch_hnsw(dtype: str, conn: int, ef_add: int) -> Callable[[], Search]:
        def build() -> Search:
            from usearch.index import Index

            index = Index(ndim=dim, metric="ip", dtype=dtype, connectivity=conn,
                          expansion_add=ef_add)
            index.add(np.arange(n), m, threads=args.threads)

            def search(q: np.ndarray, k: int, ef: int) -> np.ndarray:
                index.expansion_search = max(ef, k)
                return index.search(q, k, threads=1).keys
            return search
        return build

    def faiss_hnsw(conn: int, ef_add: int) -> Callable[[], Search]:
        def build() -> Search:
            import faiss

            faiss.omp_set_num_threads(args.threads)
            index = faiss.IndexHNSWFlat(dim, conn, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_add
            index.add(m)
            faiss.omp_set_num_threads(1)

            def search(q: np.ndarray, k: int, ef: int) -> np.ndarray:
                index.hnsw.efSearch = max(ef, k)
                return index.search(q[None, :], k)[1][0]
            return search
        return build

    def faiss_ivf(per_list: int, sq8: bool = False) -> Callable[[], Search]:
        def build() -> Search:
            import faiss

            faiss.omp_set_num_threads(args.threads)
            nlist = max(1, n // per_list)
            quant = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFScalarQuantizer(
                quant, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT) \
                if sq8 else faiss.IndexIVFFlat(quant, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(m[np.random.default_rng(1).choice(n, min(n, nlist * 40), False)])
            index.add(m)
            faiss.omp_set_num_threads(1)

            def search(q: np.ndarray, k: int, nprobe: int) -> np.ndarray:
                index.nprobe = nprobe
                return index.search(q[None, :], k)[1][0]
            return search
        return build

    def hnswlib_hnsw(conn: int, ef_add: int) -> Callable[[], Search]:
        def build() -> Search:
            import hnswlib

            index = hnswlib.Index(space="ip", dim=dim)
            index.init_index(max_elements=n, M=conn, ef_construction=ef_add)
            index.add_items(m, np.arange(n), num_threads=args.threads)
            index.set_num_threads(1)

            def search(q: np.ndarray, k: int, ef: int) -> np.ndarray:
                index.set_ef(max(ef, k))
                return index.knn_query(q, k=k)[0][0]
            return search
        return build

    def sqlite_vec() -> Search:
        import sqlite3

        import sqlite_vec as sv

        db = sqlite3.connect(":memory:")
        if not hasattr(db, "enable_load_extension"):
            raise ImportError("this Python's sqlite3 was built without loadable extensions")
        db.enable_load_extension(True)
        sv.load(db)
        db.execute(f"CREATE VIRTUAL TABLE v USING vec0(e float[{dim}] distance_metric=cosine)")
        db.executemany("INSERT INTO v(rowid, e) VALUES (?, ?)",
                       ((i, m[i].tobytes()) for i in range(n)))

        def search(q: np.ndarray, k: int, _: int) -> np.ndarray:
            rows = db.execute("SELECT rowid FROM v WHERE e MATCH ? AND k = ? ORDER BY distance",
                              (q.tobytes(), k)).fetchall()
            return np.asarray([r[0] for r in rows])
        return search

    efs = (128, 512, 1024)
    cands: list[tuple[str, Callable[[], Search], tuple[int, ...]]] = [
        ("numpy exact (baseline)", numpy_exact, (0,)),
        ("usearch hnsw f16 M16 add64", usearch_hnsw("f16", 16, 64), efs),
        ("usearch hnsw i8 M16 add64", usearch_hnsw("i8", 16, 64), efs),
        ("faiss hnsw flat M16 add64", faiss_hnsw(16, 64), efs),
        ("hnswlib M16 add64", hnswlib_hnsw(16, 64), efs),
        ("faiss ivf flat n/256 lists", faiss_ivf(256), (8, 16, 32, 64)),
        ("faiss ivf flat n/1024 lists", faiss_ivf(1024), (4, 8, 16, 32)),
        ("faiss ivf flat n/4096 lists", faiss_ivf(4096), (4, 8, 16)),
        ("faiss ivf sq8 n/1024 lists", faiss_ivf(1024, sq8=True), (8, 16, 32)),
        ("sqlite-vec vec0 (brute force)", sqlite_vec, (0,)),
    ]
    for name, build, sweep in cands:
        if args.only and not any(name.startswith(p) for p in args.only):
            continue
        run(name, build, sweep, queries, truth, args.repeats)


if __name__ == "__main__":
    main()
