"""The sentence-transformers engine's helper process (newsmon.enrich.st_pool), marked `st`:
large encode calls are split between two processes on a CPU with the same vectors as one
process; a helper that cannot start or dies only costs speed; the helper never outlives its
parent, even a parent killed with SIGKILL."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from newsmon.enrich.embed import SentenceTransformerEmbedder, bundled_folder
from newsmon.enrich.model_export import export_model
from newsmon.enrich.st_pool import MIN_TEXTS, SplitEncoder

pytestmark = [pytest.mark.st, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [f"passage {i}: the Japan-UK {w} partnership, agreed in Tokyo, covers {w} in detail."
         * (1 + i % 5) for i, w in enumerate(["cyber", "minerals", "GCAP", "energy"] * 20)]


@pytest.fixture(scope="module")
def folder(st_model_cache: Path) -> str:
    return str(export_model(bundled_folder(st_model_cache)))


def _gone(pid: int, within: float) -> bool:
    """The process exited (a zombie waiting to be reaped counts as exited)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:   # our own child, reaped here
                return True
        except ChildProcessError:
            pass
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.2)
    return False


def test_two_processes_give_the_vectors_of_one(folder: str) -> None:
    one = SentenceTransformerEmbedder(folder, processes=1)
    two = SentenceTransformerEmbedder(folder, processes=2)
    try:
        assert one.start_helper() is False and one.processes == 1
        assert two.processes == 2
        assert two.start_helper(wait=180) is True
        helper = two._split._proc.pid
        assert len(TEXTS) >= MIN_TEXTS
        a, b = one.embed_documents(TEXTS), two.embed_documents(TEXTS)
        assert a.shape == b.shape == (len(TEXTS), one.dim)
        assert float(np.min(np.sum(a * b, axis=1))) > 0.99999
        # small calls stay in this process and agree too
        assert float(np.min(np.sum(one.embed_documents(TEXTS[:3]) *
                                   two.embed_documents(TEXTS[:3]), axis=1))) > 0.99999
    finally:
        two.close()
    assert _gone(helper, 10)


def test_a_helper_that_cannot_load_costs_only_speed(folder: str, tmp_path: Path) -> None:
    emb = SentenceTransformerEmbedder(folder, processes=2)
    # the helper is pointed at a folder with no model: it reports the failure and exits
    emb._split = SplitEncoder(emb._model, str(tmp_path / "no-model"), threads=1)
    assert emb.start_helper(wait=180) is False
    assert emb._split._state == "broken"
    vectors = emb.embed_documents(TEXTS)
    ref = SentenceTransformerEmbedder(folder, processes=1).embed_documents(TEXTS)
    assert float(np.min(np.sum(vectors * ref, axis=1))) > 0.99999


def test_a_helper_killed_mid_run_costs_only_speed(folder: str) -> None:
    emb = SentenceTransformerEmbedder(folder, processes=2)
    try:
        assert emb.start_helper(wait=180) is True
        os.kill(emb._split._proc.pid, signal.SIGKILL)
        vectors = emb.embed_documents(TEXTS)      # its half is encoded here instead
        assert vectors.shape == (len(TEXTS), emb.dim)
        assert emb._split._state == "broken"
        ref = SentenceTransformerEmbedder(folder, processes=1).embed_documents(TEXTS)
        assert float(np.min(np.sum(vectors * ref, axis=1))) > 0.99999
    finally:
        emb.close()


def test_the_helper_dies_with_a_killed_parent(folder: str, tmp_path: Path) -> None:
    script = (
        "import json, sys, time\n"
        "from newsmon.enrich.embed import SentenceTransformerEmbedder\n"
        f"e = SentenceTransformerEmbedder({folder!r}, processes=2)\n"
        "assert e.start_helper(wait=180)\n"
        "print(json.dumps({'helper': e._split._proc.pid}), flush=True)\n"
        "time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              text=True, cwd=ROOT)
    try:
        line = parent.stdout.readline()
        assert line, "the parent did not start its helper"
        helper = json.loads(line)["helper"]
        os.kill(helper, 0)                          # alive while the parent is
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        assert _gone(helper, 15), f"helper {helper} outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
