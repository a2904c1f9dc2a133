"""The feed channel: an Atom 1.0 file per rule, rebuilt from the store's alert history after each
delivery and replaced atomically. Read back with feedparser (what feed readers use) and checked
for RFC 4287's required elements; real SQLite stores, real files, a real kill -9."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from newsmon.alerts.deliver import deliver_pending
from newsmon.alerts.feed import atom, entry_id, newest, write_atomic
from newsmon.alerts.render import zone
from newsmon.alerts.rules import Channel, load_rules
from newsmon.index.core.errors import ConfigError
from newsmon.index.core.settings import Settings
from newsmon.index.store import Store
from newsmon.index.store.repos.alerts import NewAlert
from tests.helpers.atom import ATOM, check_atom
from tests.helpers.pgdb import open_test_store

TITLE_JA = "日英、重要鉱物で新枠組み　レアアース供給網を強化"
FEED = Channel("feed", path="feeds/japan-uk-pact.atom")


def _payload(story: str, title: str, lang: str = "ja") -> dict:
    return {
        "type": "match", "rule": "japan-uk-pact", "rule_description": "pact coverage",
        "story": story, "score": 0.91, "alerted_at": "2026-11-13T10:00:00+00:00",
        "article": {"id": f"id-{story}", "url": f"http://tohto-shimbun.example/{story}.html?utm=x",
                    "canonical_url": f"http://tohto-shimbun.example/{story}.html",
                    "title": title, "lang": lang, "source": "tohto-shimbun",
                    "published": "2026-11-13T09:30:00+09:00", "text": "本文",
                    "topics": {"minerals": {"score": 0.93, "label": True},
                               "sport": {"score": 0.2, "label": False}}},
        "why": {"terms": ["重要鉱物", "レアアース"], "passage": "日英両政府は重要鉱物の…",
                "topics": {"minerals": {"score": 0.93, "evidence": ["レアアース"]}},
                "score": 0.91, "mode": "semantic", "min_score": 0.83},
        "also": [{"id": "x", "url": "http://harbourline.example/x/", "title": "UK and Japan sign "
                  "minerals pact", "lang": "en", "source": "harbourline", "published": None}],
    }


def _decide(store: Store, story: str, title: str = TITLE_JA, *,
            channels: tuple[Channel, ...] = (FEED,), rule: str = "japan-uk-pact") -> None:
    payload = _payload(story, title)
    payload["rule"] = rule
    store.alerts.record([NewAlert(
        key=f"rule:{rule}:story:{story}", rule=rule, kind="match", payload=payload,
        story=story, article_id=f"id-{story}", score=0.91, articles={f"id-{story}": "trigger"},
        channels={c.key: c.to_spec() for c in channels})])


def _settings(tmp_path: Path, **alerts: object) -> Settings:
    return Settings().replace("data", dir=tmp_path).replace(
        "alerts", **{"retries": 0, "timezone": "Asia/Tokyo", **alerts})


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    """The feed's history read from either store (AlertRepo.feed_alerts)."""
    with open_test_store(request.param, tmp_path) as s:
        yield s


def _feed(tmp_path: Path) -> bytes:
    return (tmp_path / "feeds" / "japan-uk-pact.atom").read_bytes()


def test_feed_entries_carry_the_alert_japanese_intact(tmp_path: Path, store: Store) -> None:
    _decide(store, "s1")
    stats = deliver_pending(_settings(tmp_path), store.alerts)
    assert stats.delivered == 1
    raw = _feed(tmp_path)
    assert TITLE_JA.encode("utf-8") in raw   # UTF-8 as is, not character references
    parsed = check_atom(raw)
    assert parsed.feed.title == "newsmon alerts: japan-uk-pact"
    assert parsed.feed.subtitle == "pact coverage"
    [entry] = parsed.entries
    assert entry.id == entry_id("rule:japan-uk-pact:story:s1")
    assert entry.id.startswith("urn:newsmon:alert:")
    assert entry.title == TITLE_JA
    assert entry.link == "http://tohto-shimbun.example/s1.html"   # canonical, not the utm_ one
    assert entry.published == "2026-11-13T09:30:00+09:00"         # its own offset kept
    assert entry.author == "tohto-shimbun"
    assert [t.term for t in entry.tags] == ["minerals"]             # labelled topics only
    assert entry.tags[0].label == "minerals 0.93"
    content = entry.content[0].value
    assert "Japanese (日本語)" in content and "2026-11-13 09:30 JST" in content
    assert "matched: 重要鉱物, レアアース" in content and "closest passage" in content
    assert "Also covered by" in content and "harbourline.example/x/" in content
    assert ET.fromstring(raw).find(f"{ATOM}entry").get(
        "{http://www.w3.org/XML/1998/namespace}lang") == "ja"


