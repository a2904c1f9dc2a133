"""The held-out relevance set (tests/data/relevance) is what its README says: articles, queries
and alert rules in the development set's formats, consistent with each other, shaped like the
failures of issue 16, and loadable by the code that evaluates the development set. Fast, no model.
"""
from __future__ import annotations

import collections
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import yaml

from newsmon.alerts.service import load_config
from newsmon.index.core.defaults import default_file
from newsmon.index.core.errors import ConfigError
from newsmon.index.core.settings import Settings
from tests.helpers import relevance_set, search_eval

ARTICLE_KEYS = {"id", "lang", "source", "url", "title", "published", "author", "text", "topics",
                "pact", "story", "phase", "note"}
QUERY_KEYS = {"id", "text", "lang", "relevant", "cross_lingual", "answerable", "note"}
LABEL_KEYS = {"id", "description", "rule", "languages", "matching_articles", "phase1_alerts",
              "phase2_alerts", "expected_not", "optional", "near_misses"}
# an analyst's rule: a query, at most one topic, nothing tuned (no min_score, entities, lang...)
RULE_KEYS = {"id", "description", "query", "topics", "channels"}
TOPICS = {"cyber", "minerals", "defence"}
WORDS = {"en": (157, 350), "ja": (300, 600)}  # English words, Japanese characters (no newlines)
OFFSET = {"en": timedelta(0), "ja": timedelta(hours=9)}
PHASE_DAYS = {1: (1, 8), 2: (10, 16)}  # December 2026, in the article's own zone
KANA = re.compile(r"[\u3040-\u30ff]")
ARTICLES = relevance_set.articles()
BY_ID = {a["id"]: a for a in ARTICLES}
QUERIES = relevance_set.queries()
LABELS = relevance_set.alert_labels()


def other(lang: str) -> str:
    return "ja" if lang == "en" else "en"


def stories() -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = collections.defaultdict(list)
    for a in ARTICLES:
        out[a["story"]].append(a)
    return out


def length(a: dict) -> int:
    return len(a["text"].split()) if a["lang"] == "en" else len(a["text"].replace("\n", ""))


# --- articles ---------------------------------------------------------------------------------

def test_articles_have_the_devset_fields_and_unique_ids_and_urls() -> None:
    assert 56 <= len(ARTICLES) <= 70
    for a in ARTICLES:
        assert set(a) == ARTICLE_KEYS, a["id"]
        assert re.fullmatch(rf"rel-{a['lang']}-\d{{3}}", a["id"]), a["id"]
        assert urlsplit(a["url"]).netloc == f"{a['source']}.example", a["id"]
        assert set(a["topics"]) <= TOPICS and len(set(a["topics"])) == len(a["topics"]), a["id"]
        assert a["phase"] in (1, 2) and isinstance(a["pact"], bool), a["id"]
        assert a["title"] == a["title"].strip() and a["note"], a["id"]
        assert a["author"] is None or a["author"].strip(), a["id"]
    for key in ("id", "url", "title", "text"):
        counts = collections.Counter(a[key] for a in ARTICLES)
        assert [v for v, n in counts.items() if n > 1] == [], key


def test_article_lengths_paragraphs_and_language() -> None:
    for a in ARTICLES:
        low, high = WORDS[a["lang"]]
        assert low <= length(a) <= high, (a["id"], length(a))
        paragraphs = a["text"].split("\n\n")
        assert len(paragraphs) >= 3 and all(p.strip() == p and p and "\n" not in p
                                            for p in paragraphs), a["id"]
        # the language a detector must find: kana in every Japanese paragraph, none in English
        if a["lang"] == "ja":
            assert all(KANA.search(p) for p in paragraphs), a["id"]
        else:
            assert not KANA.search(a["text"] + a["title"]), a["id"]


