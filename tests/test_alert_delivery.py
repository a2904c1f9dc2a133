"""The outbox and its channels, against real receivers: a local HTTP server for webhooks and
Apprise, the real SMTP server `.ci/test` starts (aiosmtpd, STARTTLS, a login), real files and a
real SQLite store. No mocks."""
from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import pytest

from newsmon.alerts import status as alerts_status
from newsmon.alerts import status_lines
from newsmon.alerts.deliver import deliver_pending
from newsmon.alerts.render import render, zone
from newsmon.alerts.rules import Channel
from newsmon.index.core.settings import Settings
from newsmon.index.store import StoreBase as Store
from newsmon.index.store.repos.alerts import NewAlert, idempotency_key
from tests.helpers.pgdb import open_test_store
from tests.helpers.receiver import start_receiver

TITLE_JA = "日英、重要鉱物で新枠組み　レアアース供給網を強化"
# as every message shows it: normalised like search results (the ideographic space a space)
SHOWN_JA = "日英、重要鉱物で新枠組み レアアース供給網を強化"


def _payload(story: str = "s1", title: str = TITLE_JA, lang: str = "ja") -> dict:
    return {
        "type": "match", "rule": "japan-uk-pact", "rule_description": "pact coverage",
        "story": story, "score": 0.91, "alerted_at": "2026-11-13T10:00:00+00:00",
        "article": {"id": f"id-{story}", "url": f"http://tohto-shimbun.example/{story}.html",
                    "title": title, "lang": lang, "source": "tohto-shimbun",
                    "published": "2026-11-13T09:30:00+00:00", "text": "本文",
                    "topics": {"minerals": {"score": 0.93, "label": True,
                                            "evidence": [{"term": "レアアース"}]}}},
        "why": {"terms": ["重要鉱物", "レアアース"], "passage": "日英両政府は重要鉱物の…",
                "topics": {"minerals": {"score": 0.93, "evidence": ["レアアース", "重要鉱物"]}},
                "score": 0.91},
        "also": [{"id": "x", "url": "http://harbourline.example/x/", "title": "UK and Japan sign "
                  "minerals pact", "lang": "en", "source": "harbourline", "published": None}],
    }


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def store(request, tmp_path: Path):
    """The outbox over both stores of record (the store contract)."""
    with open_test_store(request.param, tmp_path) as s:
        yield s


def _settings(tmp_path: Path, **alerts) -> Settings:
    base = {"retries": 1, "retry_backoff": 0.0, "max_attempts": 3, "webhook_timeout": 0.5,
            "timezone": "Asia/Tokyo"}
    base.update(alerts)
    return Settings().replace("data", dir=tmp_path).replace("alerts", **base)


def _decide(store: Store, channels: list[Channel], story: str = "s1", **kw) -> None:
    repo = store.alerts
    alert = NewAlert(key=f"rule:japan-uk-pact:story:{story}", rule="japan-uk-pact",
                     kind="match", payload=_payload(story, **kw), story=story,
                     article_id=f"id-{story}", score=0.91, articles={f"id-{story}": "trigger"},
                     channels={c.key: c.to_spec() for c in channels})
    repo.record([alert])


