"""The run lock: one crawl/run at a time per data directory, so overlapping cron runs exit cleanly.

An advisory ``flock`` on ``<data dir>/newsmon.lock``, taken without blocking. The kernel drops it
when the holder exits, however it exits, so a lock left by a kill -9 never needs cleaning up; the
file's content (pid, command, start time) is only there to tell the user who holds it.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newsmon.index.core.errors import NewsmonError
from newsmon.index.store import pid_alive


class LockHeld(NewsmonError):
    """Another process holds the run lock (exit code 3)."""

    reason = "locked"
    path: Path | None   # None: held by workers (WorkersCrawl), not by a lock file

    def __init__(self, path: Path, holder: dict[str, Any]) -> None:
        who = ", ".join(f"{k} {holder[k]}" for k in ("pid", "command", "started_at", "host")
                        if holder.get(k) is not None) or "holder unknown"
        super().__init__(f"another newsmon run holds the lock {path} ({who})")
        self.path = path
        self.holder = holder


def read_holder(path: str | Path) -> dict[str, Any]:
    """What the lock file says about its holder ({} when empty or unreadable)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text) if text.strip() else {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def running_holder(path: str | Path) -> dict[str, Any] | None:
    """The holder of the lock if it looks alive, without touching the lock itself.

    Taking the lock, even shared and for a moment, could make a starting cron run exit 3; so this
    reads the file, which is emptied on release, and checks that the pid still runs on this host.
    """
    holder = read_holder(path)
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return None
    if holder.get("host") not in (None, socket.gethostname()):
        return holder  # another machine sharing the data folder: cannot check, believe the file
    # a pid that is gone left the file behind when it died without releasing (kill -9)
    return holder if pid_alive(pid) else None


class RunLock:
    """``with RunLock(settings.data.lock_path, "crawl"):`` — raises LockHeld when taken."""

    def __init__(self, path: str | Path, command: str) -> None:
        self.path = Path(path)
        self.command = command
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> RunLock:
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # no O_TRUNC: opening must not wipe the holder's details before we own the lock
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockHeld(self.path, read_holder(self.path)) from None
        except BaseException:
            os.close(fd)
            raise
        info = {
            "pid": os.getpid(),
            "command": self.command,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": socket.gethostname(),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode("utf-8"), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class WorkersCrawl(LockHeld):
    """Workers are live on the store, so a crawl here would fetch their hosts too (exit 3).

    ``newsmon worker`` crawls shard by shard under the queue's job locks; a crawl outside the
    queue takes none of them, so it could fetch a host while a worker's crawl job does, and
    per-host politeness would break. The queue does not say which queues a worker serves, so
    every live worker counts."""

    def __init__(self, workers: int, stalled_after: float) -> None:
        NewsmonError.__init__(
            self, f"{workers} newsmon worker(s) are live on this store (a heartbeat in the "
                  f"last {stalled_after:g} s; `newsmon status` lists the queues): they crawl it, "
                  "and a crawl here would fetch their hosts at the same time. Leave the crawl to "
                  "the workers (`newsmon enrich`, `index` and `alert` are safe beside them), or "
                  "stop them first")
        self.path = None
        self.holder = {"workers": workers}


__all__ = ["RunLock", "LockHeld", "WorkersCrawl", "read_holder", "running_holder"]
