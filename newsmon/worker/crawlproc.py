"""A crawl job's Scrapy in a child process: Twisted's reactor runs once per process, and a
worker runs many crawl jobs.

The child dies with its worker: a worker killed with -9 must not leave a crawl running, since
its job is retried elsewhere and two crawls of one shard would break per-host politeness. The
child leads a process group of its own, which holds everything it starts (Scrapy's extraction
pool, its forkserver and resource tracker: left alone, they outlived a killed crawl); when the
worker dies the whole group is killed. On Linux the kernel signals the child when the worker's
thread that started it ends (PR_SET_PDEATHSIG, SIGUSR1, which Scrapy leaves alone); a watchdog
thread polling the parent's pid covers other systems.
"""
from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from newsmon.app.settings import Settings

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class CrawlProcessError(RuntimeError):
    """The crawl's child process ended without a result (killed, crashed)."""


def crawl_in_child(settings: Settings, source_ids: list[str]) -> dict[str, Any]:
    """Crawl ``source_ids`` in a child process (its batches defer their enrich jobs); returns the
    crawl step's outcome as a dict, raises CrawlProcessError or the child's StageFailed."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(settings, source_ids, send, os.getpid()),
                        name="newsmon-crawl")  # not daemonic: Scrapy extracts in a process pool
    child.start()
    send.close()
    log.info("crawl process %s (process group %s): %d source(s)", child.pid, child.pid,
             len(source_ids))
    try:
        result: dict[str, Any] | None = None
        while child.is_alive() or receive.poll():
            if receive.poll(0.5):
                try:
                    result = receive.recv()
                except EOFError:
                    break
        child.join()
    finally:
        if child.is_alive():  # the worker is shutting down (an exception in this thread)
            child.terminate()
            child.join(10)
    if result is None:
        raise CrawlProcessError(f"crawl process {child.pid} ended with exit code "
                                f"{child.exitcode} and no result")
    if result.get("failed"):
        from newsmon.worker.stage import StageFailed

        raise StageFailed(result["failed"])
    return result


def _kill_group(*_: object) -> None:
    os.killpg(0, signal.SIGKILL)  # this process and all it started


def _die_with_parent(parent: int) -> None:
    os.setpgid(0, 0)
    signal.signal(signal.SIGUSR1, _kill_group)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGUSR1, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
            pass
    if os.getppid() != parent:  # the parent died before the line above
        _kill_group()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                _kill_group()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _child(settings: Settings, source_ids: list[str], send: Connection, parent: int) -> None:
    _die_with_parent(parent)
    logging.basicConfig(level=settings.log.level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from newsmon.app.pipeline import crawl_sources, open_store
    from newsmon.worker.jobs import defer_enrich
    from newsmon.worker.stage import StageFailed, run_recorded

    sources = crawl_sources(settings, source_ids)
    with open_store(settings) as store:
        try:
            step = run_recorded(settings, store, "crawl", sources=sources, on_batch=defer_enrich)
        except StageFailed as exc:
            send.send({"failed": str(exc)})
            return
    send.send({"status": step.status, "elapsed_s": step.elapsed_s, "stats": step.stats})


__all__ = ["crawl_in_child", "CrawlProcessError"]
