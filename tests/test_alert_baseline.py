"""A rule's baseline is what was stored before the rule was first seen, not what arrived in the
run that evaluates it first: a rule added before new articles alerts on them.

A tiny store enriched by hand (a story per article, no vectors), indexed by the embedded backend,
keyword rules: no model is loaded. The end-to-end case, new articles crawled in the very run
that first sees the rule, is tests/test_demo_alerts.py's second test.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsmon.alerts import run_alerts, see_rules
from newsmon.alerts.service import status, status_lines
from newsmon.app.indexing import index_store
from newsmon.app.pipeline import run
from newsmon.app.settings import load_settings
from newsmon.index.core.article import Article, Stage
from newsmon.index.core.settings import Settings
from newsmon.index.store import Store

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RULE = """
version: 1
health: {enabled: false}
rules:
  - id: zeppelins
    query: zeppelin airship
    mode: keyword
    min_score: 0.5
    channels: [{type: file, path: alerts.jsonl}]
"""
OLD = ["A zeppelin airship returns", "Markets fall"]
NEW = ["Airship zeppelin crash", "Rain tomorrow"]


def _article(i: int, title: str) -> Article:
    return Article(url=f"https://example.com/{i}", canonical_url=f"https://example.com/{i}",
                   source="example", title=title, text=f"{title}. More text follows.",
                   lang="en", story=f"story-{i}", published=datetime(2026, 1, 1, tzinfo=UTC),
                   stage=Stage.ENRICHED)


def _store_new(settings: Settings, titles: list[str], first: int) -> None:
    with Store(settings.data.store_path) as store:
        store.articles.upsert([_article(first + i, t) for i, t in enumerate(titles)])


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A store with the old articles indexed, and no rule yet."""
    settings = (load_settings(env={}).replace("data", dir=tmp_path / "data")
                .replace("alerts", rules=tmp_path / "alerts.yaml"))
    (tmp_path / "alerts.yaml").write_text("version: 1\nhealth: {enabled: false}\nrules: []\n",
                                          encoding="utf-8")
    _store_new(settings, OLD, 0)
    with Store(settings.data.store_path) as store:
        index_store(settings, store)
    return settings


def _alerted(settings: Settings) -> list[str]:
    path = settings.data.dir / "alerts.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["article"]["title"]
            for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_rule_added_before_new_articles_alerts_on_them(settings: Settings) -> None:
    settings.alerts.rules.write_text(RULE, encoding="utf-8")      # the user adds a rule
    # the next run sees it first, then stores new articles (its crawl), indexes, alerts
    with Store(settings.data.store_path) as store:
        assert see_rules(settings, store) == ["zeppelins"]
    _store_new(settings, NEW, len(OLD))
    outcome = run(settings, command="run", stages=("index", "alert"))
    alert = outcome.step("alert")
    assert alert is not None and alert.status == "ok"
    # the old zeppelin story is the silent baseline; the new one alerts at once
    assert _alerted(settings) == ["Airship zeppelin crash"]
    info = alert.stats["rules"]["zeppelins"]
    assert info["baseline"] and info["baseline_stories"] == 1 and info["alerts"] == 1
    assert alert.stats["baselines"] == 1 and alert.stats["delivered"] == 1
    # a second run sends nothing again
    again = run(settings, command="run", stages=("index", "alert")).step("alert")
    assert again is not None and again.stats["decided"] == 0
    assert _alerted(settings) == ["Airship zeppelin crash"]


def test_any_run_sees_a_new_rule_before_it_stores_anything(settings: Settings) -> None:
    settings.alerts.rules.write_text(RULE, encoding="utf-8")
    run(settings, command="index", stages=("index",))      # a run without the alert stage
    with Store(settings.data.store_path) as store:
        seen = store.alerts.rules_seen()["zeppelins"]
        assert seen.first_seen_seq == store.changes.head() and seen.baseline_at is None
        # what records it: an articles-indexed store waits for the alert stage, not for articles
        assert "baseline not recorded yet: the next `newsmon alert`" in \
            "\n".join(status_lines(status(store)))
    _store_new(settings, NEW, len(OLD))
    run(settings, command="run", stages=("index", "alert"))
    assert _alerted(settings) == ["Airship zeppelin crash"]


def test_status_says_when_the_baseline_was_recorded_and_how_to_backfill(
        settings: Settings) -> None:
    settings.alerts.rules.write_text(RULE, encoding="utf-8")
    run(settings, command="alert", stages=("alert",))   # a rule evaluated alone: all baseline
    assert _alerted(settings) == []
    with Store(settings.data.store_path) as store:
        lines = "\n".join(status_lines(status(store)))
    assert "zeppelins: baseline recorded" in lines and "1 stories" in lines
    assert "newsmon alert --backfill --rule zeppelins" in lines
    # the advice holds: a backfill sends the stories the baseline held back, once
    step = run(settings, command="alert", stages=("alert",),
               options={"alert": {"backfill": True, "rule": "zeppelins"}}).step("alert")
    assert step is not None and step.stats["decided"] == 1
    assert _alerted(settings) == ["A zeppelin airship returns"]
    run(settings, command="alert", stages=("alert",),
        options={"alert": {"backfill": True, "rule": "zeppelins"}})
    assert _alerted(settings) == ["A zeppelin airship returns"]


def test_a_rule_first_seen_on_an_empty_store_baselines_the_first_crawl(
        tmp_path: Path) -> None:
    """A fresh store's first crawl is the sites' backlog (feeds list weeks of old news)."""
    (tmp_path / "alerts.yaml").write_text(RULE, encoding="utf-8")
    settings = (load_settings(env={}).replace("data", dir=tmp_path / "data")
                .replace("alerts", rules=tmp_path / "alerts.yaml"))
    with Store(settings.data.store_path) as store:
        assert see_rules(settings, store) == ["zeppelins"]
        assert store.alerts.rules_seen()["zeppelins"].first_seen_seq == 0
    _store_new(settings, OLD + NEW, 0)
    with Store(settings.data.store_path) as store:
        index_store(settings, store)
        outcome = run_alerts(settings, store, now=NOW)
    assert outcome.baselines == 2 and outcome.decided == 0 and _alerted(settings) == []


def test_what_was_stored_before_the_rule_stays_silent_when_the_index_lagged(
        settings: Settings) -> None:
    """The rule's first evaluation stops at what the search backend has indexed; articles stored
    before the rule but indexed only later are baseline too, not news."""
    _store_new(settings, ["Zeppelin airship museum opens"], len(OLD))   # stored, not indexed
    settings.alerts.rules.write_text(RULE, encoding="utf-8")
    with Store(settings.data.store_path) as store:
        see_rules(settings, store)
        first = run_alerts(settings, store, now=NOW)        # the index is behind: OLD only
        assert first.baselines == 1 and first.decided == 0
    _store_new(settings, ["Airship zeppelin crash"], len(OLD) + 1)
    with Store(settings.data.store_path) as store:
        index_store(settings, store)
        second = run_alerts(settings, store, now=NOW)
        assert second.baselines == 1 and second.decided == 1
        assert store.alerts.rules_seen()["zeppelins"].baseline_stories == 2
    assert _alerted(settings) == ["Airship zeppelin crash"]
