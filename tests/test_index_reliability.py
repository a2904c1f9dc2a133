"""Reliability of `newsmon index` on both backends, with real processes:
- kill -9 during a full build and during an incremental run, then rerun: the index equals a
  clean build (same ids, same count) and nothing is duplicated;
- Elasticsearch cut off mid-index (a real TCP forwarder in front of the real node is closed):
  exit 1 with a one-line reason, the cursor unchanged; reachable again, the next run completes.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from newsmon.index.core.article import Article
from newsmon.index.store import Store
from tests.helpers.tcpproxy import TcpProxy

REPO = Path(__file__).resolve().parents[1]
DEVSET = REPO.parent / "shared" / "devset"
N_ARTICLES = 2500

pytestmark = pytest.mark.shared("devset/articles.jsonl", "devset/queries.jsonl")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSMON_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _articles(n: int, tag: str = "") -> list[Article]:
    recs = [json.loads(x) for x in (DEVSET / "articles.jsonl").read_text("utf-8").splitlines()
            if x.strip()]
    out = []
    for k in range(n):
        r = recs[k % len(recs)]
        url = f"http://{r['source']}.example/reliability/{k:05d}/"
        out.append(Article(url=url, canonical_url=url, source=r["source"], lang=r["lang"],
                           title=f"{tag}{r['title']} {k}", text=r["text"]))
    return out


@pytest.fixture(scope="module")
def seed_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("reliability") / "newsmon.db"
    with Store(path) as store:
        store.articles.upsert(_articles(N_ARTICLES))
    return path


def _config(folder: Path, es_url: str = "http://127.0.0.1:9", alias: str = "x") -> Path:
    cfg = folder / "newsmon.toml"
    cfg.write_text(f'[data]\ndir = "{folder}"\n[index]\nes_url = "{es_url}"\n'
                   f'es_index = "{alias}"\n', encoding="utf-8")
    return cfg


def _index(cfg: Path, backend: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "newsmon", "--config", str(cfg), "index", "--backend", backend,
         *extra], env=_env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_until(cond, proc: subprocess.Popen, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"newsmon index ended ({proc.returncode}) before the kill point:\n{err}")
        if cond():
            return
        time.sleep(0.05)
    proc.kill()
    pytest.fail("kill point never reached")


def _q(path: Path, sql: str, *args) -> list:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    _, err = proc.communicate(timeout=600)
    return proc.returncode, err


def _sqlite_index_state(path: Path) -> tuple[list[str], int, int, list[tuple[str, str]]]:
    ids = [r[0] for r in _q(path, "SELECT article_id FROM search_docs ORDER BY article_id")]
    fts = _q(path, "SELECT COUNT(*) FROM search_fts")[0][0]
    docs = _q(path, "SELECT COUNT(*) FROM search_docs")[0][0]
    titles = _q(path, "SELECT article_id, title FROM search_docs ORDER BY article_id")
    return ids, fts, docs, titles


def test_sqlite_kill_9_during_index_then_rerun_equals_a_clean_build(seed_store, tmp_path) -> None:
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    for d in (clean, killed):
        d.mkdir()
        shutil.copy(seed_store, d / "newsmon.db")
    assert _finish(_index(_config(clean), "sqlite"))[0] == 0

    db = killed / "newsmon.db"
    proc = _index(_config(killed), "sqlite")
    # a full build: kill once some batches are committed, well before the end
    _wait_until(lambda: 0 < _q(db, "SELECT COUNT(*) FROM search_docs")[0][0] < N_ARTICLES, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _q(db, "SELECT seq FROM cursors WHERE name='backend:sqlite'") == []
    assert _finish(_index(_config(killed), "sqlite"))[0] == 0
    assert _sqlite_index_state(db) == _sqlite_index_state(clean / "newsmon.db")

    # an incremental run: every article changes, kill once the cursor has moved part way
    for d in (clean, killed):
        with Store(d / "newsmon.db") as store:
            store.articles.upsert(_articles(N_ARTICLES, tag="Updated: "))
    assert _finish(_index(_config(clean), "sqlite"))[0] == 0
    start = _q(db, "SELECT seq FROM cursors WHERE name='backend:sqlite'")[0][0]
    head = _q(db, "SELECT MAX(seq) FROM changes")[0][0]
    proc = _index(_config(killed), "sqlite")
    _wait_until(lambda: start < _q(db, "SELECT seq FROM cursors WHERE name='backend:sqlite'")
                [0][0] < head, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _finish(_index(_config(killed), "sqlite"))[0] == 0
    state = _sqlite_index_state(db)
    assert state == _sqlite_index_state(clean / "newsmon.db")
    ids, fts, docs, titles = state
    assert docs == fts == len(set(ids)) == N_ARTICLES
    assert all(t.startswith("Updated: ") for _, t in titles)


def _es_ids(es_url: str, alias: str) -> list[str]:
    from elasticsearch import Elasticsearch
    from elasticsearch.helpers import scan

    with Elasticsearch(es_url, request_timeout=60) as es:
        es.indices.refresh(index=alias)
        return sorted(h["_id"] for h in scan(es, index=alias, query={"query": {"match_all": {}}},
                                             _source=False))


def _es_count(es_url: str, pattern: str) -> int:
    from elasticsearch import Elasticsearch

    with Elasticsearch(es_url, request_timeout=30) as es:
        if not es.indices.exists(index=pattern, allow_no_indices=False, expand_wildcards="all"):
            return 0
        es.indices.refresh(index=pattern, expand_wildcards="all")
        return int(es.count(index=pattern, expand_wildcards="all")["count"])


@pytest.fixture
def alias(es_url):
    name = f"newsmon-rel-{uuid.uuid4().hex[:10]}"
    yield name
    from elasticsearch import Elasticsearch

    with Elasticsearch(es_url) as es:
        es.indices.delete(index=f"{name}-v*", ignore_unavailable=True, allow_no_indices=True,
                          expand_wildcards="all")


@pytest.mark.es
def test_es_kill_9_during_index_then_rerun_equals_the_store(seed_store, tmp_path, es_url,
                                                            alias) -> None:
    shutil.copy(seed_store, tmp_path / "newsmon.db")
    cfg = _config(tmp_path, es_url, alias)
    proc = _index(cfg, "elasticsearch")
    _wait_until(lambda: 0 < _es_count(es_url, f"{alias}-v*") < N_ARTICLES, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rc, err = _finish(_index(cfg, "elasticsearch"))
    assert rc == 0, err
    with Store(tmp_path / "newsmon.db") as store:
        want = sorted(store.articles.ids())
        assert store.cursors.get("backend:elasticsearch") == store.changes.head()
    got = _es_ids(es_url, alias)
    assert got == want and len(got) == len(set(got)) == N_ARTICLES


@pytest.mark.es
def test_es_cut_off_mid_index_exits_1_keeps_the_cursor_and_catches_up(seed_store, tmp_path,
                                                                       es_url, alias) -> None:
    from urllib.parse import urlsplit

    target = urlsplit(es_url)
    proxy = TcpProxy(target.hostname, target.port).start()
    shutil.copy(seed_store, tmp_path / "newsmon.db")
    cfg = _config(tmp_path, proxy.url, alias)
    try:
        proc = _index(cfg, "elasticsearch")
        _wait_until(lambda: 0 < _es_count(es_url, f"{alias}-v*") < N_ARTICLES, proc)
        proxy.stop()
        rc, err = _finish(proc)
        assert rc == 1
        lines = [ln for ln in err.strip().splitlines() if not ln.startswith("20")]  # log lines
        assert len(lines) == 1 and "unreachable" in lines[0] and "Traceback" not in err, err
        with Store(tmp_path / "newsmon.db") as store:
            assert store.cursors.get("backend:elasticsearch") == 0
            assert store.runs.last("index").status == "failed"
        proxy = TcpProxy(target.hostname, target.port, port=proxy.port).start()
        rc, err = _finish(_index(cfg, "elasticsearch"))
        assert rc == 0, err
    finally:
        proxy.stop()
    with Store(tmp_path / "newsmon.db") as store:
        want = sorted(store.articles.ids())
        assert store.cursors.get("backend:elasticsearch") == store.changes.head()
    assert _es_ids(es_url, alias) == want
