"""Issue 16's floors on the held-out relevance set (tests/data/relevance, never tuned on) and on
the development set, on both backends, in the default (hybrid) mode:

- cross-lingual MRR >= 0.8: unfiltered, with the answer only in the other language (the
  held-out set's questions are written so; on the development set the query's own-language
  answers are taken out of reach, tests/helpers/search_eval.py), and filtered to the other
  language;
- same-language MRR >= 0.9;
- "no good answer": unanswerable questions flagged >= 90%, answerable ones <= 10%;
- alert rules written as an analyst would (a query, or a query and one topic, no min_score):
  over both phases (phase 1 alerted with --backfill, then phase 2 arriving), recall 1.0 and
  precision >= 0.9 over the labelled stories.
"""
from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from newsmon.app.indexing import index_store
from newsmon.app.search import Searcher, SearchRequest
from newsmon.index.core.settings import DataSettings, Settings
from newsmon.index.store import Store
from tests.helpers import relevance_set, search_eval

pytestmark = pytest.mark.slow

MRR_SAME, MRR_CROSS = 0.9, 0.8
FLAG_UNANSWERABLE, FLAG_ANSWERABLE = 0.9, 0.1
RECALL, PRECISION = 1.0, 0.9
# Measured on the held-out set (sqlite, 2026-12-06), never tuned on: search MRR floors hold
# (same-language 0.976, cross-lingual 0.983 filtered / 0.851 answer-only-in-the-other-language),
# answerable questions flagged 2 of 42; but only 5 of 10 unanswerable questions are flagged,
# and the analyst rules without min_score reach recall 0.545, precision 0.654. The relevance
# measures an article against the store's own background, which on a small store about a few
# related subjects makes off-topic questions stand out and broad rules fall short. A gate on a
# store-independent background (bench/relevance_reference.py, 2026-12-07) left both as they
# were (unanswerable 5 of 10, answerable flagged 3 of 42) and was not shipped. Round 3
# (bench/relevance_rules.py, 2026-12-07: a gate on the rule's own best matches, story
# aggregation, idf-weighted evidence, query terms absent from the store, listed items) found no
# lever that holds either floor; the one shipped (a listed query's evidence is the best share of
# any one item's terms) moved the rules to recall 0.727, precision 0.697 (sqlite) and left the
# flags as they were (BENCHMARKS.md). Round 4 (2026-12-07): the bilingual lexicon
# (config/lexicon.yaml; a translated term counts where the headline holds it) moved the rules to
# recall 0.848, precision 0.667 and the flags to 4 of 10 unanswerable, 1 of 42 answerable
# (sqlite). Round 5 (2026-12-07): each listed item of a query measured as a query of its own,
# for articles 0.5 SDs above the background for the whole query, moved the rules to recall
# 0.909, precision 0.683 (sqlite), flags unchanged; a gate on the query's rarest terms was not
# shipped. Rounds 6 and 7 (bench/relevance_round6.py, relevance_round7.py: where the article
# holds the query, a gate on the countries it names, sentence-level aboutness) shipped nothing;
# nor did round 8 (bench/relevance_round8.py: a second bi-encoder, USE-multilingual, beside
# e5: held-out unanswerable flagged 7-8 of 10, the rules no better, the devset choosing none)
# or rounds 9 and 10 (bench/relevance_round9.py, relevance_round10.py: hubness; the query
# embedded together with the article's lead).
# Known failures, pinned strictly: the marker must go when the floor starts to hold.
HELDOUT_SHORT = pytest.mark.xfail(strict=True, reason=(
    "held-out floor not met yet (BENCHMARKS.md, 'Language-fair search and calibrated "
    "relevance'): unanswerable flagged 0.40, rules without min_score recall 0.91 / "
    "precision 0.68"))


def _settings(folder: Path, es_url: str | None) -> Settings:
    alias = f"newsmon-relfloor-{uuid.uuid4().hex[:8]}"
    return Settings(data=DataSettings(dir=folder)).replace(
        "index", **({"backend": "elasticsearch", "es_url": es_url, "es_index": alias}
                    if es_url else {"backend": "sqlite"}))


@pytest.fixture(scope="module")
def heldout_store(tmp_path_factory: pytest.TempPathFactory):
    store, by_id, _ = relevance_set.enrich_in_phases(
        relevance_set.articles(), tmp_path_factory.mktemp("relevance-set"))
    yield store, by_id
    store.close()


def _sets(request: pytest.FixtureRequest, name: str):
    """(store, {article id: record}, queries, {record id: lang}) of the named set."""
    if name == "devset":
        store, by_id, _ = request.getfixturevalue("enriched_devset")
        return store, by_id, search_eval.load("queries.jsonl"), \
            {r["id"]: r["lang"] for r in by_id.values()}
    store, by_id = request.getfixturevalue("heldout_store")
    return store, by_id, relevance_set.queries(), relevance_set.lang_of()


@pytest.fixture(scope="module", params=[
    ("devset", "sqlite"), pytest.param(("devset", "elasticsearch"), marks=pytest.mark.es),
    ("heldout", "sqlite"), pytest.param(("heldout", "elasticsearch"), marks=pytest.mark.es)],
    ids=lambda p: "-".join(p))
