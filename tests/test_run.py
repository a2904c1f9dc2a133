"""`newsmon run` end to end on the bundled demo sites (real local server, real Scrapy, real
SQLite, the real model, the embedded search index): stages under one lock with a step each, quiet
success under cron, kill -9 at several moments of each stage completed by the next run,
overlapping runs.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from newsmon.demo.server import DEMO_SITE, DemoServer
from newsmon.index.core.defaults import default_file
from newsmon.index.store import Store

REPO = Path(__file__).resolve().parents[1]
DEMO_SOURCES = default_file("demo") / "sources.yaml"
N_DEMO_ARTICLES = 11

pytestmark = pytest.mark.slow


def write_config(tmp: Path) -> Path:
    data = tmp / "data"
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "newsmon.toml"
    config.write_text(
        f'[data]\ndir = "{data}"\nbusy_timeout = 5\n\n'
        f'[crawl]\nsources = "{DEMO_SOURCES}"\ndownload_delay = 0.0\nautothrottle = false\n'
        f'retries = 0\ntimeout = 10\nbatch_size = 2\nconcurrency = 2\nper_host_concurrency = 1\n'
        f'\n[enrich]\nbatch_size = 2\n', encoding="utf-8")
    return config


def child_env(server: DemoServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NEWSMON_") and not k.lower().endswith("_proxy")}
    env.update(PYTHONUNBUFFERED="1", http_proxy=server.url, no_proxy="localhost,127.0.0.1")
    return env


def newsmon_argv(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "newsmon", "--config", str(config), *args]


def newsmon(config: Path, server: DemoServer, *args: str,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(newsmon_argv(config, *args), capture_output=True, text=True,
                          env=child_env(server), cwd=REPO, timeout=timeout)


def snapshot(db: Path) -> dict[str, object]:
    """What a run leaves that matters: articles, their URLs, vectors, stories (not run logs)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        arts = {}
        for aid, url, stage, data in con.execute(
                "SELECT id, canonical_url, stage, data FROM articles ORDER BY id"):
            d = json.loads(data)
            arts[aid] = (url, stage, d["title"], d["text"], d.get("lang"), d.get("story"),
                         d.get("enrich_version"),
                         {t: (v.get("label"), round(v.get("score", 0), 3))
                          for t, v in (d.get("topics") or {}).items()})
        return {
            "articles": arts,
            "urls": sorted(con.execute("SELECT url, article_id, state FROM urls")),
            "embeddings": sorted(con.execute(
                "SELECT article_id, model, text_hash, n_chunks FROM embeddings")),
            "stories": sorted(con.execute("SELECT article_id, story, how FROM story_members")),
            "index": sorted(con.execute(
                """SELECT article_id, url, title, body, lang, source, published, story, topics,
                          model, length(vector) FROM search_docs""")),
            "index_fts": con.execute("SELECT COUNT(*) FROM search_fts").fetchone()[0],
            # each rule's watermark and the alerts decided: a killed run neither loses nor
            # repeats one
            "rule_cursors": sorted(con.execute(
                "SELECT name, seq FROM cursors WHERE name LIKE 'rule:%'")),
            "alerts": sorted(con.execute(
                "SELECT key, rule, kind, story, article_id FROM alerts")),
            "index_caught_up": con.execute(
                """SELECT (SELECT seq FROM cursors WHERE name = 'backend:sqlite')
                          = (SELECT MAX(seq) FROM changes)""").fetchone()[0],
        }
    finally:
        con.close()


def query(db: Path, sql: str) -> list[tuple]:
    """A read while another process writes: retried while the file is being created."""
    for _ in range(50):
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
            try:
                return con.execute(sql).fetchall()
            finally:
                con.close()
        except sqlite3.OperationalError:
            time.sleep(0.02)
    raise AssertionError(f"cannot read {db}")


class EndedBefore(AssertionError):
    """The run finished before the awaited moment was seen."""


