"""`newsmon alerts`: the alert history, read from a real store whose outbox was delivered to
real channels (a file, a feed, a webhook that is down)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsmon.alerts.deliver import deliver_pending
from newsmon.alerts.feed import entry_id
from newsmon.alerts.rules import Channel
from newsmon.cli.main import cli
from newsmon.index.core.settings import Settings
from newsmon.index.store import Store
from newsmon.index.store.repos.alerts import NewAlert
from tests.test_alert_feed import TITLE_JA, _payload

RULES = """\
version: 1
health: {enabled: false}
rules:
  - id: japan-uk-pact
    query: 日英
    channels: [{type: file, path: alerts.jsonl}, {type: feed}]
  - id: quiet
    query: nothing
    channels: [{type: stdout}]
"""


PG_ENV = "HISTORY_TEST_PG_DSN"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def dsn(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """The store's engine: the SQLite file in the data folder (None), or a PostgreSQL database
    of the test's own, its DSN in $HISTORY_TEST_PG_DSN for the command."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("pg_dsn")
    monkeypatch.setenv(PG_ENV, url)
    return url


def _store(tmp_path: Path, dsn: str | None) -> Path:
    """A data folder whose store holds a baseline, two delivered alerts and one whose webhook
    failed; returns the settings file."""
    from newsmon.index.store.base import StoreBase

    (tmp_path / "alerts.yaml").write_text(RULES, encoding="utf-8")
    config = tmp_path / "newsmon.toml"
    pg = (f'store = "postgresql"\ndsn_env = "{PG_ENV}"\n[index]\nbackend = "elasticsearch"\n'
          if dsn else "")
    config.write_text(f'[data]\ndir = "{tmp_path}"\n{pg}[alerts]\nrules = "alerts.yaml"\n'
                      f'timezone = "Asia/Tokyo"\nretries = 0\n', encoding="utf-8")
    channels = [Channel("file", path="alerts.jsonl"), Channel("feed", path="feeds/p.atom")]
    hook = Channel("webhook", url_env="NEWSMON_TEST_DOWN_HOOK")
    opened: StoreBase
    if dsn:
        from newsmon.index.store.postgres import PgStore
        opened = PgStore(dsn)
    else:
        opened = Store(tmp_path / "newsmon.db")
    with opened as store:
        repo = store.alerts
        repo.record([NewAlert(key="rule:japan-uk-pact:story:s0", rule="japan-uk-pact",
                              kind="baseline", payload=_payload("s0", "old"), story="s0")])
        for story, title, chans in (("s1", "first", channels), ("s2", TITLE_JA, channels),
                                    ("s3", "third", [hook])):
            repo.record([NewAlert(key=f"rule:japan-uk-pact:story:{story}", rule="japan-uk-pact",
                                  kind="match", payload=_payload(story, title), story=story,
                                  channels={c.key: c.to_spec() for c in chans})])
        settings = Settings().replace("data", dir=tmp_path).replace(
            "alerts", retries=0, timezone="Asia/Tokyo")
        deliver_pending(settings, repo, env={})
        # s1 was decided long ago
        store.connection.execute("UPDATE alerts SET created_at = '2025-01-01T00:00:00+00:00' "
                                 "WHERE key = 'rule:japan-uk-pact:story:s1'")
    return config


def _alerts(config: Path, *args: str) -> tuple[int, str]:
    """Exit code and output; an error newsmon's main() would print counts as output."""
    result = CliRunner().invoke(cli, ["--config", str(config), "alerts", *args])
    error = "" if result.exception is None or isinstance(result.exception, SystemExit) \
        else str(result.exception)
    return result.exit_code, result.output + error


def test_history_lists_channels_states_and_times(tmp_path: Path, dsn: str | None) -> None:
    config = _store(tmp_path, dsn)
    code, out = _alerts(config, "--json")
    assert code == 0, out
    items = json.loads(out)
    assert [i["title"] for i in items] == ["third", TITLE_JA, "first"]   # newest first, no baseline
    third, second, _ = items
    assert second["entry_id"] == entry_id("rule:japan-uk-pact:story:s2")
    assert second["url"] == "http://tohto-shimbun.example/s2.html"
    assert {d["channel"]: d["state"] for d in second["deliveries"]} == {
        "file:alerts.jsonl": "sent", "feed:feeds/p.atom": "sent"}
    assert all(d["sent_at"] for d in second["deliveries"])
    [hook] = third["deliveries"]
    assert hook["state"] == "pending" and hook["attempts"] == 1
    assert "NEWSMON_TEST_DOWN_HOOK is not set" in hook["last_error"]

    code, text = _alerts(config)
    assert code == 0, text
    assert f"[japan-uk-pact] match: {TITLE_JA}" in text
    assert "-> feed:feeds/p.atom: sent 20" in text and " JST" in text
    assert "-> webhook:NEWSMON_TEST_DOWN_HOOK: pending, 1 failed run (not_configured:" in text


def test_history_filters_by_rule_and_since(tmp_path: Path, dsn: str | None) -> None:
    config = _store(tmp_path, dsn)
    code, out = _alerts(config, "--json", "--since", "2026-01-01")
    assert code == 0, out
    assert [i["title"] for i in json.loads(out)] == ["third", TITLE_JA]
    code, out = _alerts(config, "--json", "--limit", "1")
    assert [i["title"] for i in json.loads(out)] == ["third"]
    code, out = _alerts(config, "--rule", "quiet")
    assert code == 0 and "no alerts sent yet" in out
    code, out = _alerts(config, "--rule", "nope")
    assert code != 0 and "--rule 'nope': no such rule" in out and "japan-uk-pact, quiet" in out
    code, out = _alerts(config, "--since", "yesterday")
    assert code == 2 and "--since" in out


def test_history_never_creates_a_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "none"), "alerts"])
    assert result.exit_code != 0 and "no store at" in str(result.exception)
    assert not (tmp_path / "none" / "newsmon.db").exists()
