"""Times in the configured zone ([display] timezone; default: this machine's): search results
on the command line and through the API the page reads, and alerts ([alerts] timezone, else
[display] timezone). Export keeps each article's own offset. Real store, real index."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsmon.alerts.channels import Channel
from newsmon.alerts.deliver import deliver_pending
from newsmon.app.indexing import index_store
from newsmon.app.search import Searcher, SearchRequest
from newsmon.app.settings import load_settings
from newsmon.cli.main import cli
from newsmon.index.core.article import Article, Stage
from newsmon.index.core.errors import ConfigError
from newsmon.index.core.settings import Settings
from newsmon.index.store import Store
from newsmon.index.store.repos.alerts import NewAlert

JST = timezone(timedelta(hours=9))
ARTS = [
    Article(url="https://news.example/1", canonical_url="https://news.example/1", source="uk",
            lang="en", title="Zeppelin airship returns", text="A zeppelin airship flew again.",
            published=datetime(2025, 3, 12, 14, 5, tzinfo=UTC), stage=Stage.ENRICHED),
    Article(url="https://shinbun.example/1", canonical_url="https://shinbun.example/1",
            source="jp", lang="ja", title="飛行船が復活", text="飛行船が再び飛んだ。zeppelin",
            published=datetime(2025, 3, 12, 23, 10, tzinfo=JST), stage=Stage.ENRICHED),
]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    settings = load_settings(env={}).replace("data", dir=tmp_path / "data")
    with Store(settings.data.store_path) as store:
        store.articles.upsert(ARTS)
        index_store(settings, store)
    return tmp_path / "data"


def _settings(data_dir: Path, **env: str) -> Settings:
    return load_settings(env={"NEWSMON_DATA__DIR": str(data_dir), **env})


@pytest.mark.parametrize("zone, en, ja", [
    ("Asia/Tokyo", "2025-03-12T23:05:00+09:00", "2025-03-12T23:10:00+09:00"),
    ("Europe/London", "2025-03-12T14:05:00+00:00", "2025-03-12T14:10:00+00:00"),
    ("America/New_York", "2025-03-12T10:05:00-04:00", "2025-03-12T10:10:00-04:00"),
])
def test_search_results_show_times_in_the_display_zone(data_dir: Path, zone: str, en: str,
                                                        ja: str) -> None:
    settings = _settings(data_dir, NEWSMON_DISPLAY__TIMEZONE=zone)
    with Searcher(settings) as searcher:
        hits = searcher.search(SearchRequest("zeppelin", mode="keyword")).results
    assert {h.lang: h.published for h in hits} == {"en": en, "ja": ja}


def test_cli_search_and_export(data_dir: Path) -> None:
    runner = CliRunner()
    env = {"NEWSMON_DISPLAY__TIMEZONE": "Asia/Tokyo", "NEWSMON_DATA__DIR": str(data_dir)}
    out = runner.invoke(cli, ["search", "zeppelin", "--mode", "keyword"], env=env).stdout
    assert "[en] uk 2025-03-12T23:05:00+09:00" in out, out
    body = json.loads(runner.invoke(cli, ["search", "zeppelin", "--mode", "keyword", "--json"],
                                    env=env).stdout)
    assert {h["published"] for h in body["results"]} == {"2025-03-12T23:05:00+09:00",
                                                         "2025-03-12T23:10:00+09:00"}
    # export: each article's own offset, whatever the display zone
    env["NEWSMON_DISPLAY__TIMEZONE"] = "America/New_York"
    rows = [json.loads(line) for line in runner.invoke(cli, ["export"], env=env).stdout.splitlines()]
    assert {r["published"] for r in rows} == {"2025-03-12T14:05:00+00:00",
                                              "2025-03-12T23:10:00+09:00"}


def test_bad_zone_is_a_configuration_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[display\]\.timezone 'Mars/Base' is not a known"):
        load_settings(env={"NEWSMON_DISPLAY__TIMEZONE": "Mars/Base"})
    local = tmp_path / "newsmon.toml"
    local.write_text('[alerts]\ntimezone = "Tokyo"\n')
    with pytest.raises(ConfigError, match=rf"{local}.*\[alerts\]\.timezone 'Tokyo'"):
        load_settings(local, env={})
    assert load_settings(env={}).display.timezone == ""  # default: this machine's zone


def test_alerts_fall_back_to_the_display_zone(tmp_path: Path, capsys) -> None:
    payload = {"type": "match", "rule": "r", "story": "s1",
               "article": {"id": "a", "url": "https://news.example/1", "title": "Zeppelin",
                           "lang": "en", "source": "uk",
                           "published": "2025-03-12T14:05:00+00:00"},
               "why": {}, "also": []}
    channel = Channel("stdout")
    for alerts_zone, display, shown in (("", "Asia/Tokyo", "2025-03-12 23:05 JST"),
                                        ("Europe/London", "Asia/Tokyo", "2025-03-12 14:05 GMT")):
        settings = (load_settings(env={"NEWSMON_DISPLAY__TIMEZONE": display})
                    .replace("data", dir=tmp_path).replace("alerts", timezone=alerts_zone))
        with Store(tmp_path / f"{alerts_zone or 'display'}.db") as store:
            store.alerts.record([NewAlert(
                key="rule:r:story:s1", rule="r", kind="match", payload=payload, story="s1",
                article_id="a", score=1.0, articles={"a": "trigger"},
                channels={channel.key: channel.to_spec()})])
            assert deliver_pending(settings, store.alerts).delivered == 1
        assert f"uk · English · {shown}" in capsys.readouterr().out
