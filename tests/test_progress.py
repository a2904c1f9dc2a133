"""The progress view: rich rows on a terminal (log lines printed above them), plain log lines
every interval without one."""
from __future__ import annotations

import io
import logging
import re
import sys

import pytest

from newsmon.app.progress import ProgressView

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Snapshot:  # the shape of crawler.stats.CrawlProgress
    def __init__(self, fetched: int, pending: int) -> None:
        self.counts = {"fetched": fetched, "stored": fetched, "failed": 0, "robots_blocked": 0}
        self.pending_requests = pending
        self.extracting = 0


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_view_shows_a_row_per_stage_with_counts_rate_and_elapsed() -> None:
    clock, out = FakeClock(), Terminal()
    with ProgressView(stream=out, clock=clock) as view:
        assert view.tty
        with view.stage("crawl") as crawl:
            crawl(Snapshot(0, pending=3))
            clock.now += 2
            crawl(Snapshot(10, pending=4))
        with view.stage("enrich", rate_key="enriched", total_key="pending") as enrich:
            enrich({"pending": 8, "embedded": 4})
            clock.now += 4
            enrich({"pending": 8, "embedded": 8, "enriched": 8})
    text = ANSI.sub("", out.getvalue())
    # zero counters other than the leading ones are left out; queue gauges are shown
    assert "crawl" in text and "0:00:02" in text
    assert "fetched 10 (5.0/s), stored 10, failed 0, queued 4" in text
    assert "robots blocked" not in text
    assert "enrich" in text and "pending 8, embedded 8, enriched 8 (2.0/s)" in text
    assert "\n" in text and "INFO" not in text


def test_log_lines_written_while_the_view_is_live_print_above_it() -> None:
    from newsmon.cli.main import configure_logging

    clock, out = FakeClock(), Terminal()
    old_stderr, sys.stderr = sys.stderr, out
    try:
        configure_logging("INFO")
        with ProgressView(clock=clock) as view:  # on sys.stderr, as the commands use it
            with view.stage("crawl") as crawl:
                crawl({"fetched": 1, "stored": 1, "failed": 0})
                logging.getLogger("newsmon.test").warning("something to say")
                clock.now += 1
                crawl({"fetched": 2, "stored": 2, "failed": 0})
    finally:
        sys.stderr = old_stderr
        configure_logging("INFO")
    lines = [ln.strip() for ln in ANSI.sub("", out.getvalue()).replace("\r", "\n").split("\n")]
    said = [ln for ln in lines if "something to say" in ln]
    # the message on a line of its own, not mixed into a progress row
    assert said and all(ln.endswith("WARNING newsmon.test: something to say") for ln in said)
    assert any("fetched 2 (2.0/s), stored 2, failed 0" in ln for ln in lines)


def test_without_a_terminal_each_stage_logs_every_interval(
        caplog: pytest.LogCaptureFixture) -> None:
    clock, out = FakeClock(), io.StringIO()
    caplog.set_level(logging.INFO, logger="newsmon.app.progress")
    with ProgressView(stream=out, clock=clock, log_interval=10) as view:
        assert not view.tty
        with view.stage("crawl") as crawl:
            for second in range(1, 26):
                clock.now += 1
                crawl(Snapshot(second * 2, pending=5))
        with view.stage("enrich", rate_key="enriched", total_key="pending") as enrich:
            clock.now += 4
            enrich({"pending": 8, "enriched": 8})
    lines = [r.getMessage() for r in caplog.records if r.name == "newsmon.app.progress"]
    assert lines == [
        "crawl 0:00:10: fetched 20 (2.0/s), stored 20, failed 0, queued 5",
        "crawl 0:00:20: fetched 40 (2.0/s), stored 40, failed 0, queued 5",
        "crawl 0:00:25: fetched 50 (2.0/s), stored 50, failed 0, queued 5 (done)",
        "enrich 0:00:04: pending 8, enriched 8 (2.0/s) (done)",
    ]
    assert out.getvalue() == ""


def test_below_100_columns_the_view_is_one_plain_line_and_log_lines_get_their_own() -> None:
    """At 80 columns the rich rows would shrink to `cr… 0:…` and wrap: one plain line instead,
    cut to the width, redrawn in place; a log line is printed on a line of its own."""
    from newsmon.cli.main import configure_logging

    clock, out = FakeClock(), Terminal()
    old_stderr, sys.stderr = sys.stderr, out
    try:
        configure_logging("INFO")
        with ProgressView(clock=clock, columns=80) as view:
            assert view.plain
            with view.stage("crawl") as crawl:
                crawl(Snapshot(0, pending=3))
                clock.now += 2
                logging.getLogger("newsmon.test").warning("something to say")
                crawl({"fetched": 10, "stored": 10, "failed": 0, "not_modified": 5,
                       "rejected": 1, "requests": 40, "feeds_fetched": 8, "discovered": 12})
            with view.stage("enrich", rate_key="enriched", total_key="pending") as enrich:
                enrich({"pending": 8, "embedded": 8, "enriched": 8})
    finally:
        sys.stderr = old_stderr
        configure_logging("INFO")
    raw = out.getvalue()
    assert "━" not in raw and "⠋" not in raw  # no rich bar, no spinner
    # what the terminal ends up showing: each \r-redrawn line as its last drawing
    shown = [ANSI.sub("", ln).split("\r")[-1] for ln in raw.split("\n") if ln.strip()]
    assert all(len(ln) <= 79 for ln in shown), shown
    assert any(ln.endswith("WARNING newsmon.test: something to say") for ln in shown), shown
    crawl_line = next(ln for ln in shown if ln.startswith("crawl 0:00:02: fetched 10 (5.0/s)"))
    assert crawl_line.endswith("…")  # cut to the width, not wrapped
    assert shown[-1] == "enrich 0:00:00: pending 8, embedded 8, enriched 8 (done)"
    # wide terminals keep the rows
    assert not ProgressView(stream=Terminal(), columns=120).plain