def test_dates_are_december_2026_in_the_sources_zone_and_phase_2_comes_after_phase_1() -> None:
    for a in ARTICLES:
        when = datetime.fromisoformat(a["published"])
        assert when.utcoffset() == OFFSET[a["lang"]], a["id"]
        first, last = PHASE_DAYS[a["phase"]]
        assert (when.year, when.month) == (2026, 12) and first <= when.day <= last, a["id"]
    instants = {p: [datetime.fromisoformat(a["published"]).astimezone(UTC)
                    for a in ARTICLES if a["phase"] == p] for p in (1, 2)}
    assert max(instants[1]) < min(instants[2])


def test_a_source_writes_one_language_and_a_story_one_pact_label() -> None:
    langs: dict[str, set[str]] = collections.defaultdict(set)
    for a in ARTICLES:
        langs[a["source"]].add(a["lang"])
    assert all(len(v) == 1 for v in langs.values()), langs
    assert {next(iter(v)) for v in langs.values()} == {"en", "ja"}
    for story, members in stories().items():
        assert len({a["pact"] for a in members}) == 1, story
        if any(a["pact"] for a in members):
            assert all(a["topics"] for a in members), story


def test_the_set_has_the_shape_of_the_issue() -> None:
    """Pact stories covered in one language only, in each direction and each phase; bilingual
    stories; same-language near misses on every topic in both languages; off-topic filler in
    both languages and phases."""
    by_story = stories()
    covered = {s: {a["lang"] for a in m} for s, m in by_story.items()}
    phases = {s: {a["phase"] for a in m} for s, m in by_story.items()}
    pact = {s for s, m in by_story.items() if m[0]["pact"]}
    for lang in ("en", "ja"):
        only = {s for s in pact if covered[s] == {lang}}
        assert {p for s in only for p in phases[s]} == {1, 2}, (lang, only)
        for topic in TOPICS:
            assert any(a["lang"] == lang and topic in a["topics"] and not a["pact"]
                       for a in ARTICLES), (lang, topic)
        for phase in (1, 2):
            assert any(a["lang"] == lang and a["phase"] == phase and not a["topics"]
                       for a in ARTICLES), (lang, phase)
    assert sum(1 for s in pact if covered[s] == {"en", "ja"}) >= 2
    assert sum(1 for s in covered if covered[s] == {"en", "ja"} and s not in pact) >= 2
    for phase in (1, 2):
        topics = {t for s in pact if phase in phases[s] for a in by_story[s] for t in a["topics"]}
        assert topics == TOPICS, phase


def test_nothing_is_copied_from_the_development_set(devset_dir) -> None:
    """No run of 8 English words or 20 Japanese characters, and no outlet, is shared with the
    development set (its articles are read in place)."""
    import json

    with (devset_dir / "articles.jsonl").open(encoding="utf-8") as fh:
        dev = [json.loads(line) for line in fh if line.strip()]

    def shingles(a: dict) -> set[str]:
        if a["lang"] == "en":
            words = re.findall(r"[\w'£$%.-]+", a["text"].lower())
            return {" ".join(words[i:i + 8]) for i in range(len(words) - 7)}
        text = re.sub(r"\s", "", a["text"])
        return {text[i:i + 20] for i in range(len(text) - 19)}

    dev_shingles = set().union(*(shingles(d) for d in dev))
    for a in ARTICLES:
        assert not shingles(a) & dev_shingles, (a["id"], sorted(shingles(a) & dev_shingles)[:3])
    assert not {a["source"] for a in ARTICLES} & {d["source"] for d in dev}
    assert not {a["story"] for a in ARTICLES} & {d["story"] for d in dev}


# --- queries ----------------------------------------------------------------------------------

