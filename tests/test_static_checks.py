"""ruff and mypy over the whole project, as `.ci/typecheck` runs them (mypy strict over the
whole package; the rules are in pyproject.toml). Part of the suite so
that `.ci/test`, the one test command, fails on a lint or type error like on any other defect."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_ruff_and_mypy_are_clean() -> None:
    proc = subprocess.run(["bash", str(REPO / ".ci" / "typecheck")], cwd=REPO,
                          env={**os.environ, "PYTHON_BIN": sys.executable},
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
