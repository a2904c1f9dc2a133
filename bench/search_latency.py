"""Search latency p50/p95 per mode at 10k and 100k articles, embedded backend (and
Elasticsearch with --es-url), against brute-force numpy over the same vectors in the same run.

Language-fair search (index/search/fair.py) is measured against the raw-cosine search it
replaced in the same run: "(raw)" rows are the same Searcher with the per-language statistics
switched off. The vectors are also stored as enrichment stores them, which is where the
statistics come from.

Timed: ``Searcher.search`` end to end (tokenising the query, the backend query or queries,
fusion, collapsing, snippets, facets, the story's other coverage), the query vector taken from
the Searcher's cache (the model's own time is the enrich benchmark's subject). Baseline:
``M @ q`` and ``argpartition`` for the top 10 over the same float32 matrix.

    .venv/bin/python bench/search_latency.py --sizes 10000 100000 [--es-url URL]

``--ann``: only the embedded backend's ANN graphs (index/search/ann.py) against exact search
over the same store, in one long-lived Searcher: the graphs' build time (no files yet) and
load time (from their files), their memory, hybrid and semantic p50/p95 both ways (as
`newsmon serve` runs them: keyword cache, language-fair), and recall@10 of the ANN results
against the exact ones (semantic lists and final hybrid results).

    nice -n 10 .venv/bin/python bench/search_latency.py --sizes 1000000 --ann --keep DIR
"""
from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _search_corpus import MODEL, Corpus  # noqa: E402

from newsmon.app.search import Searcher, SearchRequest  # noqa: E402
from newsmon.index.core.settings import DataSettings, IndexSettings, Settings  # noqa: E402
from newsmon.index.search.backend import Filters  # noqa: E402
from newsmon.index.search.embedded import EmbeddedBackend  # noqa: E402
from newsmon.index.search.fair import LangStats  # noqa: E402
from newsmon.index.store import Store  # noqa: E402
from newsmon.index.store.repos.changes import SearchText  # noqa: E402
from newsmon.index.store.repos.vectors import EmbeddingRow  # noqa: E402


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def report(name: str, r: dict[str, float], base: dict[str, float] | None) -> None:
    ratio = (f"  cpu p95 / numpy cpu p95 = {r['cpu_p95'] / max(base['cpu_p95'], 1e-3):.0f}x"
             if base else "")
    print(f"{name:<26} wall p50 {r['p50']:7.2f} p95 {r['p95']:7.2f} ms | cpu p50 "
          f"{r['cpu_p50']:6.2f} p95 {r['cpu_p95']:6.2f} ms{ratio} (n={r['n']})")


def fill(backend, corpus: Corpus, n: int, store: Store, batch: int = 2000) -> float:
    """Index n documents; their search text goes into the store as `newsmon index` leaves it
    (snippets are read from there). Returns the backend's share of the time."""
    spent = 0.0
    # the benchmark indexes documents without article rows: the search text's foreign key
    # to articles is off on this connection only
    store.connection.execute("PRAGMA foreign_keys=OFF")
    backend.prepare(MODEL, corpus.dim, rebuild=True)
    for start in range(0, n, batch):
        docs = corpus.docs(min(batch, n - start), start)
        store.search_text.save(SearchText(d.id, d.lang, d.title, d.body, d.title_tokens,
                                          d.body_tokens, "bench", "bench") for d in docs)
        store.vectors.save_embeddings(EmbeddingRow(
            d.id, MODEL, d.vector, d.vector[None, :], True, d.lang, d.published, "bench",
            "bench", b"") for d in docs if d.vector is not None)
        t = time.perf_counter()
        backend.upsert(docs)
        spent += time.perf_counter() - t
    t = time.perf_counter()
    backend.finish()
    return spent + time.perf_counter() - t


ALL_MODES = (("keyword", None), ("semantic", None), ("hybrid", None), ("hybrid", "ja"))
RAW_MODES = (("semantic", None), ("hybrid", None))


def raw(searcher: Searcher) -> None:
    """Switch language-fair scoring off (no statistics: raw cosines and rank fusion)."""
    searcher.lang_stats = lambda model: LangStats({}, {}, {})  # type: ignore[method-assign]


