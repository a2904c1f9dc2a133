"""Alert evaluation searches through the store it is given: no second Store on the same file.

A tiny store, enriched by hand (a story per article, no vectors) and indexed by the embedded
backend, with keyword rules: no embedding model is loaded, so this runs in a second.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from newsmon.alerts import run_alerts
from newsmon.alerts.evaluate import RuleSearch
from newsmon.app.indexing import index_store
from newsmon.app.search import Searcher, SearchRequest, SearchResponse
from newsmon.app.settings import load_settings
from newsmon.cli.main import main
from newsmon.index.core.article import Article, Stage
from newsmon.index.core.settings import Settings
from newsmon.index.store import Store

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RULES = """
version: 1
health: {enabled: false}
rules:
  - id: zeppelins
    query: zeppelin airship
    mode: keyword
    min_score: 0.5
    channels: [{type: file, path: alerts.jsonl}]
"""
TITLES = ["A zeppelin airship returns", "Markets fall", "Airship zeppelin crash"]


def _article(i: int, title: str) -> Article:
    return Article(url=f"https://example.com/{i}", canonical_url=f"https://example.com/{i}",
                   source="example", title=title, text=f"{title}. More text follows.",
                   lang="en", story=f"story-{i}", published=datetime(2026, 1, 1, tzinfo=UTC),
                   stage=Stage.ENRICHED)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "alerts.yaml").write_text(RULES, encoding="utf-8")
    settings = (load_settings(env={}).replace("data", dir=tmp_path / "data")
                .replace("alerts", rules=tmp_path / "alerts.yaml"))
    with Store(settings.data.store_path) as store:
        store.articles.upsert([_article(i, t) for i, t in enumerate(TITLES)])
        index_store(settings, store)
    return settings


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Store]]:
    """Every Store constructed from now on, however it was imported."""
    stores: list[Store] = []
    real_init = Store.__init__

    def counting_init(self: Store, *args: Any, **kwargs: Any) -> None:
        stores.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(Store, "__init__", counting_init)
    yield stores


def _alerted(settings: Settings) -> list[str]:
    path = settings.data.dir / "alerts.jsonl"
    return sorted(json.loads(line)["article"]["title"]
                  for line in path.read_text(encoding="utf-8").splitlines())


def test_evaluation_opens_no_second_store(settings: Settings, opened: list[Store]) -> None:
    with Store(settings.data.store_path) as store:
        outcome = run_alerts(settings, store, backfill=True, now=NOW)
    assert outcome.status == "ok" and outcome.decided == 2
    assert len(opened) == 1     # the caller's own
    assert _alerted(settings) == ["A zeppelin airship returns", "Airship zeppelin crash"]


def test_newsmon_alert_opens_one_store(settings: Settings, opened: list[Store],
                                       tmp_path: Path) -> None:
    cfg = tmp_path / "newsmon.toml"
    cfg.write_text(f'[data]\ndir = "{settings.data.dir}"\n[alerts]\n'
                   f'rules = "{settings.alerts.rules}"\n', encoding="utf-8")
    assert main(["--config", str(cfg), "alert", "--backfill"]) == 0
    assert len(opened) == 1
    assert _alerted(settings) == ["A zeppelin airship returns", "Airship zeppelin crash"]


def test_searcher_over_a_given_store_leaves_it_open(settings: Settings) -> None:
    with Store(settings.data.store_path) as store:
        with Searcher(settings, store=store) as searcher:
            assert searcher.store is store
            hits = searcher.search(SearchRequest("zeppelin", mode="keyword")).results
            assert len(hits) == 2
        assert store.changes.head() == 3     # closing the Searcher left the store open
    with Searcher(settings) as own:
        assert own.store.path == settings.data.store_path
    with pytest.raises(Exception, match="closed"):
        own.store.changes.head()             # the Searcher's own store closes with it


def test_a_rule_searches_through_any_rule_search(settings: Settings) -> None:
    """Evaluation asks only for RuleSearch: a caller's searcher is used, and not closed."""
    calls: list[SearchRequest] = []

    class Recording:
        def __init__(self, inner: Searcher) -> None:
            self.inner = inner

        def search(self, req: SearchRequest) -> SearchResponse:
            calls.append(req)
            return self.inner.search(req)

    with Store(settings.data.store_path) as store, \
            Searcher(settings, store=store) as inner:
        searcher: RuleSearch = Recording(inner)
        outcome = run_alerts(settings, store, backfill=True, now=NOW, searcher=searcher)
        assert inner.search(SearchRequest("zeppelin", mode="keyword")).results  # still open
    assert outcome.decided == 2 and len(calls) == 1
    assert calls[0].ids is not None and sorted(calls[0].ids) == sorted(
        a.id for a in map(_article, range(3), TITLES))


def test_explain_lists_each_candidate_with_relevance_and_decision(
        settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`newsmon alert --explain RULE --backfill`: every indexed article, its relevance and the
    decision; nothing is written (a real run afterwards still alerts), and after that run the
    same articles are explained as already alerted."""
    cfg = tmp_path / "newsmon.toml"
    cfg.write_text(f'[data]\ndir = "{settings.data.dir}"\n[alerts]\n'
                   f'rules = "{settings.alerts.rules}"\n', encoding="utf-8")

    def explain() -> dict[str, dict[str, Any]]:
        capsys.readouterr()
        assert main(["--config", str(cfg), "alert", "--explain", "zeppelins", "--backfill",
                     "--json"]) == 0
        return {r["title"]: r for r in json.loads(capsys.readouterr().out)}

    rows = explain()
    assert set(rows) == set(TITLES)
    assert rows["Markets fall"]["decision"].startswith("not matched by the query")
    for title in ("A zeppelin airship returns", "Airship zeppelin crash"):
        assert rows[title]["decision"] == "alert" and rows[title]["relevance"] >= 0.5
    with Store(settings.data.store_path) as store:
        assert store.alerts.alerts() == []            # explaining sent and wrote nothing
    assert main(["--config", str(cfg), "alert", "--backfill"]) == 0
    assert _alerted(settings) == ["A zeppelin airship returns", "Airship zeppelin crash"]
    rows = explain()
    assert rows["Airship zeppelin crash"]["decision"] == "already alerted (this article)"
    capsys.readouterr()
    assert main(["--config", str(cfg), "alert", "--explain", "nosuch"]) == 2
    assert main(["--config", str(cfg), "alert", "--explain", "zeppelins", "--backfill"]) == 0
    assert "already alerted" in capsys.readouterr().out
