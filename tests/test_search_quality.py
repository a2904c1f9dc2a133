"""Search quality gates on ../shared/devset/queries.jsonl, on both backends (pinned floors).

Definitions in tests/helpers/search_eval.py. Floors: hybrid MRR >= 0.9 same-language and
>= 0.8 cross-lingual on each backend, both filtered to the language and unfiltered with the
answer only in the other language (language-fair search, index/search/fair.py); keyword and semantic floors pinned a little under what
was measured (BENCHMARKS.md, "Search quality"), so a regression shows. Every fourth query
(q04, q08, …, q32) was held out from every choice made while building search; the floors
apply to all queries, and the held-out part is checked on its own too.
"""
from __future__ import annotations

import shutil
import uuid

import pytest

from newsmon.app.indexing import index_store
from newsmon.app.search import GOOD, Searcher, SearchRequest
from newsmon.index.core.settings import DataSettings, IndexSettings, Settings
from tests.helpers.search_eval import HELD_OUT, ModeScores, evaluate, load, overlap_at_10

pytestmark = pytest.mark.shared("devset/articles.jsonl", "devset/queries.jsonl")

# mode -> (same-language MRR, cross-lingual MRR) with the answer only in one language, unfiltered
# (measured on sqlite: hybrid 1.0 / 0.87, semantic 1.0 / 0.93; before language-fair search
# hybrid 0.95 / 0.21, semantic 1.0 / 0.47)
ONLY_FLOORS = {"hybrid": (0.9, 0.8), "semantic": (0.9, 0.8)}
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
SCORES: dict[tuple[str, str], ModeScores] = {}  # (backend, mode) -> scores, each computed once


def _settings(folder, es_url: str | None = None, alias: str = "newsmon-articles") -> Settings:
    return Settings(data=DataSettings(dir=folder),
                    index=IndexSettings(backend="elasticsearch" if es_url else "sqlite",
                                        es_url=es_url or "http://127.0.0.1:9200", es_index=alias))


def _build(name: str, enriched_devset, tmp_path_factory, es_url: str | None = None):
    """A copy of the enriched devset indexed into one backend: yields ``(backend name,
    run(text, mode, lang), {devset id: lang}, searcher)``; the ES index is deleted after."""
    store, by_id, _ = enriched_devset
    store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    folder = tmp_path_factory.mktemp(f"quality-{name}")
    shutil.copy(store.path, folder / "newsmon.db")
    settings = _settings(folder, es_url, f"newsmon-quality-{uuid.uuid4().hex[:8]}")
    from newsmon.index.store import Store

    with Store(folder / "newsmon.db") as s:
        index_store(settings, s)
    dev = {aid: rec["id"] for aid, rec in by_id.items()}
    searcher = Searcher(settings)

    def run(text: str, mode: str, lang: str | None, exclude: frozenset[str] = frozenset()):
        ids = tuple(a for a, d in dev.items() if d not in exclude) if exclude else None
        r = searcher.search(SearchRequest(text, mode=mode, lang=lang, limit=50, collapse=False,
                                          ids=ids))
        best = max((h.similarity for h in r.results if h.similarity is not None), default=None)
        return [dev[h.id] for h in r.results], best

    yield name, run, {rec["id"]: rec["lang"] for rec in by_id.values()}, searcher
    if es_url:
        searcher.backend.es.indices.delete(index=f"{settings.index.es_index}-v*",
                                           ignore_unavailable=True, allow_no_indices=True)
    searcher.close()


@pytest.fixture(scope="module")
def sqlite_runner(enriched_devset, tmp_path_factory):
    yield from _build("sqlite", enriched_devset, tmp_path_factory)


@pytest.fixture(scope="module")
def es_runner(enriched_devset, tmp_path_factory, es_url):
    yield from _build("elasticsearch", enriched_devset, tmp_path_factory, es_url)


@pytest.fixture(scope="module")
def es_analyzers_runner(enriched_devset, tmp_path_factory, es_analysis_url):
    """Elasticsearch with the kuromoji and english analyzers ([index] es_text_analysis auto)."""
    yield from _build("elasticsearch-analyzers", enriched_devset, tmp_path_factory,
                      es_analysis_url)