def measure_both(searcher: Searcher, queries, repeats: int) -> dict[str, dict[str, float]]:
    """Every mode language-fair, and semantic and hybrid raw (the search before it),
    interleaved: each query runs in every mode both ways in turn, after one untimed pass of the
    same, so neither side gets a colder cache or a quieter minute than the other (measured one
    after the other, the side measured second ran on a warmer Elasticsearch: the same code gave
    ratios of 1.21 and 1.34 in two runs)."""
    for text, vec in queries:
        searcher._vectors[text] = vec
    runs = [(mode, lang, False) for mode, lang in ALL_MODES] + \
        [(mode, lang, True) for mode, lang in RAW_MODES]

    def one(text: str, mode: str, lang: str | None, is_raw: bool) -> tuple[float, float]:
        if is_raw:
            raw(searcher)
        else:
            searcher.__dict__.pop("lang_stats", None)   # the class's: language-fair
        t, c = time.perf_counter(), time.process_time()
        searcher.search(SearchRequest(text, mode=mode, lang=lang))
        return (time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000

    for text, _ in queries:
        for run in runs:
            one(text, *run)
    samples: dict[tuple, tuple[list[float], list[float]]] = {run: ([], []) for run in runs}
    for _ in range(repeats):
        for text, _ in queries:
            for run in runs:
                wall, cpu = one(text, *run)
                samples[run][0].append(wall)
                samples[run][1].append(cpu)
    out = {}
    for (mode, lang, is_raw), (times, cpu) in samples.items():
        key = (mode if lang is None else f"{mode}+lang={lang}") + (" (raw)" if is_raw else "")
        out[key] = {"p50": pct(times, 50), "p95": pct(times, 95), "n": len(times),
                    "cpu_p50": pct(cpu, 50), "cpu_p95": pct(cpu, 95)}
    searcher.__dict__.pop("lang_stats", None)
    return out


def measure(searcher: Searcher, queries, repeats: int,
            modes=ALL_MODES) -> dict[str, dict[str, float]]:
    """Wall-clock and CPU-time percentiles per mode. On a shared machine (other work on the
    same 2 cores) wall time includes waiting for a core; the CPU time of this process is what
    a query costs."""
    out = {}
    for text, vec in queries:  # warm: the vector cache and the backend's matrix
        searcher._vectors[text] = vec
    searcher.search(SearchRequest(queries[0][0], mode="semantic"))
    for mode, lang in modes:
        times, cpu = [], []
        for _ in range(repeats):
            for text, _ in queries:
                t, c = time.perf_counter(), time.process_time()
                searcher.search(SearchRequest(text, mode=mode, lang=lang))
                times.append((time.perf_counter() - t) * 1000)
                cpu.append((time.process_time() - c) * 1000)
        key = mode if lang is None else f"{mode}+lang={lang}"
        out[key] = {"p50": pct(times, 50), "p95": pct(times, 95), "n": len(times),
                    "cpu_p50": pct(cpu, 50), "cpu_p95": pct(cpu, 95)}
    return out


def numpy_baseline(matrix: np.ndarray, queries, repeats: int) -> dict[str, float]:
    times, cpu = [], []
    for _ in range(repeats):
        for _, q in queries:
            t, c = time.perf_counter(), time.process_time()
            sims = matrix @ q
            top = np.argpartition(-sims, 10)[:10]
            top[np.argsort(-sims[top])]
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
    return {"p50": pct(times, 50), "p95": pct(times, 95), "n": len(times),
            "cpu_p50": pct(cpu, 50), "cpu_p95": pct(cpu, 95)}


def top_ids(searcher: Searcher, queries, mode: str, lang: str | None = None
            ) -> list[list[str]]:
    return [[h.id for h in searcher.search(SearchRequest(text, mode=mode, lang=lang)).results[:10]]
            for text, _ in queries]


def measure_ann(settings: Settings, corpus: Corpus, queries, repeats: int,
                min_docs: int | None = None) -> None:
    """ANN against exact search over one store, in the same run (see the module docstring)."""
    for old in settings.data.store_path.parent.glob(settings.data.store_path.name + ".ann"):
        for f in old.iterdir():
            f.unlink()
    with Store(settings.data.store_path) as store:
        be = EmbeddedBackend(store, ann_in_background=False)
        be._ann_min_docs = min_docs or be._ann_min_docs
        t = time.perf_counter()
        m = be._load_matrix()
        load_matrix = time.perf_counter() - t
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t = time.perf_counter()
        r = be.sync_ann(m)
        build = time.perf_counter() - t
        assert be._ann is not None
        graph_mb = be._ann.memory() / 1e6
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        be.close()
        del be, m
        gc.collect()
    folder = settings.data.store_path.with_name(settings.data.store_path.name + ".ann")
    files = {f.name: f.stat().st_size / 1e6 for f in folder.iterdir()}
    print(f"matrix read from the store in {load_matrix:.1f} s; ANN index built in {build:.1f} s "
          f"(rebuilt {r.rebuilt}); index {graph_mb:.0f} MB in memory, files "
          f"{', '.join(f'{k} {v:.0f} MB' for k, v in files.items())}; peak RSS {rss0:.0f} -> "
          f"{rss1:.0f} MB")
    with Searcher(settings, embedder=corpus.embedder, long_lived=True) as s:
        be = s.backend
        assert isinstance(be, EmbeddedBackend)
        be._ann_min_docs = min_docs or be._ann_min_docs
        t = time.perf_counter()
        be.warm(wait=True)
        be.semantic(queries[0][1], Filters(), 10)     # the matrix, and the graphs from files
        warm = time.perf_counter() - t
        assert be.ann_report is not None and not be.ann_report.rebuilt, be.ann_report
        print(f"long-lived searcher: keyword cache + matrix + ANN index from its files in "
              f"{warm:.1f} s (languages loaded: {be.ann_report.loaded})")
        modes = (("semantic", None), ("hybrid", None), ("hybrid", "ja"))
        # keyword alone (the same both ways): the share of hybrid that the ANN cannot touch
        ann = measure(s, queries, repeats, modes=(("keyword", None), *modes))
        got = {(mode, lang): top_ids(s, queries, mode, lang) for mode, lang in modes}
        be._ann_min_docs = None          # the same searcher, exact search
        exact = measure(s, queries, repeats, modes=modes)
        want = {(mode, lang): top_ids(s, queries, mode, lang) for mode, lang in modes}
        base = numpy_baseline(be._load_matrix().vectors, queries, repeats)
    report("numpy brute force top-10", base, None)
    report("keyword (cache)", ann["keyword"], base)
    for (mode, lang), key in zip(modes, exact):
        recall = np.mean([len(set(a) & set(b)) / max(len(b), 1)
                          for a, b in zip(got[mode, lang], want[mode, lang])])
        report(f"{key} exact", exact[key], base)
        report(f"{key} ANN", ann[key], base)
        print(f"{'':<26} ANN p95 / exact p95 = {ann[key]['p95'] / exact[key]['p95']:.2f}; "
              f"recall@10 against exact {recall:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000],
                    help="embedded-backend sizes (none: only --es-sizes)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--es-url")
    ap.add_argument("--es-sizes", type=int, nargs="+")
    ap.add_argument("--ann", action="store_true",
                    help="only the ANN graphs against exact search (see the docstring)")
    ap.add_argument("--ann-min-docs", type=int,
                    help="with --ann: the ANN threshold (default: the backend's)")
    ap.add_argument("--keep", type=Path,
                    help="build each embedded store in DIR/N (reused when it exists) and keep it")
    args = ap.parse_args()
    corpus = Corpus()
    queries = corpus.queries()
    print(f"{len(queries)} queries, dim {corpus.dim}, model {MODEL}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = args.keep / str(n) if args.keep else Path(tmp)
            settings = Settings(data=DataSettings(dir=folder))
            if args.keep and settings.data.store_path.exists():
                build = float("nan")
            else:
                folder.mkdir(parents=True, exist_ok=True)
                with Store(settings.data.store_path) as store:
                    build = fill(EmbeddedBackend(store), corpus, n, store)
            if args.ann:
                print(f"\n## sqlite, {n} articles, ANN against exact (store built in "
                      f"{build:.1f} s)")
                measure_ann(settings, corpus, queries, args.repeats, args.ann_min_docs)
                print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"
                      f" MB")
                continue
            with Searcher(settings, embedder=corpus.embedder) as s:
                one_shot = measure(s, queries, args.repeats, modes=(("keyword", None),))
            # as `newsmon serve` runs it: the keyword cache built (its time reported), then
            # every mode measured
            with Searcher(settings, embedder=corpus.embedder, long_lived=True) as s:
                t = time.perf_counter()
                s.backend.warm(wait=True)
                cache_s = time.perf_counter() - t
                res = measure_both(s, queries, args.repeats)
                matrix = s.backend._load_matrix().vectors
                base = numpy_baseline(matrix, queries, args.repeats * 3)
            size = settings.data.store_path.stat().st_size / 1e6
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\n## sqlite, {n} articles (built in {build:.1f} s, {n / build:.0f} docs/s; "
              f"store {size:.0f} MB; peak RSS {rss:.0f} MB)")
        report("numpy brute force top-10", base, None)
        report("keyword, one-shot (FTS5)", one_shot["keyword"], base)
        print(f"(long-lived searcher: keyword cache built in {cache_s:.1f} s; "
              f"peak RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"
              f" MB)")
        for mode, r in res.items():
            report(mode, r, base)
        gc.collect()
    if args.es_url:
        from newsmon.index.search.elastic import ElasticBackend

        for n in args.es_sizes or args.sizes:
            alias = f"newsmon-bench-{uuid.uuid4().hex[:8]}"
            with tempfile.TemporaryDirectory() as tmp:
                settings = Settings(data=DataSettings(dir=Path(tmp)),
                                    index=IndexSettings(backend="elasticsearch",
                                                        es_url=args.es_url, es_index=alias))
                be = ElasticBackend(args.es_url, alias=alias, timeout=120)
                try:
                    with Store(settings.data.store_path) as store:
                        build = fill(be, corpus, n, store, batch=1000)
                    be.es.indices.forcemerge(index=alias, max_num_segments=1)
                    with Searcher(settings, embedder=corpus.embedder) as s:
                        res = measure_both(s, queries, args.repeats)
                finally:
                    be.es.indices.delete(index=f"{alias}-v*", allow_no_indices=True)
                    be.close()
            print(f"\n## elasticsearch, {n} articles (built in {build:.1f} s, "
                  f"{n / build:.0f} docs/s)")
            for mode, r in res.items():
                report(mode, r, None)


if __name__ == "__main__":
    main()
