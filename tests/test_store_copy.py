"""`newsmon store copy --to postgresql`: a real SQLite store moved into a real PostgreSQL database,
interrupted and resumed, compared row by row."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from newsmon.index.core.article import Article
from newsmon.index.core.errors import StoreError
from newsmon.index.store import Store
from newsmon.index.store.copy import TABLES, copy_to_postgresql
from newsmon.index.store.postgres import PgStore
from newsmon.index.store.repos.alerts import NewAlert
from newsmon.index.store.repos.vectors import EmbeddingRow, StoryMember

pytestmark = pytest.mark.pg
REPO = Path(__file__).resolve().parents[1]


def _art(n: int) -> Article:
    url = f"https://news.example/a/{n}"
    return Article(url=url, canonical_url=url, source="uk-paper", title=f"Title {n}",
                   text=f"Body {n}", lang="en")


def _fill(store: Store, n: int) -> None:
    arts = [_art(i) for i in range(n)]
    store.articles.upsert(arts)
    store.articles.upsert(arts[:3])  # updates: more changes than articles
    store.articles.delete([arts[-1].id])  # a tombstone
    store.vectors.save_embeddings([EmbeddingRow(
        a.id, "m", np.ones(4, np.float32), np.ones((2, 4), np.float32), True, "en", None, "h",
        "k", b"sig") for a in arts[:5]])
    store.vectors.save_members([StoryMember(a.id, "s1", "en", None, "new") for a in arts[:5]])
    run = store.runs.start("crawl")
    store.runs.start_step(run, "crawl")
    store.runs.log_fetch("https://news.example/feed", "failed", run_id=run, reason="timeout")
    store.runs.finish(run, "ok", {"stored": n})
    store.cursors.set("backend:elasticsearch", store.changes.head() - 2)
    store.alerts.record([NewAlert(key="rule:r:story:s1", rule="r", kind="match", story="s1",
                                  article_id=arts[0].id, score=0.9, payload={"x": 1})])


def _dump(store: Store | PgStore, table: str) -> list[tuple]:
    """A table's rows, sorted (the engines return them in different orders), without the
    PostgreSQL-only rowid column."""
    rows = store.connection.execute(f"SELECT * FROM {table}").fetchall()
    keep = [k for k in (rows[0].keys() if rows else []) if k != "rowid"]
    return sorted(tuple(r[k] for k in keep) for r in rows)


def test_copy_moves_every_row_and_resumes_after_an_interruption(tmp_path: Path,
                                                                pg_dsn: str) -> None:
    with Store(tmp_path / "newsmon.db") as src, PgStore(pg_dsn) as dst:
        _fill(src, 23)
        # an interruption after two batches (committed) of the articles
        calls = {"n": 0}

        def stop(table: str, n: int) -> None:
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            copy_to_postgresql(src, dst, batch=10, progress=stop)
        assert dst.articles.count() == 20
        report = copy_to_postgresql(src, dst, batch=10)
        assert report.resumed and report.copied["articles"] == 2
        for table in TABLES:
            assert _dump(dst, table) == _dump(src, table), table
        # a third call has nothing left to copy
        assert copy_to_postgresql(src, dst).total == 0
        # the feed and the ids continue after the copied ones
        head = src.changes.head()
        assert dst.changes.head() == head
        assert dst.cursors.get("backend:elasticsearch") == head - 2
        dst.articles.upsert([_art(100)])
        assert dst.changes.head() == head + 1
        assert dst.runs.start("crawl") == src.runs.start("crawl")


def test_a_postgresql_store_with_articles_of_its_own_is_refused(tmp_path: Path,
                                                                pg_dsn: str) -> None:
    with Store(tmp_path / "newsmon.db") as src, PgStore(pg_dsn) as dst:
        _fill(src, 8)
        dst.articles.upsert([_art(50)])
        with pytest.raises(StoreError, match="already holds 1 articles of its own"):
            copy_to_postgresql(src, dst)


def test_the_command_copies_and_says_what(tmp_path: Path, pg_dsn: str) -> None:
    data = tmp_path / "data"
    with Store(data / "newsmon.db") as src:
        _fill(src, 8)
    config = tmp_path / "newsmon.toml"
    config.write_text(f'[data]\ndir = "{data}"\ndsn_env = "TEST_COPY_DSN"\n', encoding="utf-8")
    argv = [sys.executable, "-m", "newsmon", "--config", str(config), "store", "copy",
            "--to", "postgresql"]
    missing = subprocess.run(argv, capture_output=True, text=True, cwd=REPO,
                             env={"PATH": "/usr/bin:/bin"}, timeout=120)
    assert missing.returncode == 2 and "TEST_COPY_DSN" in missing.stderr
    done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "TEST_COPY_DSN": pg_dsn})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("copied ") and "articles 7" in done.stdout
    with PgStore(pg_dsn) as dst:
        assert dst.articles.count() == 7
