"""A user topics file that extends the bundled one: it names only what it adds or changes
(`extends: bundled`), is merged as documented in config/topics.yaml's header, and is validated
with messages naming the file and the bad key."""
from __future__ import annotations

from pathlib import Path

import pytest

from newsmon.alerts.service import load_config
from newsmon.app.settings import load_settings
from newsmon.enrich.topics import load_topics, score_topics, topic_names
from newsmon.index.core.errors import ConfigError

BUNDLED = Path(__file__).resolve().parents[1] / "config" / "topics.yaml"

USER = """\
extends: bundled
scoring:
  semantic: {weight: 0.2}
topics:
  semis:
    description:
      en: Semiconductors and chip supply chains.
    threshold: 0.5
    terms:
      en: {semiconductor: 1.0, chip plant: 0.9}
      ja: {半導体: 1.0}
  cyber:
    threshold: 0.61
  minerals:
    terms:
      en: {scandium: 0.8}
  defence: null
"""


def _write(tmp_path: Path, text: str, name: str = "my-topics.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_user_file_adds_overrides_and_removes_over_the_bundled_topics(tmp_path: Path) -> None:
    bundled = load_topics(BUNDLED)
    mine = load_topics(_write(tmp_path, USER))
    assert mine.names == ("cyber", "minerals", "semis")
    assert topic_names(tmp_path / "my-topics.yaml") == mine.names
    cyber, bcyber = mine["cyber"], bundled["cyber"]
    assert cyber.threshold == 0.61
    # what the file does not name stays as bundled
    assert (cyber.terms, cyber.description, cyber.exclude) == \
        (bcyber.terms, bcyber.description, bcyber.exclude)
    minerals = mine["minerals"]
    assert ("en", "scandium", 0.8) in minerals.terms
    assert set(bundled["minerals"].terms) < set(minerals.terms)
    assert mine.scoring.semantic_weight == 0.2
    assert mine.scoring.saturation == bundled.scoring.saturation
    assert mine.version != bundled.version  # a change re-tags the archive
    # the added topic tags articles
    scored = score_topics("New semiconductor plant opens in Kumamoto",
                          "The chip plant will make semiconductor wafers for carmakers.",
                          "en", mine)
    assert scored["semis"]["label"] is True


@pytest.mark.parametrize("text, message", [
    ("extend: bundled\ntopics: {}\n", r"top level: unknown key\(s\) 'extend'"),
    ("extends: bundled\ntopic: {}\n", r"top level: unknown key\(s\) 'topic'"),
    ("extends: bundled\ntopics:\n  cyber: {treshold: 0.5}\n",
     r"topic 'cyber': unknown key\(s\) 'treshold'"),
    ("extends: bundled\ntopics:\n  semis: {threshold: 0.5, terms: {en: {chip: 1}}}\n",
     r"topic 'semis': missing key\(s\) 'description'"),
    ("extends: bundled\ntopics:\n  cyber: {threshold: 2}\n",
     r"topic 'cyber': key 'threshold': must be in \(0.0, 1.0\]"),
    ("extends: bundled\ntopics:\n  cyberr: null\n",
     r"topics.cyberr: null removes 'cyberr', which the extended file does not define; it has: "
     r"cyber, defence, minerals"),
    ("extends: bundled\ntopics:\n  minerals: {terms: {en: {scandum: null}}}\n",
     r"topics.minerals.terms.en.scandum: null removes 'scandum'"),
    ("extends: bundled\nscoring: {semantic: {wieght: 0.1}}\n",
     r"scoring.semantic: unknown key\(s\) 'wieght'"),
    ("extends: [bundled]\n", r"extends: must be 'bundled' or the path of a topics file"),
    ("extends: nowhere.yaml\n", r"nowhere.yaml"),
    ("extends: my-topics.yaml\n", r"extends: 'my-topics.yaml' extends itself"),
])
def test_bad_user_topics_are_errors_naming_file_and_key(tmp_path: Path, text: str,
                                                       message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as err:
        load_topics(path)
    if "nowhere" not in text:
        assert str(err.value).startswith(str(path)), err.value


def test_a_user_file_can_extend_another_user_file(tmp_path: Path) -> None:
    _write(tmp_path, USER, "team.yaml")
    mine = _write(tmp_path, "extends: team.yaml\ntopics:\n  semis: {threshold: 0.7}\n")
    topics = load_topics(mine)
    assert topics.names == ("cyber", "minerals", "semis")
    assert topics["semis"].threshold == 0.7 and topics["cyber"].threshold == 0.61


def test_settings_name_a_user_topics_file_and_rules_may_use_its_topics(tmp_path: Path) -> None:
    topics = _write(tmp_path, USER)
    rules = _write(tmp_path, "rules:\n  - {id: a, query: chips, topics: [semis], "
                             "channels: [{type: stdout}]}\n", "alerts.yaml")
    settings = load_settings(env={"NEWSMON_ENRICH__TOPICS": str(topics),
                                  "NEWSMON_ALERTS__RULES": str(rules)})
    assert load_config(settings).rules[0].topics == (("semis", None),)
    # the removed topic is unknown to the rules now
    rules.write_text("rules:\n  - {id: a, query: q, topics: [defence], channels: [{type: stdout}]}\n")
    with pytest.raises(ConfigError, match=r"'topics' has 'defence'; known topics: cyber, "
                                          r"minerals, semis"):
        load_config(settings)


def test_bundled_header_names_no_file_the_wheel_lacks() -> None:
    """The header of the topics.yaml a wheel ships says how to extend it, and sends the reader
    only to what an installed newsmon has (bench/ and tests/ are not in the wheel)."""
    header = "".join(line for line in BUNDLED.read_text(encoding="utf-8").splitlines(True)
                     if line.startswith("#"))
    assert "extends: bundled" in header
    for paragraph in header.split("#\n"):
        if "bench/" in paragraph or "tests/" in paragraph:
            assert "source repository" in paragraph, paragraph
