"""Story clustering in a first run, when a language has only a few articles: what to centre by.

Enriches the labelled devset (phase 1, then phase 2) into a temporary store with the default
model, then re-assigns stories offline in published order with the language means taken from
only the newest ``k`` articles of each language (a first run's sample), and compares:

- **baseline**: every language centred by the all-language mean (newsmon before issue 9 did
  this while a language had fewer than ``center_min_articles`` articles);
- **own mean** of ``k`` articles, with the configured ``story_early_margin`` added to both
  thresholds (newsmon now), and without it.

Pairwise precision / recall over all 69 articles, recall of cross-language pairs; ratio = own
mean with margin ÷ baseline, same run.

    .venv/bin/python bench/story_early.py
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from newsmon.enrich.pipeline import _language_means, _pool_item, build_context, enrich_store  # noqa: E402
from newsmon.enrich.stories import LanguageMeans, StoryAssigner, StoryParams  # noqa: E402
from newsmon.index.core.article import Article  # noqa: E402
from newsmon.index.core.settings import Settings  # noqa: E402
from newsmon.index.store import Store  # noqa: E402

DEVSET = ROOT.parent / "shared" / "devset"


def _article(r: dict) -> Article:
    return Article(url=r["url"], canonical_url=r["url"], source=r["source"], title=r["title"],
                   text=r["text"], published=datetime.fromisoformat(r["published"]))


def _means(ctx, store: Store, k: int | None, *, all_languages: bool) -> LanguageMeans:
    if k is None:
        return _language_means(ctx, store)
    means = LanguageMeans(ctx.embedder.dim, min_articles=10**9)  # never "enough": early
    for lang in store.vectors.embedding_langs(ctx.embedder.name):
        for chunks in store.vectors.iter_chunk_vectors(ctx.embedder.name, lang, newest=k):
            means.add(lang, chunks)
    if all_languages:
        total = sum(means._sums.values()) / sum(means._rows.values())  # noqa: SLF001
        means.mean = lambda lang: total.astype("float32")  # type: ignore[method-assign]
    return means


def _score(gold: dict, store: Store, ctx, params: StoryParams, means: LanguageMeans) -> dict:
    rows = store.vectors.story_pool_rows(list(gold), ctx.embedder.name, ctx.fingerprint_kind)
    items = sorted((_pool_item(dataclasses.replace(r, story=None), means, None) for r in rows),
                   key=lambda i: (i.published, i.id))
    assigner = StoryAssigner(params)
    for it in items:
        assigner.assign(it)
    pred = {i.id: i.story for i in items}
    tp = fp = fn = ctp = cfn = 0
    for a, b in itertools.combinations(sorted(gold), 2):
        same_pred, same_gold = pred[a] == pred[b], gold[a]["story"] == gold[b]["story"]
        tp += same_pred and same_gold
        fp += same_pred and not same_gold
        fn += same_gold and not same_pred
        if same_gold and gold[a]["lang"] != gold[b]["lang"]:
            ctp += same_pred
            cfn += not same_pred
    return {"P": tp / max(tp + fp, 1), "R": tp / max(tp + fn, 1),
            "cross_R": ctp / max(ctp + cfn, 1)}


def main() -> None:
    recs = [json.loads(line) for line in (DEVSET / "articles.jsonl").open(encoding="utf-8")]
    gold = {_article(r).id: r for r in recs}
    settings = Settings()
    ctx = build_context(settings)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "newsmon.db")
        for phase in (1, 2):
            store.articles.upsert(_article(r) for r in recs if r["phase"] == phase)
            enrich_store(settings, store, run_id=phase, context=ctx)
        margin = ctx.params.early_margin
        no_margin = dataclasses.replace(ctx.params, early_margin=0.0)
        print(f"story_early_margin = {margin}; pairwise over {len(gold)} devset articles")
        print(f"{'centring':<34} {'P':>6} {'R':>6} {'cross R':>8}")
        full = _score(gold, store, ctx, ctx.params, _means(ctx, store, None, all_languages=False))
        print(f"{'own mean, all articles':<34} {full['P']:6.3f} {full['R']:6.3f} "
              f"{full['cross_R']:8.3f}")
        for k in (3, 5, 8):
            base = _score(gold, store, ctx, no_margin, _means(ctx, store, k, all_languages=True))
            plain = _score(gold, store, ctx, no_margin, _means(ctx, store, k, all_languages=False))
            now = _score(gold, store, ctx, ctx.params, _means(ctx, store, k, all_languages=False))
            for name, s in ((f"all-language mean of {k}/lang (base)", base),
                            (f"own mean of {k}, no margin", plain),
                            (f"own mean of {k}, margin {margin}", now)):
                print(f"{name:<34} {s['P']:6.3f} {s['R']:6.3f} {s['cross_R']:8.3f}")
            print(f"{'  ratio P (now / base)':<34} {now['P'] / max(base['P'], 1e-9):6.2f}")
        store.close()


if __name__ == "__main__":
    main()
