"""A busy, corrupt or read-only store and a full disk, made for real (busy and read-only on the
PostgreSQL store too): one line and its own exit
code (newsmon.app.outcome), never a traceback, nothing changed.

The read-only folder and the full disk are made in a private mount namespace (``unshare``): a
read-only bind mount of the data folder, a 1 MiB tmpfs filled up. Nothing outside the test's own
process tree sees them, and they vanish with it.
"""
from __future__ import annotations

import os
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from newsmon.app.outcome import (
    EXIT_DISK_FULL,
    EXIT_READ_ONLY,
    EXIT_STORE_BUSY,
    EXIT_STORE_CORRUPT,
)
from newsmon.index.store import Store

REPO = Path(__file__).resolve().parents[1]


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("NEWSMON_")}
    out.update(PYTHONUNBUFFERED="1", **extra)
    return out


def newsmon_cmd(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "newsmon", "--data-dir", str(data), *args]


def make_store(data: Path) -> None:
    with Store(data / "newsmon.db") as store:
        store.runs.start("crawl")


def assert_one_line(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("newsmon: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def unshare() -> list[str]:
    """A private mount namespace (as root, or as a mapped root in a user namespace)."""
    argv = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        argv.insert(1, "--map-root-user")
    try:
        probe = subprocess.run([*argv, "true"], capture_output=True, timeout=30)
    except FileNotFoundError:
        pytest.skip("unshare (util-linux) not installed")
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace here: {probe.stderr.decode().strip()}")
    return argv


def in_namespace(script: str, *args: str, after: str = "") -> subprocess.CompletedProcess[str]:
    """In a private mount namespace: a shell script, newsmon ``args``, then ``after``; exits
    with newsmon's status."""
    full = f"set -e\n{script}\nset +e\n{shlex.join(args)}\nrc=$?\n{after}\nexit $rc"
    return subprocess.run([*unshare(), "sh", "-c", full], capture_output=True, text=True,
                          env=env(), cwd=REPO, timeout=300)


def test_a_corrupt_store_exits_5_and_is_left_as_it_was(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = data / "newsmon.db"
    junk = b"this was a newsmon store once, then something overwrote it\n" * 100
    db.write_bytes(junk)
    for command in (["enrich"], ["status"], ["run"]):
        result = subprocess.run(newsmon_cmd(data, *command), capture_output=True, text=True,
                                env=env(NEWSMON_CRAWL__SOURCES=str(REPO / "config/demo/sources.yaml")),
                                cwd=REPO, timeout=120)
        assert_one_line(result, EXIT_STORE_CORRUPT, "corrupt", str(db))
    assert db.read_bytes() == junk


def test_a_store_locked_by_another_connection_exits_4_after_the_busy_timeout(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_store(data)
    holder = sqlite3.connect(data / "newsmon.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("INSERT INTO runs (command, started_at) VALUES ('other', 'now')")
        result = subprocess.run(newsmon_cmd(data, "enrich"), capture_output=True, text=True,
                                env=env(NEWSMON_DATA__BUSY_TIMEOUT="1"), cwd=REPO, timeout=120)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_one_line(result, EXIT_STORE_BUSY, "locked by another program", "try again later")
    with Store(data / "newsmon.db") as store:
        assert [r["command"] for r in store.connection.execute("SELECT command FROM runs")] \
            == ["crawl"]


@pytest.mark.parametrize("what", ["folder", "store file"])
def test_a_read_only_data_folder_or_store_exits_7(tmp_path: Path, what: str) -> None:
    data = tmp_path / "data"
    make_store(data)
    (data / "newsmon.lock").touch()
    target = data if what == "folder" else data / "newsmon.db"
    before = (data / "newsmon.db").read_bytes()
    result = in_namespace(
        f"mount --bind {shlex.quote(str(target))} {shlex.quote(str(target))}\n"
        f"mount -o remount,bind,ro {shlex.quote(str(target))}",
        *newsmon_cmd(data, "enrich"))
    assert_one_line(result, EXIT_READ_ONLY, "read-only")
    assert (data / "newsmon.db").read_bytes() == before


def test_a_full_disk_exits_6_and_loses_nothing(tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    make_store(seed)
    data = tmp_path / "data"
    data.mkdir()
    q = lambda p: shlex.quote(str(p))  # noqa: E731
    # a 1 MiB tmpfs: the store copied in, the lock file made, a 36 KiB reserve kept while the
    # rest is filled, then freed: room for SQLite's shared-memory file, none for its log
    result = in_namespace(
        f"mount -t tmpfs -o size=1m tmpfs {q(data)}\n"
        f"cp {q(seed / 'newsmon.db')} {q(data)}/\n"
        f"printf '%0200d' 0 > {q(data / 'newsmon.lock')}\n"
        f"dd if=/dev/zero of={q(data / 'reserve')} bs=4096 count=9 2>/dev/null\n"
        f"dd if=/dev/zero of={q(data / 'filler')} bs=4096 2>/dev/null || true\n"
        f"rm {q(data / 'reserve')}",
        *newsmon_cmd(data, "enrich"),
        after=f"mkdir {q(tmp_path / 'after')} && cp {q(data)}/newsmon.db* {q(tmp_path / 'after')}/")
    assert_one_line(result, EXIT_DISK_FULL, "disk", "full")
    # the store the failed run leaves is intact and holds what it held: nothing is lost
    with Store(tmp_path / "after" / "newsmon.db") as store:
        db = store.connection
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert [r[0] for r in db.execute("SELECT command FROM runs ORDER BY id")][0] == "crawl"


def test_a_disk_that_fills_up_mid_crawl_exits_6_and_the_next_run_stores_everything(
        tmp_path: Path) -> None:
    """The crawl fetches the demo sites into a store on a tmpfs with little room left: the
    first batch that does not fit stops the crawl (exit 6, one line). Copied to a disk with
    room, the store is intact and the next crawl stores every article: what did not fit is
    fetched again, nothing is lost or stored twice."""
    from newsmon.demo.server import DEMO_SITE, DemoServer
    from newsmon.index.core.defaults import default_file

    seed = tmp_path / "seed"
    make_store(seed)
    data = tmp_path / "data"
    data.mkdir()
    config = tmp_path / "newsmon.toml"
    config.write_text(
        f'[crawl]\nsources = "{default_file("demo") / "sources.yaml"}"\ndownload_delay = 0.0\n'
        f'autothrottle = false\nretries = 0\ntimeout = 10\nbatch_size = 2\n', encoding="utf-8")
    q = lambda p: shlex.quote(str(p))  # noqa: E731
    with DemoServer(DEMO_SITE) as server:
        # a 1 MiB tmpfs filled but for a 96 KiB reserve: room for the run record and a little
        # more, not for eleven articles
        script = (
            f"mount -t tmpfs -o size=1m tmpfs {q(data)}\n"
            f"cp {q(seed / 'newsmon.db')} {q(data)}/\n"
            f"printf '%0200d' 0 > {q(data / 'newsmon.lock')}\n"
            f"dd if=/dev/zero of={q(data / 'reserve')} bs=4096 count=24 2>/dev/null\n"
            f"dd if=/dev/zero of={q(data / 'filler')} bs=4096 2>/dev/null || true\n"
            f"rm {q(data / 'reserve')}")
        args = [sys.executable, "-m", "newsmon", "--config", str(config), "--data-dir",
                str(data), "crawl"]
        after = f"mkdir {q(tmp_path / 'after')} && cp {q(data)}/newsmon.db* {q(tmp_path / 'after')}/"
        full = f"set -e\n{script}\nset +e\n{shlex.join(args)}\nrc=$?\n{after}\nexit $rc"
        result = subprocess.run(
            [*unshare(), "sh", "-c", full], capture_output=True, text=True, cwd=REPO,
            env=env(http_proxy=server.url, no_proxy="localhost,127.0.0.1"), timeout=300)
        # the crawl's log lines go to stderr too (no terminal); the failure is the last line
        assert result.returncode == EXIT_DISK_FULL, (result.returncode, result.stderr[-2000:])
        assert "Traceback" not in result.stderr, result.stderr
        last = [ln for ln in result.stderr.splitlines() if ln.strip()][-1]
        assert last.startswith("newsmon: ") and "disk" in last and "full" in last, last
        assert "stopping the crawl" in result.stderr
        after_dir = tmp_path / "after"
        with Store(after_dir / "newsmon.db") as store:
            db = store.connection
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            stored_before = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        assert stored_before < 11
        rerun = subprocess.run(
            [sys.executable, "-m", "newsmon", "--config", str(config), "--data-dir",
             str(after_dir), "crawl"], capture_output=True, text=True, cwd=REPO,
            env=env(http_proxy=server.url, no_proxy="localhost,127.0.0.1"), timeout=300)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
    with Store(after_dir / "newsmon.db") as store:
        db = store.connection
        assert db.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 11
        assert db.execute("SELECT COUNT(DISTINCT canonical_url) FROM articles").fetchone()[0] == 11


@pytest.mark.pg
def test_a_postgresql_store_locked_by_another_connection_exits_4_after_the_lock_timeout(
        tmp_path: Path, pg_dsn: str) -> None:
    """The same on the PostgreSQL store: a write waiting past [data].busy_timeout for another
    connection's lock (lock_timeout) is "busy", exit 4, one line, nothing changed."""
    import psycopg

    from newsmon.index.store.postgres import PgStore

    with PgStore(pg_dsn) as store:
        store.runs.start("crawl")
    pg_env = env(NEWSMON_DATA__STORE="postgresql", NEWSMON_DATA__DSN_ENV="TEST_PG_DSN",
                 NEWSMON_INDEX__BACKEND="elasticsearch", NEWSMON_DATA__BUSY_TIMEOUT="1",
                 TEST_PG_DSN=pg_dsn)
    with psycopg.connect(pg_dsn) as holder:
        holder.execute("LOCK TABLE runs IN EXCLUSIVE MODE")
        result = subprocess.run(newsmon_cmd(tmp_path / "data", "enrich"), capture_output=True,
                                text=True, env=pg_env, cwd=REPO, timeout=120)
        holder.rollback()
    assert_one_line(result, EXIT_STORE_BUSY, "locked by another program", "try again later")
    with PgStore(pg_dsn) as store:
        assert [r["command"] for r in store.connection.execute("SELECT command FROM runs")] \
            == ["crawl"]


@pytest.mark.pg
def test_a_postgresql_store_that_takes_no_writes_exits_7(tmp_path: Path, pg_dsn: str) -> None:
    """A server that takes no writes (a hot standby, or default_transaction_read_only as here):
    "read-only", exit 7, one line, nothing changed."""
    import psycopg

    from newsmon.index.store.postgres import PgStore

    with PgStore(pg_dsn) as store:
        store.runs.start("crawl")
    database = pg_dsn.rsplit("/", 1)[1]
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
    result = subprocess.run(
        newsmon_cmd(tmp_path / "data", "enrich"), capture_output=True, text=True, cwd=REPO,
        env=env(NEWSMON_DATA__STORE="postgresql", NEWSMON_DATA__DSN_ENV="TEST_PG_DSN",
                NEWSMON_INDEX__BACKEND="elasticsearch", TEST_PG_DSN=pg_dsn), timeout=120)
    assert_one_line(result, EXIT_READ_ONLY, "takes no writes")
    with psycopg.connect(pg_dsn) as db:
        assert [r[0] for r in db.execute("SELECT command FROM runs")] == ["crawl"]