def test_ids_stable_across_runs_and_a_third_run_adds_nothing(tmp_path: Path,
                                                             store: Store) -> None:
    settings = _settings(tmp_path)
    _decide(store, "s1")
    deliver_pending(settings, store.alerts)
    first = check_atom(_feed(tmp_path))
    _decide(store, "s2", "UK and Japan hold first joint cyber exercise")
    assert deliver_pending(settings, store.alerts).delivered == 1
    second_raw = _feed(tmp_path)
    second = check_atom(second_raw)
    ids = [e.id for e in second.entries]
    assert len(ids) == len(set(ids)) == 2
    assert first.entries[0].id in ids   # the first run's entry keeps its id
    assert ids[0] == entry_id("rule:japan-uk-pact:story:s2")   # newest first
    mtime = (tmp_path / "feeds" / "japan-uk-pact.atom").stat().st_mtime_ns
    # a third run with nothing new writes nothing
    assert deliver_pending(settings, store.alerts).delivered == 0
    assert _feed(tmp_path) == second_raw
    assert (tmp_path / "feeds" / "japan-uk-pact.atom").stat().st_mtime_ns == mtime
    # a crash between writing the feed and recording the delivery resends it: the rebuilt
    # feed is the same, no entry twice
    store.connection.execute("UPDATE deliveries SET state='pending'")
    assert deliver_pending(settings, store.alerts).delivered == 2
    assert _feed(tmp_path) == second_raw
    # a lost file comes back whole from the store at the next delivery
    (tmp_path / "feeds" / "japan-uk-pact.atom").unlink()
    _decide(store, "s3", "Third")
    deliver_pending(settings, store.alerts)
    assert [e.id for e in check_atom(_feed(tmp_path)).entries][1:] == ids


def test_feed_is_bounded_to_the_newest_entries(tmp_path: Path, store: Store) -> None:
    settings = _settings(tmp_path, feed_entries=3)
    for i in range(5):
        _decide(store, f"s{i}", f"story {i}")
        deliver_pending(settings, store.alerts)
    parsed = check_atom(_feed(tmp_path))
    assert [e.title for e in parsed.entries] == ["story 4", "story 3", "story 2"]
    with pytest.raises(ConfigError, match="feed_entries"):
        newest([], zone("UTC"), 0)


def test_one_feed_per_channel_spec_and_only_what_went_to_it(tmp_path: Path,
                                                            store: Store) -> None:
    other = Channel("feed", path="feeds/other.atom")
    _decide(store, "s1")
    _decide(store, "s2", "other rule's story", rule="other", channels=(other,))
    _decide(store, "s3", "file only", channels=(Channel("file", path="a.jsonl"),))
    deliver_pending(_settings(tmp_path), store.alerts)
    assert [e.title for e in check_atom(_feed(tmp_path)).entries] == [TITLE_JA]
    assert [e.title for e in check_atom(
        (tmp_path / "feeds" / "other.atom").read_bytes()).entries] == ["other rule's story"]


def test_digest_gives_one_entry_per_story_under_the_match_ids(tmp_path: Path,
                                                             store: Store) -> None:
    items = [_payload("s1", "one"), _payload("s2", "two")]
    store.alerts.record([NewAlert(
        key="rule:japan-uk-pact:digest:0-9", rule="japan-uk-pact", kind="digest",
        payload={"type": "digest", "rule": "japan-uk-pact", "rule_description": "",
                 "items": items, "updates": [], "alerted_at": "2026-11-13T10:00:00+00:00"},
        channels={FEED.key: FEED.to_spec()})])
    deliver_pending(_settings(tmp_path), store.alerts)
    parsed = check_atom(_feed(tmp_path))
    assert sorted(e.id for e in parsed.entries) == sorted(
        entry_id(f"rule:japan-uk-pact:story:{s}") for s in ("s1", "s2"))