def test_queries_refer_to_existing_articles_with_the_right_flags() -> None:
    ids = [q["id"] for q in QUERIES]
    assert ids == [f"rq{i:02d}" for i in range(1, len(ids) + 1)]
    assert len({q["text"] for q in QUERIES}) == len(QUERIES)
    for q in QUERIES:
        assert set(q) == QUERY_KEYS, q["id"]
        assert q["lang"] in ("en", "ja") and q["note"], q["id"]
        assert len(set(q["relevant"])) == len(q["relevant"]), q["id"]
        assert all(a in BY_ID for a in q["relevant"]), q["id"]
        assert q["answerable"] is bool(q["relevant"]), q["id"]
        langs = {BY_ID[a]["lang"] for a in q["relevant"]}
        assert q["cross_lingual"] is (other(q["lang"]) in langs), q["id"]
        if q["lang"] == "ja":
            assert KANA.search(q["text"]) or re.search(r"[\u4e00-\u9fff]", q["text"]), q["id"]
        else:
            assert not KANA.search(q["text"]), q["id"]


def test_query_mix() -> None:
    kinds = collections.Counter()
    for q in QUERIES:
        langs = {BY_ID[a]["lang"] for a in q["relevant"]}
        kind = ("unanswerable" if not langs else "other-only" if langs == {other(q["lang"])}
                else "same-only" if langs == {q["lang"]} else "both")
        kinds[q["lang"], kind] += 1
        kinds[kind] += 1
    assert len(QUERIES) >= 30, kinds
    assert kinds["en", "other-only"] >= 8 and kinds["ja", "other-only"] >= 6, kinds
    assert kinds["same-only"] >= 10 and kinds["unanswerable"] >= 8, kinds
    assert kinds["en", "unanswerable"] and kinds["ja", "unanswerable"], kinds
    # keyword style (no sentence) and questions in both languages
    for lang in ("en", "ja"):
        texts = [q["text"] for q in QUERIES if q["lang"] == lang]
        assert any(t.endswith(("?", "？")) for t in texts), lang
        assert sum(1 for t in texts if not t.endswith(("?", "？"))) >= 5, lang


def test_the_devset_evaluator_reads_the_set() -> None:
    """search_eval evaluates the set as it does the devset: a ranking that puts the relevant
    articles first scores 1.0 everywhere, one that puts them last does not."""
    assert search_eval.load("queries.jsonl", relevance_set.RELEVANCE_DIR) == QUERIES
    lang_of = relevance_set.lang_of()
    everything = sorted(BY_ID)

    def oracle(text: str, mode: str, lang: str | None, exclude: frozenset[str] = frozenset()):
        q = next(q for q in QUERIES if q["text"] == text)
        ranked = q["relevant"] + [a for a in everything if a not in q["relevant"]]
        return [a for a in ranked
                if (lang is None or lang_of[a] == lang) and a not in exclude], None

    def worst(text: str, mode: str, lang: str | None, exclude: frozenset[str] = frozenset()):
        ranked, best = oracle(text, mode, lang, exclude)
        return ranked[::-1], best

    good = search_eval.evaluate(oracle, QUERIES, lang_of, "hybrid").summary()
    assert good["mrr_same"] == good["mrr_cross"] == good["ndcg10"] == 1.0, good
    assert good["n_cross"] == sum(q["cross_lingual"] for q in QUERIES)
    assert good["n_ndcg"] == len(relevance_set.answerable())
    bad = search_eval.evaluate(worst, QUERIES, lang_of, "hybrid").summary()
    assert bad["mrr_same"] < 0.5 and bad["mrr_cross"] < 0.5, bad


# --- alert rules ------------------------------------------------------------------------------

