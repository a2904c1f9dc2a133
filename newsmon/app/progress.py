"""Progress of long work you can see: a live display on a terminal, log lines when nobody watches.

On a terminal, a command opens one :class:`ProgressView` (a ``rich`` live display) and each stage
of the work gets a row in it: the stage, a bar when the total is known, its counters, the rate of
its main counter and the elapsed time. While the view is live, whatever is written to stderr (log
messages) is printed above the rows by rich, so nothing garbles.

A terminal narrower than ``MIN_COLUMNS`` has no room for those rows (they shrink to ``cr… 0:…``
and wrap): there the view is one plain line, the current stage's, cut to the width and redrawn
in place; a message written to stderr meanwhile gets a line of its own above it.

Without a terminal (cron, a pipe) the same calls write a plain log line per stage every
``log_interval`` seconds, so a stuck run shows in the log file, and a last line when the stage
ends.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

log = logging.getLogger(__name__)

# counters always shown first, in this order; others only once they are non-zero
LEADING = ("fetched", "stored", "failed", "not_modified", "rejected", "pending", "embedded",
           "enriched")
# snapshot attributes shown beside the counters when the reporter has them
GAUGES = (("pending_requests", "queued"), ("extracting", "extracting"))
# below this many columns the rich rows give way to one plain line
MIN_COLUMNS = 100
ERASE_LINE = "\r\x1b[K"


def _columns(stream: TextIO) -> int | None:
    """The terminal's width, or None when the stream is no real terminal."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return None
    return columns or None  # a terminal that reports no size (0) is of unknown width


class _LineKeeper:
    """Stands in for sys.stderr while the plain line is shown: what others write (log lines)
    first erases the line, and the line is drawn again below it."""

    def __init__(self, view: ProgressView, stream: TextIO) -> None:
        self.view, self.stream = view, stream

    def write(self, text: str) -> int:
        with self.view.lock:
            if self.view._line:
                self.stream.write(ERASE_LINE)
            n = self.stream.write(text)
            if text.endswith("\n") and self.view._line:
                self.stream.write(self.view._line)
            self.stream.flush()
            return n

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def clock_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class StageProgress:
    """The progress of one stage; call it (or ``update``) with the current counters.

    It takes a mapping of counters, keyword counters, or a snapshot object with a ``counts``
    mapping (crawler.stats.CrawlProgress, whose queue gauges are shown too). ``rate_key`` names
    the counter whose growth per second is shown, ``total_key`` the counter that holds the
    amount of work (a bar is drawn when it is known). Thread-safe.
    """

    def __init__(self, view: ProgressView, name: str, *, rate_key: str,
                 total_key: str | None) -> None:
        self.view = view
        self.name = name
        self.rate_key = rate_key
        self.total_key = total_key
        self._started = view.clock()
        self._last_logged = self._started
        self._counts: dict[str, int] = {}
        self._gauges: dict[str, int] = {}
        self._closed = False
        self._task: Any = None

    @property
    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def update(self, counts: Mapping[str, int] | object | None = None, /, **more: int) -> None:
        snapshot = None
        if counts is not None and not isinstance(counts, Mapping):
            snapshot, counts = counts, getattr(counts, "counts", {})
        with self.view.lock:
            if self._closed:
                return
            for attr, label in GAUGES:
                value = getattr(snapshot, attr, None)
                if isinstance(value, int):
                    self._gauges[label] = value
            for key, value in {**(counts or {}), **more}.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._counts[key] = int(value)
            self.view.show(self)

    __call__ = update

    def close(self) -> None:
        with self.view.lock:
            if self._closed:
                return
            self._closed = True
            self.view.show(self, final=True)

    def __enter__(self) -> StageProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def elapsed(self, now: float | None = None) -> float:
        return max((self.view.clock() if now is None else now) - self._started, 0.0)

    def counters_text(self, now: float | None = None) -> str:
        elapsed = self.elapsed(now)
        keys = [k for k in LEADING if k in self._counts]
        keys += [k for k, v in self._counts.items() if k not in LEADING and v]
        parts = []
        for k in keys:
            part = f"{k.replace('_', ' ')} {self._counts[k]}"
            if k == self.rate_key and elapsed > 0:
                part += f" ({self._counts[k] / elapsed:.1f}/s)"
            parts.append(part)
        parts += [f"{label} {value}" for label, value in self._gauges.items() if value]
        return ", ".join(parts)

    def line(self, now: float | None = None) -> str:
        return f"{self.name} {clock_text(self.elapsed(now))}: {self.counters_text(now)}"


