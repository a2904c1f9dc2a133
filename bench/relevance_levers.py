"""Language-fair search levers and the relevance fit on ../shared/devset (BENCHMARKS.md,
"Language-fair search and calibrated relevance").

1. Semantic levers, scored with numpy over the stored document vectors: raw cosine,
   language-centred vectors, centred + per-language z-score, per-language z-score.
2. Hybrid: reciprocal rank fusion (the search before) and z + w x per-language BM25 for several
   w, through ``Searcher`` (``KEYWORD_WEIGHT`` set per run).
3. The relevance's logistic fit (A, B, C in newsmon/app/search.py) over every (query, article)
   pair of the non-held-out queries, by Newton's method (no extra dependency).

Metrics as tests/helpers/search_eval.py defines them: same-language MRR and cross-lingual MRR
with the answer only in the other language (the other language's / the query's own-language
relevant articles taken out of reach).

    .venv/bin/python bench/relevance_levers.py
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsmon.app.indexing import index_store  # noqa: E402
from newsmon.app.search import Searcher, SearchRequest  # noqa: E402
from newsmon.index.core.settings import DataSettings, Settings  # noqa: E402
from newsmon.index.search import backend as engine  # noqa: E402
from newsmon.index.search.fair import LangStats  # noqa: E402
from newsmon.index.store import Store  # noqa: E402
from tests.helpers.search_eval import HELD_OUT, devset_article, evaluate, load, rr  # noqa: E402


def build(folder: Path) -> dict[str, str]:
    from newsmon.enrich.pipeline import enrich_store

    records = load("articles.jsonl")
    settings = Settings(data=DataSettings(dir=folder))
    with Store(folder / "newsmon.db") as store:
        for phase in (1, 2):
            store.articles.upsert(devset_article(r) for r in records if r["phase"] == phase)
            enrich_store(settings, store, run_id=phase)
        index_store(settings, store)
    return {devset_article(r).id: r["id"] for r in records}


def semantic_levers(searcher: Searcher, ids: dict[str, str]) -> None:
    records = {r["id"]: r for r in load("articles.jsonl")}
    model = searcher.backend.model()
    assert model is not None
    rows = list(searcher.store.vectors.iter_vectors(model))
    dev = np.array([ids[a] for a, _ in rows])
    vecs = np.vstack([v for _, v in rows]).astype(np.float32)
    lang = np.array([records[d]["lang"] for d in dev])
    stats = LangStats.build(zip(lang, vecs, strict=True))
    centred = vecs.copy()
    for code in stats.langs:
        centred[lang == code] -= stats.means[code]
    centred /= np.linalg.norm(centred, axis=1, keepdims=True)

    def z_of(sims: np.ndarray) -> np.ndarray:
        out = sims.copy()
        for code in stats.langs:
            m = lang == code
            out[m] = (out[m] - out[m].mean()) / out[m].std()
        return out

    levers = {
        "raw cosine": lambda q: vecs @ q,
        "language-centred vectors": lambda q: centred @ q,
        "centred + per-language z-score": lambda q: z_of(centred @ q),
        "per-language z-score (moments)": lambda q: np.array(
            [stats.zscore(lang[i], q, float(s)) for i, s in enumerate(vecs @ q)]),
    }
    for name, score in levers.items():
        same, cross = [], []
        for q in load("queries.jsonl"):
            if not q["relevant"]:
                continue
            order = [dev[i] for i in np.argsort(-score(searcher._query_vector(q["text"])))]
            other = "ja" if q["lang"] == "en" else "en"
            own = {a for a in q["relevant"] if records[a]["lang"] == q["lang"]}
            far = {a for a in q["relevant"] if records[a]["lang"] == other}
            if own:
                same.append(rr([a for a in order if a not in far], own))
            if q["cross_lingual"] and far:
                cross.append(rr([a for a in order if a not in own], far))
        print(f"semantic | {name:<34} | same {np.mean(same):.3f} | cross-only "
              f"{np.mean(cross):.3f}")


def hybrid_levers(searcher: Searcher, ids: dict[str, str]) -> None:
    lang_of = {r["id"]: r["lang"] for r in load("articles.jsonl")}

    def run(text: str, mode: str, lang: str | None, exclude: frozenset[str] = frozenset()):
        only = tuple(a for a, d in ids.items() if d not in exclude) if exclude else None
        r = searcher.search(SearchRequest(text, mode=mode, lang=lang, limit=50,
                                          collapse=False, ids=only))
        return [ids[h.id] for h in r.results], None

    real_stats, real_weight = searcher.lang_stats, engine.KEYWORD_WEIGHT
    searcher.lang_stats = lambda model: LangStats({}, {}, {})  # type: ignore[method-assign]
    s = evaluate(run, load("queries.jsonl"), lang_of, "hybrid").summary()
    print(f"hybrid   | {'RRF k 60 (before)':<34} | same {s['mrr_same_only']:.3f} | cross-only "
          f"{s['mrr_cross_only']:.3f} | nDCG@10 {s['ndcg10']:.3f}")
    searcher.lang_stats = real_stats  # type: ignore[method-assign]
    for w in (1.0, 0.5, 0.25, 0.1, 0.0):
        engine.KEYWORD_WEIGHT = w
        s = evaluate(run, load("queries.jsonl"), lang_of, "hybrid").summary()
        print(f"hybrid   | {f'z + {w} x BM25/best of the language':<34} | same "
              f"{s['mrr_same_only']:.3f} | cross-only {s['mrr_cross_only']:.3f} | "
              f"nDCG@10 {s['ndcg10']:.3f}")
    engine.KEYWORD_WEIGHT = real_weight


def fit(searcher: Searcher, ids: dict[str, str]) -> None:
    x, y = [], []
    for q in load("queries.jsonl"):
        if q["id"] in HELD_OUT:
            continue
        for h in searcher.search(SearchRequest(q["text"], limit=100, collapse=False)).results:
            x.append((h.z or 0.0, h.evidence, 1.0))
            y.append(ids[h.id] in q["relevant"])
    X, t = np.array(x), np.array(y, dtype=float)
    w = np.zeros(3)
    for _ in range(50):   # Newton's method for the logistic log-likelihood (tiny ridge)
        p = 1 / (1 + np.exp(-X @ w))
        grad = X.T @ (t - p) - 1e-4 * w
        hess = (X * (p * (1 - p))[:, None]).T @ X + 1e-4 * np.eye(3)
        w += np.linalg.solve(hess, grad)
    print(f"relevance fit over {len(t)} pairs: A {w[0]:.2f}  B {w[1]:.2f}  C {w[2]:.2f}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ids = build(Path(tmp))
        with Searcher(Settings(data=DataSettings(dir=Path(tmp)))) as searcher:
            semantic_levers(searcher, ids)
            hybrid_levers(searcher, ids)
            fit(searcher, ids)


if __name__ == "__main__":
    main()
