"""The extraction pool's processes end with the crawl that made them, also after a kill -9.

Its workers are forked by multiprocessing's forkserver, not by the crawl, and each holds its own
task queue open, so without a watch they would wait for work forever: three idle processes
left behind by every killed run (found after the kill tests of a full CI run)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

CHILD = """
import sys, time
from newsmon.crawler.pipelines import _warm, make_pool
from multiprocessing import forkserver
pool = make_pool(2)
pids = {pool.submit(_warm).result(timeout=60) for _ in range(8)}
pids.add(forkserver._forkserver._forkserver_pid)
print(" ".join(map(str, sorted(pids))), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_pool_ends_when_the_crawl_is_killed() -> None:
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()   # type: ignore[union-attr]
        pids = [int(p) for p in line.split()]
        assert len(pids) >= 2 and all(_alive(p) for p in pids), line
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    left = [p for p in pids if _alive(p)]
    for p in left:   # do not leave them to the next test either
        os.kill(p, signal.SIGKILL)
    assert not left, f"processes of the killed crawl's pool still running: {left}"
