"""config/alerts.yaml: the shipped rules load, and every mistake names the file, rule and key."""
from __future__ import annotations

from pathlib import Path

import pytest

from newsmon.alerts import load_config
from newsmon.alerts.rules import load_rules
from newsmon.app.settings import load_settings
from newsmon.index.core.errors import ConfigError

GOOD = """
version: 1
rules:
  - id: pact
    query: Japan UK pact
    mode: semantic
    lang: [en, ja]
    topics: {minerals: 0.4}
    min_score: 0.8
    channels:
      - {type: file, path: alerts.jsonl}
      - {type: webhook, url_env: NEWSMON_WEBHOOK_URL}
      - {type: email, to: [analyst@example.org]}
      - {type: stdout}
      - {type: apprise, urls_env: NEWSMON_APPRISE_URLS}
    digest: per_run
health:
  failed_runs: 2
  channels: [{type: stdout}]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "alerts.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_rules_load_and_cover_the_mission() -> None:
    cfg = load_config(load_settings(env={}))
    ids = {r.id for r in cfg.rules}
    assert {"japan-uk-pact", "pact-minerals", "pact-defence", "pact-cyber"} <= ids
    for rule in cfg.rules:
        # a rule without the relevance gate (min_score 0) is made precise by its filters
        assert rule.channels and (rule.threshold > 0 or rule.entities), rule.id
        assert set(rule.langs) in ({"en", "ja"}, set()), rule.id   # both languages


def test_a_full_rule_parses(tmp_path: Path) -> None:
    cfg = load_rules(_write(tmp_path, GOOD))
    rule = cfg.rule("pact")
    assert rule.mode == "semantic" and rule.langs == ("en", "ja")
    assert rule.topics == (("minerals", 0.4),) and rule.digest == "per_run"
    assert [c.key for c in rule.channels] == [
        "file:alerts.jsonl", "webhook:NEWSMON_WEBHOOK_URL", "email:analyst@example.org",
        "stdout", "apprise:NEWSMON_APPRISE_URLS"]
    assert cfg.health.failed_runs == 2 and cfg.health.channels[0].type == "stdout"
    with pytest.raises(ConfigError, match="no rule 'nope'; rules: pact"):
        cfg.rule("nope")


@pytest.mark.parametrize("bad, message", [
    ("    mode: fuzzy\n", r"rules\[0\] \(id=pact\): 'mode' is 'fuzzy'; allowed values: hybrid"),
    ("    lang: [en, fr]\n", r"\(id=pact\): 'lang' has 'fr'; allowed values: en, ja"),
    ("    min_score: high\n", r"\(id=pact\): 'min_score' must be a number"),
    ("    colour: red\n", r"\(id=pact\): unknown key\(s\) colour; allowed: channels"),
    ("    digest: hourly\n", r"\(id=pact\): 'digest' is 'hourly'; allowed values: off, per_run"),
    ("    topics: {cyber: 2}\n", r"'topics.cyber' = 2 must be between 0.0 and 1.0"),
    ("    topics_any: {cyber: 0.5}\n", r"'topics_any' must be a string or a list of strings"),
])
def test_bad_keys_are_named(tmp_path: Path, bad: str, message: str) -> None:
    text = "rules:\n  - id: pact\n    query: q\n    channels: [{type: stdout}]\n" + bad
    with pytest.raises(ConfigError, match=message) as info:
        load_rules(_write(tmp_path, text))
    assert str(tmp_path / "alerts.yaml") in str(info.value)


@pytest.mark.parametrize("channel, message", [
    ("{type: webhook, url: 'http://x'}", r"channels\[0\] \(webhook\): unknown key\(s\) url"),
    ("{type: webhook, url_env: 'http://hooks'}", r"'url_env' must name an environment variable"),
    ("{type: email, to: [not-an-address]}", r"'to' has 'not-an-address'"),
    ("{type: file}", r"'path' must name a file"),
    ("{type: pager}", r"'type' one of file, feed, webhook, email, stdout, apprise"),
])
def test_bad_channels_are_named(tmp_path: Path, channel: str, message: str) -> None:
    text = f"rules:\n  - id: pact\n    query: q\n    channels: [{channel}]\n"
    with pytest.raises(ConfigError, match=r"rules\[0\] \(id=pact\)") as info:
        load_rules(_write(tmp_path, text))
    assert __import__("re").search(message, str(info.value)), str(info.value)


def test_file_level_mistakes(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="alert rules file not found"):
        load_rules(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_rules(_write(tmp_path, "rules: [\n"))
    with pytest.raises(ConfigError, match="unknown top-level key"):
        load_rules(_write(tmp_path, "rule: []\n"))
    two = "rules:\n" + "  - {id: a, query: q, channels: [{type: stdout}]}\n" * 2
    with pytest.raises(ConfigError, match=r"rules\[1\] \(id=a\): duplicate id 'a'"):
        load_rules(_write(tmp_path, two))
    no_channel = "rules:\n  - {id: a, query: q}\n"
    with pytest.raises(ConfigError, match="'channels' must list at least one channel"):
        load_rules(_write(tmp_path, no_channel))


def test_unknown_topic_is_caught_at_load_time(tmp_path: Path) -> None:
    text = "rules:\n  - {id: a, query: q, topics: [cyberr], channels: [{type: stdout}]}\n"
    path = _write(tmp_path, text)
    settings = load_settings(env={"NEWSMON_ALERTS__RULES": str(path)})
    with pytest.raises(ConfigError, match=r"'topics' has 'cyberr'; known topics: cyber, "
                                          r"defence, minerals"):
        load_config(settings)
    text = "rules:\n  - {id: a, query: q, topics_any: [cyber, mineral], channels: [{type: stdout}]}\n"
    settings = load_settings(env={"NEWSMON_ALERTS__RULES": str(_write(tmp_path, text))})
    with pytest.raises(ConfigError, match=r"'topics_any' has 'mineral'; known topics"):
        load_config(settings)


def test_unknown_entity_id_is_caught_at_load_time(tmp_path: Path) -> None:
    """An entity typo is rejected like a topic typo: the known ids and the near match named."""
    text = ("rules:\n  - {id: a, query: q, entities: {country/japan: 2, country/gb: 2}, "
            "channels: [{type: stdout}]}\n")
    settings = load_settings(env={"NEWSMON_ALERTS__RULES": str(_write(tmp_path, text))})
    with pytest.raises(ConfigError) as err:
        load_config(settings)
    message = str(err.value)
    assert "rules[0] (id=a): 'entities' has 'country/japan'" in message
    assert "known entities" in message and "country/gb" in message and "org/" in message
    assert "(did you mean country/jp or " in message, message
    text = "rules:\n  - {id: a, query: q, entities: [country/jp, GCAP], channels: [{type: stdout}]}\n"
    settings = load_settings(env={"NEWSMON_ALERTS__RULES": str(_write(tmp_path, text))})
    with pytest.raises(ConfigError, match=r"'entities' has 'GCAP'; known entities.*"
                                          r"\(did you mean programme/gcap\?\)"):
        load_config(settings)
    # the bundled rules name only known entities
    assert load_config(load_settings(env={})).rules
    # a gazetteer of one's own is what the ids are checked against
    gazetteer = tmp_path / "entities.yaml"
    gazetteer.write_text("entities:\n  - {id: place/atlantis, type: place, names: {en: [Atlantis]}}\n")
    text = "rules:\n  - {id: a, query: q, entities: [place/atlantis], channels: [{type: stdout}]}\n"
    settings = load_settings(env={"NEWSMON_ALERTS__RULES": str(_write(tmp_path, text)),
                                  "NEWSMON_ENRICH__ENTITIES": str(gazetteer)})
    assert load_config(settings).rules[0].entities == (("place/atlantis", 1),)


def test_settings_key_alerts_rules_is_resolved_against_its_file(tmp_path: Path) -> None:
    _write(tmp_path, GOOD)
    local = tmp_path / "newsmon.toml"
    local.write_text('[alerts]\nrules = "alerts.yaml"\ntimezone = "Asia/Tokyo"\n')
    settings = load_settings(local, env={})
    assert settings.alerts.rules == (tmp_path / "alerts.yaml").resolve()
    assert load_config(settings).rule("pact")


def test_the_demo_rule_is_the_shipped_pact_rule() -> None:
    from newsmon.index.core.defaults import default_file

    shipped = load_rules(default_file("alerts.yaml")).rule("japan-uk-pact")
    demo = load_rules(default_file("demo/alerts.yaml")).rule("japan-uk-pact")
    for key in ("query", "mode", "langs", "topics", "topics_any", "entities", "min_score"):
        assert getattr(demo, key) == getattr(shipped, key), key