def wait_for(proc: subprocess.Popen[str], db: Path, condition: Callable[[Path], bool],
             what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EndedBefore(f"run ended (exit {proc.returncode}) before: {what}")
        if db.exists() and condition(db):
            return
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for: {what}")


def kill_at(start: Callable[[Path], subprocess.Popen[str]], tmp: Path,
            condition: Callable[[Path], bool], what: str) -> Path:
    """Start a run in a fresh folder (``start(folder)``, its store in ``folder/data``) and kill -9
    it once ``condition`` holds; returns that folder. Some moments last only a tenth of a second
    on an idle machine (the index stage, the demo's 11 articles assigned to stories): a run that
    ends before its moment was seen is tried again in another fresh folder, up to three times."""
    for attempt in range(3):
        folder = tmp / f"try{attempt}"
        proc = start(folder)
        try:
            wait_for(proc, folder / "data" / "newsmon.db", condition, what)
            return folder
        except EndedBefore:
            if attempt == 2:
                raise
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    raise AssertionError("unreachable")


def step_running(stage: str) -> Callable[[Path], bool]:
    return lambda db: bool(query(db, "SELECT 1 FROM sqlite_master WHERE name='run_steps'")) \
        and bool(query(db, f"SELECT 1 FROM run_steps WHERE stage='{stage}' "
                           f"AND status='running'"))


def count(sql: str) -> Callable[[Path], int]:
    return lambda db: query(db, sql)[0][0]


ARTICLES = count("SELECT COUNT(*) FROM articles")
EMBEDDED = count("SELECT COUNT(*) FROM embeddings")
ENRICHED = count("SELECT COUNT(*) FROM articles WHERE stage='enriched'")

# kill -9 moments: (name, condition on the store seen from outside)
MOMENTS: dict[str, Callable[[Path], bool]] = {
    "crawl-start": step_running("crawl"),
    "crawl-mid": lambda db: step_running("crawl")(db) and 3 <= ARTICLES(db) < N_DEMO_ARTICLES,
    "enrich-start": step_running("enrich"),
    "enrich-embedding": lambda db: step_running("enrich")(db) and 2 <= EMBEDDED(db)
    < N_DEMO_ARTICLES,
    "enrich-assigning": lambda db: step_running("enrich")(db) and 1 <= ENRICHED(db)
    < N_DEMO_ARTICLES,
    "index-start": step_running("index"),
    "alert-start": step_running("alert"),
}


@pytest.fixture(scope="module")
def server() -> Iterator[DemoServer]:
    with DemoServer(DEMO_SITE) as srv:
        yield srv


@pytest.fixture(scope="module")
def clean(server: DemoServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A clean first run, and a second one with nothing new."""
    tmp = tmp_path_factory.mktemp("clean")
    config = write_config(tmp)
    first = newsmon(config, server, "run", "--json")
    assert first.returncode == 0, first.stderr[-3000:]
    log_file = tmp / "cron.log"
    second = newsmon(config, server, "--log-file", str(log_file), "run")
    return {"dir": tmp, "config": config, "first": json.loads(first.stdout), "second": second,
            "log": log_file, "snapshot": snapshot(tmp / "data" / "newsmon.db")}


def test_run_chains_the_stages_under_one_lock_with_a_step_each(clean: dict) -> None:
    out = clean["first"]
    assert out["command"] == "run" and out["status"] == "ok" and out["exit_code"] == 0
    assert [s["stage"] for s in out["steps"]] == ["crawl", "enrich", "index", "alert"]
    crawl, enrich, index, alert = out["steps"]
    # the first run of each rule records its baseline and sends nothing
    assert alert["stats"]["decided"] == 0 and alert["stats"]["failed"] == 0
    assert all(r.get("baseline") for r in alert["stats"]["rules"].values())
    assert crawl["stats"]["stored"] == N_DEMO_ARTICLES
    assert enrich["stats"]["enriched"] == N_DEMO_ARTICLES
    assert index["stats"]["backend"] == "sqlite"
    assert index["stats"]["documents"] == N_DEMO_ARTICLES
    assert len(clean["snapshot"]["articles"]) == N_DEMO_ARTICLES
    assert len(clean["snapshot"]["index"]) == N_DEMO_ARTICLES
    assert clean["snapshot"]["index_caught_up"] == 1
    with Store(clean["dir"] / "data" / "newsmon.db") as store:
        first, = [r for r in store.runs.recent(5) if r.id == out["run_id"]]
    assert first.status == "ok" and first.pid and first.host
    assert [(s.stage, s.status, s.exit_code) for s in first.steps] == [
        ("crawl", "ok", 0), ("enrich", "ok", 0), ("index", "ok", 0),
        ("alert", "ok", 0)]
    assert all(s.duration_s is not None and s.duration_s >= 0 for s in first.steps)
    assert first.steps[0].counts["stored"] == N_DEMO_ARTICLES


def test_a_quiet_cron_run_prints_nothing_and_logs_to_the_file(clean: dict) -> None:
    second = clean["second"]
    assert second.returncode == 0, second.stderr[-3000:]
    # nothing needs a human: nothing on stdout, nothing on stderr (cron mails neither)
    assert second.stdout == "" and second.stderr == ""
    log = clean["log"].read_text(encoding="utf-8")
    assert "crawl (run 2): ok" in log and "enrich (run 2): ok" in log
    assert "index (run 2): ok" in log and "alert (run 2): ok" in log
    # nothing new: no article fetched, and enrich never loaded the model
    assert "nothing pending" in log and "model not loaded" in log
    assert "embedding model" not in log


def test_status_shows_recent_runs_with_stage_durations_and_queues(clean: dict,
                                                                  server: DemoServer) -> None:
    result = newsmon(clean["config"], server, "status", "--json")
    assert result.returncode == 0, result.stderr
    st = json.loads(result.stdout)
    assert [r["id"] for r in st["runs"]][:2] == [2, 1]
    assert [s["stage"] for s in st["runs"][0]["steps"]] == ["crawl", "enrich", "index", "alert"]
    assert st["runs"][0]["steps"][0]["counts"]["not_modified"] == 5
    assert st["queued"] == {"crawl": 0, "enrich": 0, "index": 0}
    text = newsmon(clean["config"], server, "status").stdout
    assert "recent runs:" in text and "#2 run ok" in text
    assert "queued: crawl 0, enrich 0, index 0" in text


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_kill_9_at_any_moment_then_rerun_ends_as_a_clean_run(
        moment: str, clean: dict, server: DemoServer, tmp_path: Path) -> None:
    def start(folder: Path) -> subprocess.Popen[str]:
        config = write_config(folder)
        return subprocess.Popen(newsmon_argv(config, "run"), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, text=True, env=child_env(server),
                                cwd=REPO)

    folder = kill_at(start, tmp_path, MOMENTS[moment], moment)
    config, db = folder / "newsmon.toml", folder / "data" / "newsmon.db"
    killed = query(db, "SELECT id, status FROM runs ORDER BY id")
    assert killed == [(1, "running")]

    rerun = newsmon(config, server, "run", "--json")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    out = json.loads(rerun.stdout)
    assert out["interrupted_runs"] == [1]
    # the same articles, URLs, vectors, stories and search index as the clean run: none lost or
    # doubled
    assert snapshot(db) == clean["snapshot"]
    assert query(db, "SELECT id, status FROM runs ORDER BY id") == [(1, "interrupted"),
                                                                    (2, "ok")]
    assert all(status != "running" for (status,) in query(db, "SELECT status FROM run_steps"))


def test_an_overlapping_run_exits_3_at_once_and_changes_nothing(server: DemoServer,
                                                                tmp_path: Path) -> None:
    config = write_config(tmp_path)
    data = tmp_path / "data"
    db = data / "newsmon.db"
    first = subprocess.Popen(newsmon_argv(config, "run"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=child_env(server), cwd=REPO)
    try:
        wait_for(first, db, step_running("crawl"), "the first run holds the lock")
        first.send_signal(signal.SIGSTOP)  # frozen while holding the lock: the files hold still
        before = {p.name: p.read_bytes() for p in sorted(data.iterdir()) if p.is_file()}
        second = newsmon(config, server, "run")
        after = {p.name: p.read_bytes() for p in sorted(data.iterdir()) if p.is_file()}
    finally:
        first.send_signal(signal.SIGCONT)
    assert second.returncode == 3, second.stderr
    assert "another newsmon run holds the lock" in second.stderr
    assert f"pid {first.pid}" in second.stderr and second.stdout == ""
    assert after == before  # not a byte changed: no run row, no lock holder rewritten
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-3000:]
    assert query(db, "SELECT id, command, status FROM runs") == [(1, "run", "ok")]