def test_file_channel_writes_the_design_format_once(tmp_path: Path, store: Store) -> None:
    _decide(store, [Channel("file", path="out/alerts.jsonl")])
    stats = deliver_pending(_settings(tmp_path), store.alerts)
    assert stats.delivered == 1
    lines = (tmp_path / "out" / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert {"rule", "story", "article", "score", "alerted_at", "idempotency_key"} <= set(record)
    assert record["article"]["title"] == TITLE_JA   # Japanese intact, not \\u-escaped either
    assert TITLE_JA in lines[0]
    # a second run has nothing pending; a resend of the same key (crash between send and
    # record) is dropped by the file channel itself
    assert deliver_pending(_settings(tmp_path), store.alerts).delivered == 0
    repo = store.alerts
    store.connection.execute("UPDATE deliveries SET state='pending'")
    assert deliver_pending(_settings(tmp_path), repo).delivered == 1
    assert len((tmp_path / "out" / "alerts.jsonl").read_text().splitlines()) == 1


def test_webhook_carries_slack_text_and_the_idempotency_key(tmp_path: Path, store: Store
                                                            ) -> None:
    receiver = start_receiver()
    try:
        _decide(store, [Channel("webhook", url_env="HOOK_URL")])
        stats = deliver_pending(_settings(tmp_path), store.alerts,
                                env={"HOOK_URL": receiver.url})
        assert stats.delivered == 1
        [req] = receiver.requests
        key = idempotency_key("rule:japan-uk-pact:story:s1", "webhook:HOOK_URL")
        assert req.headers["Idempotency-Key"] == key == req.body["idempotency_key"]
        assert req.headers["Content-Type"].startswith("application/json")
        text = req.body["text"]
        assert f"*<http://tohto-shimbun.example/s1.html|{SHOWN_JA}>*" in text
        assert "tohto-shimbun · Japanese (日本語) · 2026-11-13 18:30 JST" in text
        assert "`minerals 0.93`" in text and "重要鉱物" in text
        assert "also covered by" in text
        assert req.body["alert"]["article"]["title"] == TITLE_JA
    finally:
        receiver.close()


def test_failing_webhook_is_retried_next_run_then_parked_and_resent_with_retry(
        tmp_path: Path, store: Store) -> None:
    receiver = start_receiver()
    try:
        settings = _settings(tmp_path, retries=1, max_attempts=2)
        env = {"HOOK_URL": receiver.url}
        repo = store.alerts
        _decide(store, [Channel("webhook", url_env="HOOK_URL"),
                        Channel("file", path="alerts.jsonl")])
        # run 1: a 500 then a hang past the timeout; the file channel is not held up
        receiver.script = ["error", "hang"]
        stats = deliver_pending(settings, repo, env=env)
        assert (stats.delivered, stats.failed, stats.parked) == (1, 1, 0)
        assert "did not answer in 0.5s" in stats.errors["webhook:HOOK_URL"]
        assert (tmp_path / "alerts.jsonl").exists()
        # run 2: fails again -> parked (max_attempts=2), visible in the counts
        receiver.behaviour = "error"
        stats = deliver_pending(settings, repo, env=env)
        assert (stats.failed, stats.parked) == (0, 1)
        assert repo.delivery_counts()["webhook:HOOK_URL"] == {"pending": 0, "sent": 0,
                                                              "parked": 1}
        [parked] = repo.parked()
        assert parked["attempts"] == 2 and "http_500" in parked["last_error"]
        shown = "\n".join(status_lines(alerts_status(store)))
        assert "deliveries to webhook:HOOK_URL: sent 0, pending 0, parked 1" in shown
        assert "resend with `newsmon alert --retry`" in shown
        # a parked delivery is not retried by an ordinary run...
        receiver.behaviour = "ok"
        assert deliver_pending(settings, repo, env=env).delivered == 0
        # ...only after --retry, and then exactly once
        assert repo.unpark() == 1
        assert deliver_pending(settings, repo, env=env).delivered == 1
        assert deliver_pending(settings, repo, env=env).delivered == 0
        assert len(receiver.delivered()) == 1
        keys = {r.headers["Idempotency-Key"] for r in receiver.requests}
        assert len(keys) == 1   # every attempt carried the same key
    finally:
        receiver.close()


def test_a_dead_channel_costs_one_timeout_per_run_not_one_per_alert(tmp_path: Path,
                                                                    store: Store) -> None:
    receiver = start_receiver()
    try:
        receiver.behaviour = "hang"
        for story in ("a", "b", "c"):
            _decide(store, [Channel("webhook", url_env="HOOK_URL"),
                            Channel("file", path="alerts.jsonl")], story=story)
        stats = deliver_pending(_settings(tmp_path, retries=0), store.alerts,
                                env={"HOOK_URL": receiver.url})
        assert len(receiver.requests) == 1
        assert (stats.delivered, stats.failed, stats.deferred) == (3, 1, 2)
        assert len((tmp_path / "alerts.jsonl").read_text().splitlines()) == 3
    finally:
        receiver.close()


def test_unset_webhook_variable_is_a_recorded_failure_not_a_crash(tmp_path: Path,
                                                                  store: Store) -> None:
    _decide(store, [Channel("webhook", url_env="NOT_SET_ANYWHERE")])
    stats = deliver_pending(_settings(tmp_path), store.alerts, env={})
    assert stats.failed == 1
    assert "NOT_SET_ANYWHERE is not set" in stats.errors["webhook:NOT_SET_ANYWHERE"]


def test_apprise_json_url_reaches_a_real_receiver(tmp_path: Path, store: Store) -> None:
    receiver = start_receiver()
    try:
        _decide(store, [Channel("apprise", urls_env="APPRISE_URLS")])
        port = receiver.server.server_port
        stats = deliver_pending(_settings(tmp_path), store.alerts,
                                env={"APPRISE_URLS": f"json://127.0.0.1:{port}/hook"})
        assert stats.delivered == 1, stats.errors
        [req] = receiver.requests
        assert SHOWN_JA in req.body["title"] and SHOWN_JA in req.body["message"]
    finally:
        receiver.close()


def test_stdout_channel_prints_the_plain_text(tmp_path: Path, store: Store, capsys) -> None:
    _decide(store, [Channel("stdout")])
    assert deliver_pending(_settings(tmp_path), store.alerts).delivered == 1
    out = capsys.readouterr().out
    assert SHOWN_JA in out and "why: matched: 重要鉱物, レアアース" in out
    assert "also covered by:" in out and "http://tohto-shimbun.example/s1.html" in out


def test_email_rendering_keeps_japanese_subjects_and_has_both_parts() -> None:
    from newsmon.alerts.channels import email_message

    message = render(_payload(), "k" * 32, zone("Asia/Tokyo"))
    msg = email_message(Channel("email", to=("a@example.org",)), message, sender="n@localhost")
    raw = msg.as_bytes()
    assert b"=?utf-8?" in raw            # RFC 2047 encoded header, not raw 8-bit
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert SHOWN_JA in parsed["Subject"]
    assert parsed["Message-ID"] == f"<{'k' * 32}@newsmon>"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_email_to_the_real_smtp_server_over_starttls(tmp_path: Path, store: Store,
                                                     smtp_server) -> None:
    before = len(smtp_server.messages())
    settings = _settings(tmp_path, smtp_host=smtp_server.host, smtp_port=smtp_server.port,
                         smtp_security="starttls", smtp_cafile=str(smtp_server.cafile))
    env = {"NEWSMON_SMTP_USER": smtp_server.user,
           "NEWSMON_SMTP_PASSWORD": smtp_server.password}
    _decide(store, [Channel("email", to=("analyst@example.org",))], story="mail1")
    stats = deliver_pending(settings, store.alerts, env=env)
    assert stats.delivered == 1, stats.errors
    messages = smtp_server.messages()[before:]
    assert len(messages) == 1
    parsed = email.message_from_bytes(messages[0], policy=email.policy.default)
    assert parsed["Subject"] == f"[newsmon] {SHOWN_JA} [japan-uk-pact]"
    key = idempotency_key("rule:japan-uk-pact:story:mail1", "email:analyst@example.org")
    assert parsed["Message-ID"] == f"<{key}@newsmon>"
    plain = parsed.get_body(("plain",)).get_content()
    html_part = parsed.get_body(("html",)).get_content()
    assert SHOWN_JA in plain and SHOWN_JA in html_part and "<mark>" not in html_part
    # a wrong password is a recorded failure with a reason, not a crash
    _decide(store, [Channel("email", to=("analyst@example.org",))], story="mail2")
    stats = deliver_pending(settings.replace("alerts", smtp_timeout=3, retries=0),
                            store.alerts,
                            env={**env, "NEWSMON_SMTP_PASSWORD": "wrong"})
    assert stats.failed == 1 and "SMTP 127.0.0.1" in next(iter(stats.errors.values()))
    assert len(smtp_server.messages()) == before + 1
