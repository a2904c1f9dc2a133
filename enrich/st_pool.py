"""A second process for the sentence-transformers engine on a CPU.

torch spreads one forward pass of a few short texts over its threads poorly: on 2 cores one
process with 2 threads encodes 23 paragraphs/s, two processes with 1 thread each 2 × 15
(bench/enrich_engines.py). So on a multi-core CPU the engine runs a helper process with its
own copy of the model, and each large ``encode`` call is split between it and this process.

The helper is started by ``start()`` (enrich does so for runs with many articles) and used
only once it has loaded the model; until then, and whenever it fails, this process encodes
everything itself: the split is an optimisation, never a dependency. It exits with its
parent, even after a kill -9.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MIN_TEXTS = 32      # smaller calls (queries, a few paragraphs) are not worth the round trip


def _die_with_parent(parent: int) -> None:
    try:  # Linux: the kernel kills this process when the parent dies
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch() -> None:  # elsewhere, and in case the parent died before prctl
        while True:
            if os.getppid() != parent:
                os._exit(0)
            time.sleep(1.0)

    threading.Thread(target=watch, daemon=True).start()


def _serve(path: str, threads: int, parent: int, jobs: Any, results: Any) -> None:
    """The helper's loop: load the model, say so, then encode each job it is sent."""
    _die_with_parent(parent)
    import torch

    torch.set_num_threads(threads)
    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(path, device="cpu")
    except Exception as exc:  # reported, then the parent stops using this process
        results.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    results.send(("ready", None))
    while True:
        try:
            job = jobs.recv()
        except EOFError:
            return
        if job is None:
            return
        job_id, texts, kwargs = job
        try:
            out = np.asarray(model.encode(texts, convert_to_numpy=True, show_progress_bar=False,
                                          **kwargs), dtype=np.float32)
            results.send((job_id, out))
        except Exception as exc:
            results.send((job_id, f"{type(exc).__name__}: {exc}"))


class SplitEncoder:
    """Encodes with ``model`` here and with a copy of the model at ``path`` in a helper."""

    def __init__(self, model: Any, path: str, *, threads: int) -> None:
        self._model = model
        self._path = path
        self._threads = threads
        self._proc: Any = None
        self._jobs: Any = None
        self._results: Any = None
        self._state = "off"        # off → starting → ready | broken
        self._next_job = 0

    def _start(self) -> None:
        # a plain child process (not multiprocessing's spawn, which re-imports the caller's
        # main module) that talks over two pipes
        from multiprocessing.connection import Connection

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "newsmon.enrich.st_pool", self._path, str(self._threads),
                 str(os.getpid()), str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)
        except OSError as exc:
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
                os.close(fd)
            self._broken(f"could not start: {exc}")
            return
        finally:
            if self._proc is not None:
                os.close(to_child_r)
                os.close(from_child_w)
        self._jobs, self._results = Connection(to_child_w), Connection(from_child_r)
        self._state = "starting"
        log.info("sentence-transformers: helper process %d loading the model", self._proc.pid)

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _poll_ready(self) -> None:
        try:
            if not self._results.poll():
                if not self._alive():
                    self._broken(f"exited with {self._proc.returncode}")
                return
            kind, detail = self._results.recv()
        except (EOFError, OSError) as exc:
            self._broken(f"{type(exc).__name__}: {exc}")
            return
        if kind == "ready":
            self._state = "ready"
        else:
            self._broken(str(detail))

    def _broken(self, why: str) -> None:
        log.warning("sentence-transformers: the helper process failed (%s); encoding in one "
                    "process from now on", why)
        self._state = "broken"
        if self._proc is not None:
            self._proc.kill()
        self.close()

    def start(self, wait: float = 0.0) -> bool:
        """Start the helper (if not started) and wait up to ``wait`` seconds for it to load
        the model. True when it is ready."""
        if self._state == "off":
            self._start()
        deadline = time.monotonic() + wait
        while self._state == "starting":
            self._poll_ready()
            if self._state != "starting" or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        return self._state == "ready"

    def encode(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray | None:
        """Vectors for ``texts``, or None when the helper is not (yet) available: the caller
        then encodes them itself."""
        if len(texts) < MIN_TEXTS or self._state in ("off", "broken"):
            return None     # started by start() only: a run with little to do never pays it
        if not self.start():
            return None
        import torch

        # every other text of the length order goes to the helper: two halves of equal work
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        theirs, ours = order[0::2], order[1::2]
        self._next_job += 1
        job_id = self._next_job
        try:
            self._jobs.send((job_id, [texts[i] for i in theirs], kwargs))
        except (OSError, ValueError) as exc:
            self._broken(f"{type(exc).__name__}: {exc}")
            return None
        before = torch.get_num_threads()
        torch.set_num_threads(self._threads)
        try:
            mine = np.asarray(self._model.encode([texts[i] for i in ours], convert_to_numpy=True,
                                                 show_progress_bar=False, **kwargs),
                              dtype=np.float32)
        finally:
            torch.set_num_threads(before)
        other = self._wait(job_id)
        if other is None:   # the helper failed: its half is encoded here
            other = np.asarray(self._model.encode([texts[i] for i in theirs],
                                                  convert_to_numpy=True, show_progress_bar=False,
                                                  **kwargs), dtype=np.float32)
        out = np.empty((len(texts), mine.shape[1]), dtype=np.float32)
        out[ours] = mine
        out[theirs] = other
        return out

    def _wait(self, job_id: int) -> np.ndarray | None:
        while True:
            try:
                if not self._results.poll(1.0):
                    if not self._alive():
                        self._broken(f"exited with {self._proc.returncode}")
                        return None
                    continue
                got_id, value = self._results.recv()
            except (EOFError, OSError) as exc:
                self._broken(f"{type(exc).__name__}: {exc}")
                return None
            if got_id != job_id:
                continue    # a stale answer
            if isinstance(value, str):
                self._broken(value)
                return None
            vectors: np.ndarray = value
            return vectors

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                self._jobs.send(None)
                proc.wait(timeout=5)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait(timeout=5)
        for conn in (self._jobs, self._results):
            if conn is not None:
                conn.close()
        self._jobs = self._results = None
        if self._state != "broken":
            self._state = "off"


def main(argv: Sequence[str]) -> None:
    from multiprocessing.connection import Connection

    path, threads, parent, jobs_fd, results_fd = argv
    _serve(path, int(threads), int(parent), Connection(int(jobs_fd)), Connection(int(results_fd)))


if __name__ == "__main__":
    main(sys.argv[1:])

__all__ = ["SplitEncoder", "MIN_TEXTS"]