def test_feed_channel_config(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(textwrap.dedent("""\
        rules:
          - {id: pact, query: x, channels: [{type: feed}, {type: feed, path: all.atom}]}
        """), encoding="utf-8")
    rule = load_rules(path).rules[0]
    assert [c.path for c in rule.channels] == ["feeds/pact.atom", "all.atom"]
    assert [c.key for c in rule.channels] == ["feed:feeds/pact.atom", "feed:all.atom"]
    path.write_text("rules:\n  - {id: pact, query: x, channels: [{type: feed, url: y}]}\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rules\[0\] \(id=pact\): channels\[0\] \(feed\): "
                                          r"unknown key\(s\) url"):
        load_rules(path)


def test_empty_feed_is_still_valid_atom() -> None:
    parsed = check_atom(atom([], id="urn:newsmon:feed:x", title="empty"))
    assert parsed.entries == [] and parsed.feed.updated.startswith("1970-01-01")


WRITER = """
import sys
from pathlib import Path
from newsmon.alerts.feed import write_atomic
path, mode = Path(sys.argv[1]), sys.argv[2]
docs = [Path(sys.argv[3]).read_bytes(), Path(sys.argv[4]).read_bytes()]
print("ready", flush=True)
i = 0
while True:
    data = docs[i % 2]
    if mode == "atomic":
        write_atomic(path, data)
    else:  # what a plain rewrite does: truncate, then write in pieces
        with path.open("wb") as fh:
            for start in range(0, len(data), 65536):
                fh.write(data[start:start + 65536])
    i += 1
"""


def _kill_while_writing(tmp_path: Path, mode: str, rounds: int) -> list[bytes]:
    """Start a writer that rewrites the feed over and over, kill -9 it at varied moments;
    return what the file held after each kill."""
    docs = []
    for n, word in enumerate(("alpha", "beta")):
        entries = newest([{"kind": "match", "key": f"rule:r:story:{n}-{i}",
                           "created_at": "2026-11-13T10:00:00+00:00",
                           "payload": _payload(f"{n}-{i}", f"{word} {i} " + "日英" * 200)}
                          for i in range(2000)], zone("UTC"), 2000)
        doc = tmp_path / f"{word}.xml"
        doc.write_bytes(atom(entries, id=f"urn:x:{word}", title=word))
        docs.append(doc)
    target = tmp_path / f"{mode}.atom"
    target.write_bytes(docs[0].read_bytes())
    seen = []
    for k in range(rounds):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target), mode,
                                 str(docs[0]), str(docs[1])], stdout=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(0.05 + 0.043 * k)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        seen.append(target.read_bytes())
    return seen


@pytest.mark.slow  # a dozen child processes
def test_a_killed_writer_never_leaves_a_half_written_feed(tmp_path: Path) -> None:
    complete = {(tmp_path / "alpha.xml"), (tmp_path / "beta.xml")}
    seen = _kill_while_writing(tmp_path, "atomic", 6)
    whole = {p.read_bytes() for p in complete}
    assert all(s in whole for s in seen), [len(s) for s in seen]
    for s in seen:
        check_atom(s)
    # the same harness catches a plain rewrite torn by the kill (the check can fail)
    torn = _kill_while_writing(tmp_path, "plain", 6)
    assert any(s not in whole for s in torn), [len(s) for s in torn]
    # the next write clears the temporary files the killed writers left
    write_atomic(tmp_path / "atomic.atom", b"<x/>")
    assert not list(tmp_path.glob(".atomic.atom.*.tmp"))


def test_source_health_notices_can_go_to_a_feed_too(tmp_path: Path, store: Store) -> None:
    health = Channel("feed", path="feeds/health.atom")
    store.alerts.record([NewAlert(
        key="health:demo-paper:failing:2026-11-13T00:00:00+00:00", rule="health",
        kind="health", payload={"type": "health", "source": "demo-paper", "condition": "failing",
                                "since": "2026-11-13T00:00:00+00:00",
                                "detail": "3 crawl runs without a working listing",
                                "alerted_at": "2026-11-13T10:00:00+00:00"},
        channels={health.key: health.to_spec()})])
    deliver_pending(_settings(tmp_path), store.alerts)
    [entry] = check_atom((tmp_path / "feeds" / "health.atom").read_bytes()).entries
    assert entry.title == "source demo-paper is failing"
    assert "3 crawl runs without a working listing" in entry.content[0].value
    assert entry.id == entry_id("health:demo-paper:failing:2026-11-13T00:00:00+00:00")
