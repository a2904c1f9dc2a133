"""Synthetic articles for the enrich benchmarks: devset paragraphs recombined, deterministic.

Each article takes a devset article's headline, language and outlet, and a seeded sample of
paragraphs from articles of the same language, so texts are real news prose in both languages
while no two articles are the same.
"""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

from newsmon.index.core.article import Article

DEVSET = Path(__file__).resolve().parents[1].parent / "shared" / "devset"


def devset_records() -> list[dict]:
    path = DEVSET / "articles.jsonl"
    if not path.exists():
        raise SystemExit(f"development set not found at {DEVSET} (benchmarks read it in place)")
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def synthetic_articles(n: int, *, paragraphs: tuple[int, int] = (2, 4),
                       seed: int = 13) -> list[Article]:
    records = devset_records()
    rng = random.Random(seed)
    pool: dict[str, list[str]] = {}
    for r in records:
        pool.setdefault(r["lang"], []).extend(p for p in r["text"].split("\n\n") if p.strip())
    start = datetime.fromisoformat("2026-11-01T00:00:00+00:00")
    out = []
    for k in range(n):
        base = records[k % len(records)]
        count = rng.randint(*paragraphs)
        text = "\n\n".join(rng.sample(pool[base["lang"]], count))
        url = f"http://{base['source']}.example/bench/{k:06d}/"
        out.append(Article(
            url=url, canonical_url=url, source=base["source"], title=base["title"], text=text,
            published=start + timedelta(minutes=15 * k),
        ))
    return out