class ProgressView:
    """``with ProgressView() as view: with view.stage("crawl") as p: p(counts)``.

    ``tty`` defaults to whether ``stream`` (stderr) is a terminal.
    """

    def __init__(self, *, stream: TextIO | None = None, tty: bool | None = None,
                 log_interval: float = 10.0, columns: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``columns``: the terminal's width (default: asked of ``stream``; unknown: rows)."""
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _isatty(self.stream) if tty is None else tty
        self.columns = columns if columns is not None else _columns(self.stream)
        self.plain = self.tty and self.columns is not None and self.columns < MIN_COLUMNS
        self.log_interval = log_interval
        self.clock = clock
        self.lock = threading.RLock()
        self._rich: Any = None
        self._line = ""            # the plain line as drawn
        self._saved_stderr: TextIO | None = None

    def __enter__(self) -> ProgressView:
        if self.plain:
            if self.stream is sys.stderr and self._saved_stderr is None:
                self._saved_stderr = sys.stderr
                sys.stderr = _LineKeeper(self, self.stream)
            return self
        if self.tty and self._rich is None:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

            console = Console(file=self.stream, force_terminal=True)
            self._rich = Progress(
                SpinnerColumn(finished_text="[green]✓"),
                TextColumn("[bold]{task.description:<7}"),
                BarColumn(bar_width=24),
                TextColumn("{task.fields[elapsed]}"),
                TextColumn("{task.fields[counters]}"),
                console=console, redirect_stderr=self.stream is sys.stderr,
                redirect_stdout=False, refresh_per_second=5, auto_refresh=True,
                get_time=self.clock,
            )
            self._rich.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved_stderr is not None:
            sys.stderr = self._saved_stderr
            self._saved_stderr = None
        if self._line:
            with self.lock:
                self.stream.write("\n")
                self.stream.flush()
                self._line = ""
        if self._rich is not None:
            self._rich.stop()
            self._rich = None

    def stage(self, name: str, *, rate_key: str = "fetched",
              total_key: str | None = None) -> StageProgress:
        stage = StageProgress(self, name, rate_key=rate_key, total_key=total_key)
        if self._rich is not None:
            stage._task = self._rich.add_task(name, total=None, elapsed=clock_text(0),
                                              counters="")
        return stage

    def _draw(self, stage: StageProgress, now: float, final: bool) -> None:
        assert self.columns is not None
        text = stage.line(now) + (" (done)" if final else "")
        if len(text) > self.columns - 1:
            text = text[:self.columns - 2] + "…"
        with self.lock:
            self.stream.write(ERASE_LINE + text)
            self._line = "" if final else ERASE_LINE + text
            if final:
                self.stream.write("\n")
            self.stream.flush()

    def show(self, stage: StageProgress, *, final: bool = False) -> None:
        now = self.clock()
        if self.plain:
            self._draw(stage, now, final)
            return
        if self._rich is not None and stage._task is not None:
            total = stage._counts.get(stage.total_key) if stage.total_key else None
            done = stage._counts.get(stage.rate_key, 0)
            fields = {"elapsed": clock_text(stage.elapsed(now)),
                      "counters": stage.counters_text(now)}
            if final:
                self._rich.update(stage._task, total=max(total or done, 1),
                                  completed=max(total or done, 1), **fields)
            else:
                self._rich.update(stage._task, total=total or None, completed=done, **fields)
            return
        if self._rich is None and self.tty:
            return  # a terminal view not entered: nothing to draw on
        if final:
            if stage._counts:
                log.info("%s (done)", stage.line(now))
        elif now - stage._last_logged >= self.log_interval:
            stage._last_logged = now
            log.info("%s", stage.line(now))


__all__ = ["ProgressView", "StageProgress", "clock_text"]
