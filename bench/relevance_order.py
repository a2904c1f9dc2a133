"""Does ordering results by their relevance help? (issue 16, round 8)

Search ranks hybrid results by the language-fair fusion (z + 0.1 x BM25/best) and shows the
calibrated relevance beside each; so a "weak" result can stand above a "good" one (日英 サイバー
演習 on the demo). Variants of the order, each over the whole fused list before it is cut to the
limit:

- mode: the fused order (shipped);
- band: good matches (relevance >= 0.5) first, the fused order kept within each band;
- relevance: by relevance alone.

Scored with tests/helpers/search_eval.py (the MRR floors) and the "no good answer" flags (no
result in the top 10 at relevance >= 0.5), on the development set; ``--heldout`` also on the
held-out set (tests/data/relevance), measured once for variants fixed beforehand.

    .venv/bin/python bench/relevance_order.py [--heldout]
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from relevance_reference import UNANS  # noqa: E402

from newsmon.app import search as search_mod  # noqa: E402
from newsmon.app.indexing import index_store  # noqa: E402
from newsmon.app.search import GOOD, Searcher, SearchRequest  # noqa: E402
from newsmon.index.core.settings import DataSettings, Settings  # noqa: E402
from tests.helpers import relevance_set  # noqa: E402
from tests.helpers.search_eval import evaluate, load  # noqa: E402

ORDERS = ("mode", "band", "relevance")


def measure(name: str, records: list[dict], queries: list[dict], lang_of: dict[str, str],
            skip: frozenset[str] = frozenset(), extra: tuple[dict, ...] = ()) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store, by_id, _ = relevance_set.enrich_in_phases(records, Path(tmp))
        settings = Settings(data=DataSettings(dir=Path(tmp)))
        index_store(settings, store)
        rid = {aid: rec["id"] for aid, rec in by_id.items()}
        with Searcher(settings, store=store) as searcher:
            def run(text: str, mode: str, lang: str | None,
                    exclude: frozenset[str] = frozenset()):
                ids = tuple(a for a, d in rid.items() if d not in exclude) if exclude else None
                r = searcher.search(SearchRequest(text, mode=mode, lang=lang, limit=50,
                                                  collapse=False, ids=ids))
                return [rid[h.id] for h in r.results], None

            for order in ORDERS:
                search_mod.ORDER = order
                s = evaluate(run, queries, lang_of, "hybrid").summary()
                fa = fu = na = nu = 0
                for q in [*queries, *extra]:
                    if q["id"] in skip:
                        continue
                    r = searcher.search(SearchRequest(q["text"]))
                    flagged = not any(h.relevance >= GOOD for h in r.results)
                    if q["relevant"]:
                        na, fa = na + 1, fa + flagged
                    else:
                        nu, fu = nu + 1, fu + flagged
                print(f"{name:<8} {order:<10} same {s['mrr_same']:.3f} / only "
                      f"{s['mrr_same_only']:.3f}  cross {s['mrr_cross']:.3f} / only "
                      f"{s['mrr_cross_only']:.3f}  nDCG@10 {s['ndcg10']:.3f}  flagged "
                      f"answerable {fa}/{na}, unanswerable {fu}/{nu}", flush=True)
            search_mod.ORDER = "mode"
        store.close()


def main() -> None:
    recs = load("articles.jsonl")
    measure("devset", recs, load("queries.jsonl"), {r["id"]: r["lang"] for r in recs},
            skip=frozenset({"q31", "q32", "q33"}),   # the same three as UNANS's first
            extra=tuple({"id": f"u{i}", "text": t, "relevant": []} for i, t in enumerate(UNANS)))
    if "--heldout" in sys.argv:
        measure("held-out", relevance_set.articles(), relevance_set.queries(),
                relevance_set.lang_of())


if __name__ == "__main__":
    main()
