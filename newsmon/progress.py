"""Progress of long work you can see: one updating status line on a terminal, a log line every
few seconds when nobody is watching (cron, a pipe), so a stuck run shows in the log."""
from __future__ import annotations

import logging
import shutil
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import TextIO

log = logging.getLogger("newsmon.progress")

# counters always shown, in this order; others only once they are non-zero. The clock and the
# rate come first, so a narrow terminal (the line is cut to its width) still shows what matters.
LEADING = ("fetched", "stored", "failed", "not_modified", "rejected")
# snapshot attributes shown beside the counters when the reporter has them
GAUGES = (("pending_requests", "queued"), ("extracting", "extracting"))


class Progress:
    """Call it (or ``update``) with the current counters; ``close()`` when the work is done.

    It takes a mapping of counters, keyword counters, or a snapshot object with a ``counts``
    mapping (crawler.stats.CrawlProgress, whose queue gauges are shown too). ``rate_key`` names
    the counter whose growth per second is shown. Thread-safe.
    """

    def __init__(
        self,
        label: str,
        *,
        stream: TextIO | None = None,
        tty: bool | None = None,
        log_interval: float = 10.0,
        redraw_interval: float = 0.2,
        rate_key: str = "fetched",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _isatty(self.stream) if tty is None else tty
        self.log_interval = log_interval
        self.redraw_interval = redraw_interval
        self.rate_key = rate_key
        self._clock = clock
        self._started = clock()
        # a terminal shows the line at once; a log gets its first line after one interval
        self._last_shown = float("-inf") if self.tty else self._started
        self._counts: dict[str, int] = {}
        self._gauges: dict[str, int] = {}
        self._width = 0
        # reentrant: a log line written while we draw comes back through erase()/redraw()
        self._lock = threading.RLock()
        self._closed = False

    @property
    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def update(self, counts: Mapping[str, int] | object | None = None, /, **more: int) -> None:
        snapshot = None
        if counts is not None and not isinstance(counts, Mapping):
            snapshot, counts = counts, getattr(counts, "counts", {})
        with self._lock:
            if self._closed:
                return
            for attr, label in GAUGES:
                value = getattr(snapshot, attr, None)
                if isinstance(value, int):
                    self._gauges[label] = value
            for key, value in {**(counts or {}), **more}.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._counts[key] = int(value)
            now = self._clock()
            interval = self.redraw_interval if self.tty else self.log_interval
            if now - self._last_shown >= interval:
                self._show(now)

    __call__ = update

    def close(self) -> None:
        """Show the final counters once (and end the terminal line)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._counts:
                self._show(self._clock(), final=True)
            if self.tty and self._width:
                self.stream.write("\n")
                self.stream.flush()

    def __enter__(self) -> "Progress":
        _active.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        if self in _active:
            _active.remove(self)

    def line(self, now: float | None = None) -> str:
        now = self._clock() if now is None else now
        elapsed = max(now - self._started, 0.0)
        keys = [k for k in LEADING if k in self._counts]
        keys += [k for k, v in self._counts.items() if k not in LEADING and v]
        parts = []
        for k in keys:
            part = f"{k.replace('_', ' ')} {self._counts[k]}"
            if k == self.rate_key and elapsed > 0:
                part += f" ({self._counts[k] / elapsed:.1f}/s)"
            parts.append(part)
        parts += [f"{label} {value}" for label, value in self._gauges.items() if value]
        return f"{self.label} {_clock_text(elapsed)}: " + ", ".join(parts)

    def erase(self) -> None:
        """Blank the terminal line so a log message can be written over it (see ``Suspend``)."""
        with self._lock:
            if self.tty and self._width:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()
                self._width = 0

    def redraw(self) -> None:
        with self._lock:
            if self.tty and not self._closed and self._counts:
                self._show(self._clock())

    def _show(self, now: float, final: bool = False) -> None:
        self._last_shown = now
        text = self.line(now)
        if self.tty:
            # one line only: a wrapped line cannot be redrawn with a carriage return
            text = text[:max(shutil.get_terminal_size().columns - 1, 20)]
            # pad over the rest of a longer previous line instead of relying on terminal codes
            pad = max(self._width - len(text), 0)
            self.stream.write("\r" + text + " " * pad)
            self.stream.flush()
            self._width = len(text)
        else:
            log.info("%s%s", text, " (done)" if final else "")


# progress lines on screen now (entered with `with`): log output has to step around them
_active: list[Progress] = []


def erase_active(stream: TextIO) -> list[Progress]:
    """Blank the progress lines drawn on `stream`; returns them, for ``redraw`` afterwards."""
    shown = [p for p in list(_active) if p.tty and p.stream is stream]
    for p in shown:
        p.erase()
    return shown


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _clock_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


__all__ = ["Progress"]