@pytest.fixture(scope="module", params=[
    "sqlite", pytest.param("elasticsearch", marks=pytest.mark.es),
    pytest.param("elasticsearch-analyzers", marks=pytest.mark.es)])
def runner(request):
    return request.getfixturevalue({"sqlite": "sqlite_runner", "elasticsearch": "es_runner",
                                    "elasticsearch-analyzers": "es_analyzers_runner"
                                    }[request.param])


def _scores(runner, mode: str) -> ModeScores:
    name, run, lang_of, _ = runner
    if (name, mode) not in SCORES:
        SCORES[name, mode] = evaluate(run, load("queries.jsonl"), lang_of, mode)
    return SCORES[name, mode]


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
def test_mrr_and_ndcg_floors(runner, mode: str) -> None:
    name, run, lang_of, _ = runner
    queries = load("queries.jsonl")
    summary = _scores(runner, mode).summary()
    held = evaluate(run, [q for q in queries if q["id"] in HELD_OUT], lang_of, mode).summary()
    print(f"{name} {mode}: all {summary} held-out {held}")
    same, cross, ndcg10 = FLOORS[mode]
    assert summary["mrr_same"] >= same, summary
    assert summary["mrr_cross"] >= cross, summary
    assert summary["ndcg10"] >= ndcg10, summary
    if mode in ONLY_FLOORS:
        same_only, cross_only = ONLY_FLOORS[mode]
        assert summary["mrr_same_only"] >= same_only, summary
        assert summary["mrr_cross_only"] >= cross_only, summary
    if mode == "hybrid":
        assert held["mrr_same"] >= same and held["mrr_cross"] >= cross, held


def test_no_good_answer_is_told_apart(runner) -> None:
    """q31-q33 have no relevant article: the response must say so (confident False: no result
    of relevance 0.5 or more). The relevance was fitted on the non-held-out queries; q32 and
    the held-out answerable queries check it. Floors: unanswerable flagged >= 90%, answerable
    flagged <= 10%. Measured: 3/3 unanswerable flagged, 2/31 answerable (q13, q22) as well."""
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
    unanswerable = [q for q in load("queries.jsonl") if not q["relevant"]]
    answerable = len(load("queries.jsonl")) - len(unanswerable)
    assert len(confident_unanswerable) <= 0.1 * len(unanswerable), confident_unanswerable
    assert len(flagged_answerable) <= 0.1 * answerable, flagged_answerable


def test_a_listed_query_counts_each_item_in_its_context(runner) -> None:
    """A broad rule lists its parts; an article on one part stands low for the whole list on a
    store mostly about the list, not for its own item, so each item is measured as a query of
    its own (BENCHMARKS.md, issue 16, round 5), but only for articles that stand above the
    background for the whole query: the item alone has lost the rule's context."""
    _, _, _, searcher = runner
    story = {r["url"]: r["story"] for r in load("articles.jsonl")}
    r = searcher.search(SearchRequest(
        "Japan UK agreements on cyber, critical minerals and the GCAP fighter", limit=100,
        collapse=False))
    best: dict[str, float] = {}
    for h in r.results:
        best[story[h.url]] = max(best.get(story[h.url], 0.0), h.relevance)
    assert all(best[s] >= GOOD for s in ("pact-cyber", "pact-gcap", "pact-minerals-project")), best
    # a Cornish lithium mine ("critical minerals") and GCAP supplier jobs ("the GCAP fighter")
    assert all(best.get(s, 0.0) < GOOD for s in ("uk-lithium-cornwall", "gcap-supplier-jobs")), best


@pytest.mark.es
def test_backends_agree_on_the_top_10(sqlite_runner, es_runner) -> None:
    """Both backends built from the same store give the same top 10 (mean overlap per query)
    within OVERLAP_FLOORS, in every mode. It builds (or reuses) both backends, so it runs on
    its own too."""
    n_queries = len(load("queries.jsonl"))
    overlaps = {}
    for mode in OVERLAP_FLOORS:
        a, b = _scores(sqlite_runner, mode), _scores(es_runner, mode)
        assert len(a.top10) == len(b.top10) == n_queries, mode
        overlaps[mode] = overlap_at_10(a.top10, b.top10)
    print(f"top-10 overlap sqlite vs elasticsearch: {overlaps}")
    assert all(overlaps[m] >= floor for m, floor in OVERLAP_FLOORS.items()), overlaps
