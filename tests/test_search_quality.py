"""Search quality gates on ../shared/devset/queries.jsonl, on both backends (pinned floors).

Definitions in tests/helpers/search_eval.py. Floors: hybrid MRR >= 0.9 same-language and
>= 0.8 cross-lingual on each backend; keyword and semantic floors pinned a little under what
was measured (BENCHMARKS.md, "Search quality"), so a regression shows. Every fourth query
(q04, q08, …, q32) was held out from every choice made while building search; the floors
apply to all queries, and the held-out part is checked on its own too.
"""
from __future__ import annotations

import shutil
import uuid

import pytest

from newsmon.index.settings import DataSettings, IndexSettings, Settings
from newsmon.indexing import index_store
from newsmon.search import SearchRequest, Searcher

from tests.helpers.search_eval import HELD_OUT, evaluate, load, overlap_at_10

pytestmark = pytest.mark.shared("devset/articles.jsonl", "devset/queries.jsonl")

FLOORS = {  # mode -> (same-language MRR, cross-lingual MRR, nDCG@10)
    "hybrid": (0.9, 0.8, 0.65),
    "semantic": (0.9, 0.9, 0.75),
    "keyword": (0.85, 0.0, 0.6),   # keyword search cannot cross languages (no shared words)
}
# top-10 agreement of the two backends, pinned under what was measured (hybrid 0.96,
# semantic 1.00, keyword 0.70): BM25 differs in detail between FTS5 and Lucene (IDF formula,
# Lucene's quantised field lengths), so keyword-only lists agree least; fusion with the
# identical semantic lists brings hybrid close to the same.
OVERLAP_FLOORS = {"hybrid": 0.9, "semantic": 0.95, "keyword": 0.6}
RESULTS: dict[str, dict] = {}


def _settings(folder, es_url: str | None = None, alias: str = "newsmon-articles") -> Settings:
    return Settings(data=DataSettings(dir=folder),
                    index=IndexSettings(backend="elasticsearch" if es_url else "sqlite",
                                        es_url=es_url or "http://127.0.0.1:9200", es_index=alias))


@pytest.fixture(scope="module", params=["sqlite", pytest.param("elasticsearch",
                                                               marks=pytest.mark.es)])
def runner(request, enriched_devset, tmp_path_factory):
    store, by_id, _ = enriched_devset
    store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    folder = tmp_path_factory.mktemp(f"quality-{request.param}")
    shutil.copy(store.path, folder / "newsmon.db")
    es_url = request.getfixturevalue("es_url") if request.param == "elasticsearch" else None
    settings = _settings(folder, es_url, f"newsmon-quality-{uuid.uuid4().hex[:8]}")
    from newsmon.index.store import Store

    with Store(folder / "newsmon.db") as s:
        index_store(settings, s)
    dev = {aid: rec["id"] for aid, rec in by_id.items()}
    searcher = Searcher(settings)

    def run(text: str, mode: str, lang: str | None):
        r = searcher.search(SearchRequest(text, mode=mode, lang=lang, limit=50, collapse=False))
        best = max((h.similarity for h in r.results if h.similarity is not None), default=None)
        return [dev[h.id] for h in r.results], best

    yield request.param, run, {rec["id"]: rec["lang"] for rec in by_id.values()}, searcher
    if es_url:
        searcher.backend.es.indices.delete(index=f"{settings.index.es_index}-v*",
                                           ignore_unavailable=True, allow_no_indices=True)
    searcher.close()


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
def test_mrr_and_ndcg_floors(runner, mode: str) -> None:
    name, run, lang_of, _ = runner
    queries = load("queries.jsonl")
    scores = evaluate(run, queries, lang_of, mode)
    summary = scores.summary()
    held = evaluate(run, [q for q in queries if q["id"] in HELD_OUT], lang_of, mode).summary()
    RESULTS.setdefault(name, {})[mode] = scores
    print(f"{name} {mode}: all {summary} held-out {held}")
    same, cross, ndcg10 = FLOORS[mode]
    assert summary["mrr_same"] >= same, summary
    assert summary["mrr_cross"] >= cross, summary
    assert summary["ndcg10"] >= ndcg10, summary
    if mode == "hybrid":
        assert held["mrr_same"] >= same and held["mrr_cross"] >= cross, held


def test_no_good_answer_is_told_apart(runner) -> None:
    """q31-q33 have no relevant article: the response must say so (confident False). The
    margin threshold was set on the non-held-out queries; q32 and the held-out answerable
    queries check it. Measured: 3/3 unanswerable flagged, 5/31 answerable flagged as well."""
    _, _, _, searcher = runner
    flagged_answerable, confident_unanswerable = [], []
    for q in load("queries.jsonl"):
        resp = searcher.search(SearchRequest(q["text"]))
        if q["relevant"] and not resp.confident:
            flagged_answerable.append(q["id"])
        if not q["relevant"] and resp.confident:
            confident_unanswerable.append(q["id"])
        if q["id"] in HELD_OUT:
            assert resp.confident == bool(q["relevant"]), q["id"]
    print(f"no-answer flag on answerable queries: {flagged_answerable}")
    assert confident_unanswerable == []
    assert len(flagged_answerable) <= 6, flagged_answerable


@pytest.mark.es
def test_backends_agree_on_the_top_10(runner) -> None:
    if len(RESULTS) < 2:
        pytest.skip("needs both backends' results from this session")
    for mode in ("hybrid", "semantic", "keyword"):
        a, b = RESULTS["sqlite"].get(mode), RESULTS["elasticsearch"].get(mode)
        if a is None or b is None:
            continue
        overlap = overlap_at_10(a.top10, b.top10)
        print(f"top-10 overlap sqlite vs elasticsearch, {mode}: {overlap:.3f}")
        assert overlap >= OVERLAP_FLOORS[mode], (mode, overlap)
