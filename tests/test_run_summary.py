"""`newsmon run`'s summary counts each stage's work, the alert stage's included, and says in one
line why a stage is partial (stdout is what cron mails; the log is not).

The small hand-enriched store of tests/test_alert_baseline.py (no model), a real local webhook
receiver, the real pipeline: the index and alert stages under the run lock.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from newsmon.app.pipeline import run
from newsmon.cli.presenters.runs import run_summary
from newsmon.index.core.settings import Settings
from tests.helpers.receiver import Receiver, start_receiver
from tests.test_alert_baseline import NEW, OLD, RULE, _store_new
from tests.test_alert_baseline import settings as settings  # noqa: F401 - the fixture

HOOK_RULE = RULE.replace("channels: [{type: file, path: alerts.jsonl}]",
                         "channels: [{type: webhook, url_env: SUMMARY_TEST_HOOK}]")


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    r = start_receiver()
    monkeypatch.setenv("SUMMARY_TEST_HOOK", r.url)
    yield r
    r.close()


def _rule_then_new_articles(settings: Settings) -> None:
    settings.alerts.rules.write_text(HOOK_RULE, encoding="utf-8")
    run(settings, command="index", stages=("index",))        # the run that first sees the rule
    _store_new(settings, NEW, len(OLD))


def _alert_line(summary: str) -> str:
    line, = [x for x in summary.splitlines() if x.startswith("  alert ")]
    return line


def test_the_alert_stage_line_counts_its_work(settings: Settings, receiver: Receiver) -> None:
    _rule_then_new_articles(settings)
    outcome = run(settings, command="run", stages=("index", "alert"))
    summary = run_summary(outcome, details=False)
    assert outcome.status == "ok" and len(receiver.delivered()) == 1
    assert _alert_line(summary).endswith(
        "matched 2, new alerts 1, delivered 1, pending 0, parked 0, baselines 1")
    assert ("  baseline recorded now for rule zeppelins: 1 stories stored before the rule was "
            "first seen, not sent (to send them: newsmon alert --backfill --rule zeppelins)"
            in summary.splitlines())
    index_line, = [x for x in summary.splitlines() if x.strip().startswith("index ")]
    assert "upserted 2" in index_line
    assert "partial" not in summary


def test_a_partial_stage_says_why_in_one_line(settings: Settings, receiver: Receiver) -> None:
    _rule_then_new_articles(settings)
    receiver.behaviour = "error"
    outcome = run(settings.replace("alerts", retries=0), command="run",
                  stages=("index", "alert"))
    assert outcome.exit_code == 1
    summary = run_summary(outcome, details=True)
    assert "pending 1" in _alert_line(summary)
    causes = [x for x in summary.splitlines() if x.startswith("alert partial:")]
    assert causes == ["alert partial: webhook SUMMARY_TEST_HOOK failed: webhook SUMMARY_TEST_HOOK "
                      "answered HTTP 500 (1 pending, retried next run)"]
    # the next run delivers it, and says nothing is pending
    receiver.behaviour = "ok"
    again = run(settings, command="run", stages=("index", "alert"))
    assert again.status == "ok" and len(receiver.delivered()) == 1
    assert _alert_line(run_summary(again, details=False)).endswith(
        "matched 0, new alerts 0, delivered 1, pending 0, parked 0, baselines 0")
