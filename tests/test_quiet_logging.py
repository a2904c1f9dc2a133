"""Quiet by default on a terminal: warnings and the result on the console, the INFO lines in the
log file (the data folder's newsmon.log); `-v` shows them on the console too. Migrations are
logged in one line. Real processes on a real pseudo-terminal."""
from __future__ import annotations

import fcntl
import logging
import os
import pty
import select
import struct
import subprocess
import sys
import termios
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsmon.index.core.article import Article, Stage
from newsmon.index.store import Store
from newsmon.index.store.migrations import MIGRATIONS
from tests.helpers.served import clean_env

REPO = Path(__file__).resolve().parents[1]


def on_terminal(*args: str, columns: int = 120) -> str:
    """Run `python -m newsmon ARGS` with stdout and stderr on a pseudo-terminal; its output."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "newsmon", *args], stdin=subprocess.DEVNULL,
                            stdout=follower, stderr=follower, env=clean_env(), cwd=REPO)
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode("utf-8", errors="replace")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    with Store(tmp_path / "data" / "newsmon.db") as store:
        store.articles.upsert([Article(
            url=f"https://news.example/{i}", canonical_url=f"https://news.example/{i}",
            source="uk", lang="en", title=f"Zeppelin airship {i}", text="A zeppelin flew.",
            published=datetime(2025, 3, 12, tzinfo=UTC), stage=Stage.ENRICHED)
            for i in range(3)])
    return tmp_path / "data"


def test_a_terminal_gets_the_result_and_warnings_the_log_file_the_info(data_dir: Path) -> None:
    out = on_terminal("--data-dir", str(data_dir), "index")
    assert "index sqlite: 3 upserted" in out  # the result
    assert " INFO " not in out, out
    log = (data_dir / "newsmon.log").read_text(encoding="utf-8")
    assert " INFO newsmon.app.pipeline: index (run 1): ok" in log
    # -v: the INFO lines on the terminal as well
    out = on_terminal("--data-dir", str(data_dir), "-v", "index")
    assert " INFO newsmon.app.pipeline: index (run 2): ok" in out and "index sqlite:" in out


def test_without_a_terminal_stderr_keeps_the_configured_level(data_dir: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "newsmon", "--data-dir", str(data_dir),
                             "index"], capture_output=True, text=True, env=clean_env(),
                            cwd=REPO, timeout=120)
    assert result.returncode == 0 and " INFO newsmon.app.pipeline: index" in result.stderr
    assert not (data_dir / "newsmon.log").exists()  # no file unless one is configured


def test_migrations_are_logged_in_one_line(tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="newsmon.index.store.migrations")
    with Store(tmp_path / "newsmon.db"):
        pass
    lines = [r.getMessage() for r in caplog.records if "migrat" in r.getMessage()]
    assert lines == [f"store {tmp_path / 'newsmon.db'}: migrated schema 0 → {len(MIGRATIONS)}"]
    caplog.clear()
    with Store(tmp_path / "newsmon.db"):
        pass
    assert not [r for r in caplog.records if "migrat" in r.getMessage()]