def test_alert_labels_follow_from_the_article_labels() -> None:
    data = relevance_set.alert_file()
    assert set(data) == {"version", "rules"} and data["version"] == 1
    assert len(LABELS) >= 12
    assert len({label["id"] for label in LABELS}) == len(LABELS)
    by_story = stories()
    phase2 = {a["story"] for a in ARTICLES if a["phase"] == 2}
    for label in LABELS:
        rid = label["id"]
        assert set(label) == LABEL_KEYS, rid
        assert label["languages"] == ["en", "ja"] and label["description"], rid
        # a phase-1 story may be expected_not too (it alerted in phase 1; a late copy follows)
        decided = label["phase2_alerts"] + label["expected_not"] + label["optional"]
        assert all(s in by_story for s in decided + label["phase1_alerts"]), rid
        assert len(decided) == len(set(decided)), rid
        for s in label["phase1_alerts"]:
            assert any(a["phase"] == 1 for a in by_story[s]), (rid, s)
        # a phase-2 alert is a story that is new in phase 2
        for s in label["phase2_alerts"]:
            assert {a["phase"] for a in by_story[s]} == {2}, (rid, s)
        assert label["phase2_alerts"], rid
        assert set(label["expected_not"]) == phase2 - set(label["phase2_alerts"]) \
            - set(label["optional"]), rid
        alert = set(label["phase1_alerts"]) | set(label["phase2_alerts"])
        assert sorted(label["matching_articles"]) == sorted(
            a["id"] for a in ARTICLES if a["story"] in alert), rid
        # a near miss matches nothing, or is a late copy in a story alerted in phase 1
        for a in label["near_misses"]:
            assert a in BY_ID, (rid, a)
            if a in label["matching_articles"]:
                assert BY_ID[a]["phase"] == 2 and BY_ID[a]["story"] in label["phase1_alerts"], \
                    (rid, a)
    assert sum(len(label["optional"]) for label in LABELS) <= 3  # borderline cases stay rare


def test_rules_are_written_as_an_analyst_would() -> None:
    langs = collections.Counter()
    for label in LABELS:
        rule = label["rule"]
        assert set(rule) <= RULE_KEYS and rule["id"] == label["id"], label["id"]
        assert len(rule.get("topics") or []) <= 1, label["id"]
        assert len(rule["query"]) <= 70 and "\n" not in rule["query"], label["id"]
        langs["ja" if KANA.search(rule["query"]) or re.search(r"[\u4e00-\u9fff]", rule["query"])
              else "en"] += 1
    assert langs["en"] >= 3 and langs["ja"] >= 3, langs
    assert any(not label["rule"].get("topics") for label in LABELS)
    assert any(label["rule"].get("topics") for label in LABELS)


def _settings(rules):
    # the bundled topics, so that load_config checks the rules' topic names as a run does
    return Settings().replace("enrich", topics=default_file("topics.yaml")).replace(
        "alerts", rules=rules)


def test_rules_load_with_newsmons_own_loader(tmp_path) -> None:
    path = relevance_set.write_rules(tmp_path / "alerts.yaml")
    config = load_config(_settings(path))
    assert [r.id for r in config.rules] == [label["id"] for label in LABELS]
    # no min_score: the relevance gate decides (issue 16)
    assert all(r.min_score is None and not r.entities and not r.langs for r in config.rules)
    for rule, label in zip(config.rules, LABELS):
        assert rule.query == label["rule"]["query"]
        assert [t for t, _ in rule.topics] == list(label["rule"].get("topics") or [])


@pytest.mark.parametrize("bad", [{"topics": ["cybr"]}, {"mode": "fuzzy"}])
def test_the_loader_check_can_fail(tmp_path, bad) -> None:
    """The load check above is real: a mistyped topic or mode in a rule is refused."""
    path = relevance_set.write_rules(tmp_path / "alerts.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["rules"][0].update(bad)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=next(iter(bad))):
        load_config(_settings(path))


def test_the_readme_counts_are_true() -> None:
    readme = (relevance_set.RELEVANCE_DIR / "README.md").read_text(encoding="utf-8")
    for phrase in (f"{len(ARTICLES)} articles", f"{len(QUERIES)} queries",
                   f"{len(LABELS)} alert rules", f"{len(stories())} stories",
                   f"{sum(a['lang'] == 'en' for a in ARTICLES)} English",
                   f"{sum(a['lang'] == 'ja' for a in ARTICLES)} Japanese"):
        assert phrase in readme, phrase
