"""Alert rules on the labelled development set (../shared/devset/alert_rules.yaml), the way a
monitor meets it: phase 1 ingested and alerted (the silent baseline), then phase 2 arriving.
Real SQLite store, real enrichment with the default model, the embedded search backend.

Gates:
- each rule alerts exactly once on each story of its `phase2_alerts` and never on a story of
  `expected_not` (so en-013, the syndicated copy of en-012, and ja-009, its Japanese report,
  give one alert for gcap-trilateral; en-016, late in an already-seen story, gives none);
- a third run sends nothing;
- the thresholds are not knife-edge: the weakest article that must alert scores at least
  MARGIN above the strongest phase-2 article that must not (e5 similarities sit in a narrow
  band; see ../shared/notes/embeddings.md).

japan-uk-pact and pact-minerals are the shipped rules (config/alerts.yaml; their filters decide,
min_score 0); gcap-ja and cyber-grid-water, which are not mission rules, are written below as a
user would, with no min_score: the default relevance gate decides.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from newsmon.alerts import run_alerts
from newsmon.alerts.evaluate import changed_ids, search_ids
from newsmon.alerts.rules import load_rules
from newsmon.index.core.article import Article
from newsmon.index.core.settings import Settings
from newsmon.index.store import Store

DEVSET = Path(__file__).resolve().parents[1].parent / "shared" / "devset"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (DEVSET / "alert_rules.yaml").exists(),
                       reason=f"development set not found at {DEVSET}"),
]
SHIPPED = Path(__file__).resolve().parents[1] / "config" / "alerts.yaml"
MARGIN = 0.03   # on the relevance scale (0..1)
EXTRA_RULES = """
- id: gcap-ja
  description: Japanese news about GCAP, the next-generation fighter
  query: GCAP 次期戦闘機
  mode: keyword
  lang: ja
  topics: [defence]
  channels: [{type: file, path: alerts.jsonl}]
- id: cyber-grid-water
  description: Cyber threats to electricity grids and water systems
  query: water utility power grid 水道 電力網 送電網
  mode: keyword
  topics: [cyber]
  channels: [{type: file, path: alerts.jsonl}]
"""


def _records() -> list[dict]:
    with (DEVSET / "articles.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _article(rec: dict) -> Article:
    return Article(url=rec["url"], canonical_url=rec["url"], source=rec["source"],
                   title=rec["title"], text=rec["text"],
                   published=datetime.fromisoformat(rec["published"]))


def _rules_file(tmp: Path) -> Path:
    shipped = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    keep = [r for r in shipped["rules"] if r["id"] in ("japan-uk-pact", "pact-minerals")]
    # the pact rule again as a per-run digest: one message with the same stories
    digest = {**keep[0], "id": "pact-digest", "digest": "per_run"}
    rules = keep + yaml.safe_load(EXTRA_RULES) + [digest]
    path = tmp / "alerts.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "health": {"enabled": False}, "rules": rules},
                                   allow_unicode=True, sort_keys=False), encoding="utf-8")
    load_rules(path)  # a mistake here should not cost an enrichment first
    return path


@pytest.fixture(scope="module", params=[
    "sqlite", pytest.param("elasticsearch", marks=pytest.mark.es)])
def scenario(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The same scenario on each search backend (the real Elasticsearch node under `es`)."""
    from newsmon.app.indexing import index_store
    from newsmon.enrich.pipeline import enrich_store

    tmp = tmp_path_factory.mktemp(f"alert-quality-{request.param}")
    settings = Settings().replace("data", dir=tmp).replace(
        "alerts", rules=_rules_file(tmp), timezone="UTC")
    if request.param == "elasticsearch":
        settings = settings.replace("index", backend="elasticsearch",
                                    es_url=request.getfixturevalue("es_url"),
                                    es_index=f"newsmon-alerts-{uuid.uuid4().hex[:10]}")
    records = _records()
    gold = {_article(r).id: r for r in records}
    runs = []
    with Store(settings.data.store_path) as store:
        for phase in (1, 2, None):
            if phase is not None:
                store.articles.upsert(_article(r) for r in records if r["phase"] == phase)
                assert enrich_store(settings, store, run_id=phase).failed == 0
            index_store(settings, store)
            before = {a["id"] for a in store.alerts.alerts()}
            start = store.cursors.all()
            outcome = run_alerts(settings, store)
            new = [a for a in store.alerts.alerts() if a["id"] not in before]
            runs.append({"outcome": outcome, "alerts": new, "cursors": start})
        stories = store.vectors.stories()
        yield {"settings": settings, "runs": runs, "gold": gold, "stories": stories,
               "store_path": settings.data.store_path}


def _gold_story(scenario: dict, predicted_story: str) -> set[str]:
    members = [a for a, s in scenario["stories"].items() if s == predicted_story]
    return {scenario["gold"][a]["story"] for a in members}


RULES = yaml.safe_load((DEVSET / "alert_rules.yaml").read_text(encoding="utf-8"))["rules"] \
    if (DEVSET / "alert_rules.yaml").exists() else []