def searched(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    set_name, backend = request.param
    store, by_id, queries, lang_of = _sets(request, set_name)
    store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    folder = tmp_path_factory.mktemp(f"floors-{set_name}-{backend}")
    shutil.copy(store.path, folder / "newsmon.db")
    es_url = request.getfixturevalue("es_url") if backend == "elasticsearch" else None
    settings = _settings(folder, es_url)
    with Store(folder / "newsmon.db") as s:
        index_store(settings, s)
    rid = {aid: rec["id"] for aid, rec in by_id.items()}
    searcher = Searcher(settings)

    def run(text: str, mode: str, lang: str | None, exclude: frozenset[str] = frozenset()):
        ids = tuple(a for a, d in rid.items() if d not in exclude) if exclude else None
        r = searcher.search(SearchRequest(text, mode=mode, lang=lang, limit=50, collapse=False,
                                          ids=ids))
        return [rid[h.id] for h in r.results], None

    yield set_name, backend, run, queries, lang_of, searcher
    if es_url:
        searcher.backend.es.indices.delete(index=f"{settings.index.es_index}-v*",
                                           ignore_unavailable=True, allow_no_indices=True)
    searcher.close()


def test_cross_lingual_and_same_language_mrr(searched) -> None:
    set_name, backend, run, queries, lang_of, _ = searched
    s = search_eval.evaluate(run, queries, lang_of, "hybrid").summary()
    print(f"{set_name} {backend} hybrid: {s}")
    assert s["mrr_same"] >= MRR_SAME and s["mrr_same_only"] >= MRR_SAME, s
    assert s["mrr_cross"] >= MRR_CROSS and s["mrr_cross_only"] >= MRR_CROSS, s


def test_no_good_answer_flags(searched, request: pytest.FixtureRequest) -> None:
    set_name, backend, _, queries, _, searcher = searched
    if set_name == "heldout":
        request.applymarker(HELDOUT_SHORT)
    flagged = {q["id"]: not searcher.search(SearchRequest(q["text"])).confident
               for q in queries}
    unanswerable = [q["id"] for q in queries if not q["relevant"]]
    answerable = [q["id"] for q in queries if q["relevant"]]
    hit = sum(flagged[q] for q in unanswerable) / len(unanswerable)
    false = [q for q in answerable if flagged[q]]
    print(f"{set_name} {backend}: unanswerable flagged {hit:.2f}, answerable flagged {false}")
    assert hit >= FLAG_UNANSWERABLE, [q for q in unanswerable if not flagged[q]]
    assert len(false) <= FLAG_ANSWERABLE * len(answerable), false


@pytest.fixture(scope="module", params=["sqlite", pytest.param("elasticsearch",
                                                                marks=pytest.mark.es)])
def alert_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The analyst rules over the held-out set: phase 1 alerted with --backfill, phase 2 as a
    later run. Yields ({rule: [gold stories alerted in phase 1]}, the same for phase 2)."""
    from newsmon.alerts import run_alerts
    from newsmon.enrich.pipeline import enrich_store

    tmp = tmp_path_factory.mktemp(f"relevance-alerts-{request.param}")
    rules = relevance_set.write_rules(tmp / "alerts.yaml",
                                      channels=[{"type": "file", "path": "alerts.jsonl"}])
    settings = Settings().replace("data", dir=tmp).replace("alerts", rules=rules,
                                                            timezone="UTC")
    if request.param == "elasticsearch":
        settings = settings.replace("index", backend="elasticsearch",
                                    es_url=request.getfixturevalue("es_url"),
                                    es_index=f"newsmon-relalerts-{uuid.uuid4().hex[:10]}")
    records = relevance_set.articles()
    gold = {relevance_set.article(r).id: r for r in records}
    fired: list[dict[str, list[str]]] = []
    with Store(settings.data.store_path) as store:
        for phase in (1, 2):
            store.articles.upsert(relevance_set.article(r) for r in records
                                  if r["phase"] == phase)
            assert enrich_store(settings, store, run_id=phase).failed == 0
            index_store(settings, store)
            before = {a["id"] for a in store.alerts.alerts()}
            run_alerts(settings, store, backfill=phase == 1)
            out: dict[str, list[str]] = {}
            for a in store.alerts.alerts():
                if a["id"] not in before and a["kind"] == "match":
                    out.setdefault(a["rule"], []).append(
                        gold[a["payload"]["article"]["id"]]["story"])
            fired.append(out)
    yield request.param, fired


@HELDOUT_SHORT
def test_rules_without_min_score_alert_with_full_recall_and_precision(alert_runs) -> None:
    backend, fired = alert_runs
    want = got = right = 0
    missed, wrong = [], []
    for label in relevance_set.alert_labels():
        assert "min_score" not in label["rule"], label["id"]
        optional = set(label.get("optional") or [])
        for phase, key in ((0, "phase1_alerts"), (1, "phase2_alerts")):
            expected = set(label[key])
            alerted = fired[phase].get(label["id"], [])
            want += len(expected)
            missed += [(label["id"], phase + 1, s) for s in expected - set(alerted)]
            for story in alerted:
                if story in optional and story not in expected:
                    continue
                got += 1
                if story in expected and alerted.count(story) == 1:
                    right += 1
                else:
                    wrong.append((label["id"], phase + 1, story))
    recall = (want - len(missed)) / want
    precision = right / got if got else 1.0
    print(f"{backend}: rules without min_score recall {recall:.3f} precision {precision:.3f}; "
          f"missed {missed}; wrong {wrong}")
    assert recall >= RECALL, missed
    assert precision >= PRECISION, wrong
