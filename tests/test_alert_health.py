"""Source health on a real SQLite store: one alert when a source starts failing or goes silent,
one recovery notice, nothing per run in between."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsmon.alerts import health
from newsmon.alerts.rules import Channel, HealthConfig
from newsmon.index.core.article import Article
from newsmon.index.store import StoreBase as Store
from tests.helpers.pgdb import open_test_store

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CFG = HealthConfig(failed_runs=3, silence_factor=4, min_silence_hours=24,
                   channels=(Channel("file", path="health.jsonl"),))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def store(request, tmp_path: Path):
    """Source health over both stores of record (the store contract)."""
    with open_test_store(request.param, tmp_path) as s:
        yield s


def _crawl(store: Store, outcome: str, source: str = "harbourline") -> None:
    run_id = store.runs.start("crawl")
    store.runs.log_fetch(f"http://{source}.example/rss.xml", outcome, run_id=run_id,
                         source=source, kind="feed", reason=None if outcome != "failed"
                         else "http_503")
    store.runs.finish(run_id, "ok", {})


def _evaluate(store: Store, now: datetime = NOW) -> list[dict]:
    repo = store.alerts
    alerts, changed = health.decide(repo, health.assess(store, CFG, now), CFG, now)
    with store.transaction():
        ids = repo.record(alerts)
        by_source = {a.payload["source"]: i for a, i in zip(alerts, ids)}
        for cond in changed:
            repo.set_health(cond.source, cond.condition, cond.since, cond.detail,
                            by_source.get(cond.source))
    return [a.payload for a in alerts]


def test_failing_source_alerts_once_and_recovers_once(store: Store) -> None:
    _crawl(store, "discovered")
    assert _evaluate(store) == []
    _crawl(store, "failed")
    _crawl(store, "failed")
    assert _evaluate(store) == []            # two failed runs: not yet
    _crawl(store, "failed")
    [alert] = _evaluate(store)
    assert alert["type"] == "health" and alert["condition"] == "failing"
    assert "last 3 crawl runs" in alert["detail"] and "http_503" in alert["detail"]
    for _ in range(3):                        # still failing: no alert per run
        _crawl(store, "failed")
        assert _evaluate(store) == []
    _crawl(store, "not_modified")             # a 304 is a healthy feed
    [notice] = _evaluate(store)
    assert notice["type"] == "recovery" and notice["condition"] == "failing"
    _crawl(store, "discovered")
    assert _evaluate(store) == []
    repo = store.alerts
    assert [d.channel for d in repo.deliveries()] == ["file:health.jsonl"] * 2
    assert repo.health()["harbourline"]["condition"] == "ok"


def test_a_source_silent_far_longer_than_its_cadence_alerts_once(store: Store) -> None:
    # an article every 6 hours, the last one 3 days before NOW
    last = NOW - timedelta(days=3)
    arts = [Article(url=f"http://nichirin-news.example/{i}", canonical_url=
                    f"http://nichirin-news.example/{i}", source="nichirin-news", title=str(i),
                    published=last - timedelta(hours=6 * i)) for i in range(6)]
    store.articles.upsert(arts)
    store.connection.execute("UPDATE urls SET first_seen = ?", (last.isoformat(),))
    _crawl(store, "discovered", source="nichirin-news")
    # 1 day after the last article: 24 h allowed (4 x 6 h, and the 24 h floor) -> fine
    assert _evaluate(store, last + timedelta(hours=23)) == []
    [alert] = _evaluate(store)
    assert alert["condition"] == "silent" and "usually one every 6.0 h" in alert["detail"]
    assert _evaluate(store, NOW + timedelta(hours=5)) == []
    fresh = Article(url="http://nichirin-news.example/new", canonical_url=
                    "http://nichirin-news.example/new", source="nichirin-news", title="new",
                    published=NOW)
    store.articles.upsert([fresh])
    store.connection.execute("UPDATE urls SET first_seen = ? WHERE url = ?",
                             (NOW.isoformat(), fresh.url))
    [notice] = _evaluate(store, NOW + timedelta(hours=6))
    assert notice["type"] == "recovery" and notice["condition"] == "silent"