def test_phase1_is_a_silent_baseline(scenario) -> None:
    first = scenario["runs"][0]
    assert first["outcome"].decided == 0 and first["alerts"] == []
    assert all(info["baseline"] for info in first["outcome"].per_rule.values())


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r["id"])
def test_phase2_alerts_exactly_the_expected_stories_once(scenario, rule) -> None:
    alerts = [a for a in scenario["runs"][1]["alerts"] if a["rule"] == rule["id"]]
    golds = [_gold_story(scenario, a["story"]) for a in alerts]
    fired = [g for gs in golds for g in gs]
    for story in rule["phase2_alerts"]:
        assert fired.count(story) == 1, (rule["id"], story, golds)
    for story in rule["expected_not"]:
        assert story not in fired, (rule["id"], story, golds)
    allowed = set(rule["phase2_alerts"]) | set(rule.get("optional") or [])
    assert all(gs <= allowed for gs in golds), (rule["id"], golds)


def test_alerts_carry_why_and_also_covered_by(scenario) -> None:
    alerts = [a for a in scenario["runs"][1]["alerts"] if a["rule"] == "japan-uk-pact"]
    gcap = [a for a in alerts if _gold_story(scenario, a["story"]) == {"gcap-trilateral"}]
    assert len(gcap) == 1
    payload = gcap[0]["payload"]
    also_ids = {scenario["gold"][x["id"]]["id"] for x in payload["also"]}
    trigger = scenario["gold"][payload["article"]["id"]]["id"]
    assert {trigger} | also_ids == {"en-012", "en-013", "ja-009"}
    assert payload["why"]["score"] >= payload["why"]["min_score"]
    assert payload["why"]["passage"]


def test_a_per_run_digest_carries_the_same_stories_in_one_message(scenario) -> None:
    second = scenario["runs"][1]["alerts"]
    [digest] = [a for a in second if a["rule"] == "pact-digest" and a["kind"] == "digest"]
    pact = sorted(a["story"] for a in second if a["rule"] == "japan-uk-pact")
    assert sorted(i["story"] for i in digest["payload"]["items"]) == pact
    # en-016 came late into a story seen at the baseline: listed as new coverage, not alerted
    updates = {scenario["gold"][u["id"]]["id"] for u in digest["payload"]["updates"]}
    assert "en-016" in updates
    # the per-story decisions are recorded (once-only) but only the digest is delivered
    with Store(scenario["store_path"]) as store:
        channels = {d.alert_key for d in store.alerts.deliveries(states=("pending", "sent"),
                                                                   rule="pact-digest")}
    assert channels == {digest["key"]}


def test_a_third_run_decides_and_sends_nothing(scenario) -> None:
    third = scenario["runs"][2]
    assert third["alerts"] == [] and third["outcome"].delivered == 0


def test_thresholds_have_a_margin(scenario) -> None:
    """Score every article with min_score 0: the best article of each phase-2 story that must
    alert clears the rule's threshold by MARGIN, and every article outside the rule's
    `matching_articles` either fails the rule's filters or stays MARGIN below it. For the
    shipped rules that holds over both phases (phase 1 has the articles about Japan and
    Britain that are not about the pact); the user-written keyword rules are held to it on
    phase 2, what they would send (cyber-grid-water's keyword share would take phase 1's
    Baltic cable story)."""
    import dataclasses

    from newsmon.app.search import Searcher

    settings = scenario["settings"]
    cfg = load_rules(settings.alerts.rules)
    gold = scenario["gold"]
    with Store(scenario["store_path"]) as store, Searcher(settings) as searcher:
        ids = changed_ids(store, 0, store.changes.head())
        articles = {a.id: a for a in store.articles.get_many(ids)}
        for spec in RULES:
            rule = dataclasses.replace(cfg.rule(spec["id"]), min_score=0.0)
            scores = {gold[m.id]["id"]: m.score
                      for m in search_ids(searcher, store, rule, ids, articles)}
            threshold = cfg.rule(spec["id"]).threshold
            for story in spec["phase2_alerts"]:
                best = max((sc for a, sc in scores.items() if gold_story_of(gold, a) == story
                            and a in spec["matching_articles"]), default=-1.0)
                # min_score 0 (the shipped rules): no gate, the filters must let it through
                need = threshold + MARGIN if threshold > 0 else 0.0
                assert best >= need, (spec["id"], story, best, threshold)
            shipped = spec["id"] in ("japan-uk-pact", "pact-minerals")
            for a, sc in scores.items():
                if a not in spec["matching_articles"] and (
                        shipped or next(r for r in gold.values() if r["id"] == a)["phase"] == 2) \
                        and gold_story_of(gold, a) not in (spec.get("optional") or []):
                    assert sc <= threshold - MARGIN, (spec["id"], a, sc, threshold)


def gold_story_of(gold: dict, devset_id: str) -> str:
    return next(r["story"] for r in gold.values() if r["id"] == devset_id)
