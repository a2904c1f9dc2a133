"""Search quality on ../shared/devset/queries.jsonl, shared by tests/test_search_quality.py and
bench/search_quality.py.

Definitions (relevance lists are ordered, most relevant first; the order gives the grades):
- same-language MRR: the query filtered to its own language; reciprocal rank of the first
  relevant article in that language (queries that have one);
- cross-lingual MRR: queries marked cross_lingual, filtered to the other language; reciprocal
  rank of the first relevant article in that language;
- cross-lingual MRR, answer only in the other language (``mrr_cross_only``): queries marked
  cross_lingual, unfiltered, with the query's own-language relevant articles taken out of the
  store's reach (an ``ids`` restriction): the shape of the failure where same-language articles
  on neighbouring subjects outrank the only answer; ``mrr_same_only`` likewise with the
  other language's relevant articles taken out;
- nDCG@10: unfiltered, uncollapsed ranking; the relevant article at position i of n has gain
  n - i; log2 discount.
- Held out from every choice made while building search (weights, depths, the "no good
  answer" threshold): every fourth query (q04, q08, …, q32) — see HELD_OUT.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from newsmon.index.core.article import Article

DEVSET = Path(__file__).resolve().parents[3] / "shared" / "devset"
HELD_OUT = frozenset(f"q{n:02d}" for n in range(4, 35, 4))


def load(name: str, folder: Path = DEVSET) -> list[dict]:
    """One JSON-lines file of a labelled set: the development set unless ``folder`` names another
    in the same formats (tests/helpers/relevance_set.py, the held-out relevance set)."""
    with (folder / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def devset_article(rec: dict) -> Article:
    # the language is left for enrich to detect, as for a crawled page
    return Article(url=rec["url"], canonical_url=rec["url"], source=rec["source"],
                   title=rec["title"], text=rec["text"],
                   published=datetime.fromisoformat(rec["published"]))


@dataclass(slots=True)
class ModeScores:
    mrr_same: list[float] = field(default_factory=list)
    mrr_cross: list[float] = field(default_factory=list)
    mrr_same_only: list[float] = field(default_factory=list)
    mrr_cross_only: list[float] = field(default_factory=list)
    ndcg10: list[float] = field(default_factory=list)
    top10: dict[str, list[str]] = field(default_factory=dict)
    best_similarity: dict[str, float | None] = field(default_factory=dict)

    def summary(self) -> dict[str, float]:
        mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
        return {"mrr_same": mean(self.mrr_same), "mrr_cross": mean(self.mrr_cross),
                "mrr_same_only": mean(self.mrr_same_only),
                "mrr_cross_only": mean(self.mrr_cross_only),
                "ndcg10": mean(self.ndcg10), "n_same": len(self.mrr_same),
                "n_cross": len(self.mrr_cross), "n_ndcg": len(self.ndcg10)}


def rr(ranked: Sequence[str], relevant: set[str]) -> float:
    for i, aid in enumerate(ranked, start=1):
        if aid in relevant:
            return 1.0 / i
    return 0.0


def ndcg(ranked: Sequence[str], relevant: Sequence[str], k: int = 10) -> float:
    gain = {aid: len(relevant) - i for i, aid in enumerate(relevant)}
    dcg = sum(gain.get(a, 0) / math.log2(i + 2) for i, a in enumerate(ranked[:k]))
    ideal = sorted(gain.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


Run = Callable[..., tuple[list[str], float | None]]


def evaluate(run: Run, queries: Sequence[dict], lang_of: dict[str, str], mode: str
             ) -> ModeScores:
    """``run(text, mode, lang, exclude=frozenset())`` returns (devset ids ranked, best cosine
    similarity or None), leaving the devset ids in ``exclude`` out of the search."""
    out = ModeScores()
    for q in queries:
        relevant = q["relevant"]
        ranked, best = run(q["text"], mode, None)
        out.top10[q["id"]] = ranked[:10]
        out.best_similarity[q["id"]] = best
        if not relevant:
            continue
        out.ndcg10.append(ndcg(ranked, relevant))
        same = {a for a in relevant if lang_of[a] == q["lang"]}
        other = "ja" if q["lang"] == "en" else "en"
        cross = {a for a in relevant if lang_of[a] == other}
        if same:
            out.mrr_same.append(rr(run(q["text"], mode, q["lang"])[0], same))
            out.mrr_same_only.append(rr(run(q["text"], mode, None,
                                            exclude=frozenset(cross))[0], same))
        if q["cross_lingual"] and cross:
            out.mrr_cross.append(rr(run(q["text"], mode, other)[0], cross))
            out.mrr_cross_only.append(rr(run(q["text"], mode, None,
                                             exclude=frozenset(same))[0], cross))
    return out


def overlap_at_10(a: dict[str, list[str]], b: dict[str, list[str]]) -> float:
    """Mean |top10(a) ∩ top10(b)| / 10 over queries (the two backends' agreement)."""
    shared = [len(set(a[q]) & set(b[q])) / 10 for q in a if q in b]
    return sum(shared) / len(shared) if shared else float("nan")
