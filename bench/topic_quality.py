"""Topic tagging quality on the development set: P/R/F1 per topic and language.

    python bench/topic_quality.py [--semantic] [--model NAME] [--topics PATH] [--verbose]

Without --semantic the score is term evidence alone; with it, articles and topic descriptions
are embedded with the model (default: the enrich default) and the calibrated semantic part is
added, as in enrichment. --verbose lists every article whose label is wrong and the articles
closest to each threshold, with their evidence, which is where a term-list change shows.
Also prints how long tagging + tokenising take per article (no embedding).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._metrics import topic_counts  # noqa: E402
from newsmon.enrich import text as text_mod  # noqa: E402
from newsmon.enrich.entities import find_entities, load_gazetteer  # noqa: E402
from newsmon.enrich.language import detect_language  # noqa: E402
from newsmon.enrich.topics import load_topics, score_topics, topic_vectors  # noqa: E402

DEVSET = ROOT.parent / "shared" / "devset" / "articles.jsonl"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--semantic", action="store_true")
    ap.add_argument("--model", default=None)
    ap.add_argument("--topics", default=str(ROOT / "config" / "topics.yaml"))
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    if not DEVSET.exists():
        print(f"devset not found at {DEVSET}", file=sys.stderr)
        return 2
    articles = [json.loads(line) for line in DEVSET.read_text(encoding="utf-8").splitlines() if line.strip()]
    topics = load_topics(args.topics)
    gaz = load_gazetteer(ROOT / "config" / "entities.yaml")

    # cost of the text side alone, first call per article (cache cleared) as in enrichment
    text_mod.analyze.cache_clear()
    t0 = time.perf_counter()
    for a in articles:
        detect_language(a["title"] + "\n\n" + a["text"])
        score_topics(a["title"], a["text"], a["lang"], topics)
        find_entities(a["title"], a["text"], a["lang"], gaz)
        text_mod.tokenize(a["text"], a["lang"])
    per_article_ms = (time.perf_counter() - t0) / len(articles) * 1000

    vectors = tv = None
    if args.semantic:
        from newsmon.enrich.embed import DEFAULT_MODEL, load_embedder

        emb = load_embedder(args.model or DEFAULT_MODEL)
        t1 = time.perf_counter()
        vectors = emb.embed_documents([a["title"] + "\n\n" + a["text"] for a in articles])
        embed_ms = (time.perf_counter() - t1) / len(articles) * 1000
        tv = topic_vectors(topics, emb)

    results = [
        score_topics(a["title"], a["text"], a["lang"], topics,
                     doc_vector=None if vectors is None else vectors[i], topic_vectors=tv)
        for i, a in enumerate(articles)
    ]
    lang_ok = sum(detect_language(a["title"] + "\n\n" + a["text"])[0] == a["lang"] for a in articles)

    print(f"topics {topics.version}  mode: {'terms + semantic' if args.semantic else 'terms only'}")
    print(f"{'topic':<10}{'lang':<6}{'n':>4}{'P':>7}{'R':>7}{'F1':>7}   fp  fn")
    for (name, lang), c in topic_counts(articles, results, topics.names).items():
        print(f"{name:<10}{lang:<6}{c.positives:>4}{c.precision:>7.2f}{c.recall:>7.2f}{c.f1:>7.2f}"
              f"  {c.fp:>3} {c.fn:>3}")
    print(f"language accuracy: {lang_ok}/{len(articles)} = {lang_ok / len(articles):.3f}")
    print(f"language + topics + entities + tokenise: {per_article_ms:.1f} ms/article")
    if args.semantic:
        print(f"embedding: {embed_ms:.1f} ms/article  (text side = {per_article_ms / embed_ms:.1%} of it)")

    if args.verbose:
        for name in topics.names:
            th = topics[name].threshold
            rows = sorted(
                ((abs(r[name]["score"] - th), a["id"], name in a["topics"], r[name]) for a, r in zip(articles, results)),
                key=lambda x: x[0],
            )
            print(f"\n== {name} (threshold {th}): wrong labels and the 8 closest to the threshold")
            for i, (_, aid, gold, r) in enumerate(rows):
                wrong = gold != r["label"]
                if wrong or i < 8:
                    terms = ", ".join(e["term"] for e in r["evidence"])
                    print(f"{'WRONG' if wrong else '     '} {aid} gold={int(gold)} score={r['score']:.3f} "
                          f"term={r['term_score']:.3f} sem={r['semantic']} [{terms}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
