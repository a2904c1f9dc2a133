"""Damage is noticed and backups restore: `status --check` (and `run`, once a day) runs SQLite's
quick check and exits 5 naming the damaged table; `newsmon backup` copies the store through
SQLite's online backup and `backup --restore` brings back the same `newsmon export` (real
SQLite files with a garbled page in the middle, the real CLI in a subprocess)."""
from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from newsmon.app.maintenance import check_if_due
from newsmon.app.searchtext import search_text
from newsmon.index.core.article import Article, Stage, Status
from newsmon.index.store import Store
from tests.helpers.served import clean_env

REPO = Path(__file__).resolve().parents[1]
WORDS = ("harbour ferry timetable cyber minerals partnership treaty defence export council "
         "budget energy grid satellite research port agreement minister summit").split()


def articles(n: int, *, seed: int = 1, prefix: str = "a") -> list[Article]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        text = " ".join(rnd.choice(WORDS) for _ in range(300))
        out.append(Article(
            url=f"https://news.example/{prefix}/{i}", canonical_url=f"https://news.example/{prefix}/{i}",
            source="news", lang="en", title=f"Story {prefix}{i} " + " ".join(rnd.sample(WORDS, 4)),
            text=text, published=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i),
            status=Status.OK, stage=Stage.EXTRACTED,
            fetched_at=datetime(2026, 1, 2, tzinfo=UTC)))
    return out


def build_store(data: Path, n: int = 300) -> Path:
    db = data / "newsmon.db"
    with Store(db) as store:
        arts = articles(n)
        store.articles.upsert(arts)
        store.search_text.save(search_text(a) for a in arts)
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return db


def leaf_pages(db: Path, table: str) -> list[int]:
    """The pages one level under ``table``'s root (its b-tree read from the file's bytes)."""
    con = sqlite3.connect(db)
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    size = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    raw = db.read_bytes()
    page = raw[(root - 1) * size: root * size]
    assert page[0] == 0x05, "the table must span more than one page (an interior root)"
    cells = int.from_bytes(page[3:5], "big")
    children = [int.from_bytes(page[off:off + 4], "big") for off in (
        int.from_bytes(page[12 + 2 * i: 14 + 2 * i], "big") for i in range(cells))]
    return children + [int.from_bytes(page[8:12], "big")]


def garble(db: Path, page_no: int) -> None:
    size = sqlite3.connect(db).execute("PRAGMA page_size").fetchone()[0]
    with open(db, "r+b") as fh:
        fh.seek((page_no - 1) * size)
        fh.write(random.Random(7).randbytes(size))


def newsmon(data: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsmon", "--data-dir", str(data), *args],
                          capture_output=True, text=True, env=clean_env(**env), cwd=REPO,
                          timeout=300)


def test_a_garbled_middle_page_fails_status_check_with_exit_5_naming_the_table(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = build_store(data)
    pages = leaf_pages(db, "search_text")
    middle = pages[len(pages) // 2]
    assert middle > 10 and middle < db.stat().st_size // 4096 - 5  # in the middle of the file
    garble(db, middle)

    # plain status does not read that page: it passes, as it did before the check existed
    assert newsmon(data, "status").returncode == 0
    checked = newsmon(data, "status", "--check")
    assert checked.returncode == 5, checked.stderr
    [line] = [ln for ln in checked.stderr.splitlines() if ln.startswith("newsmon:")]
    assert "damaged in table(s) search_text" in line and "backup --restore" in line
    # cron's run checks once a day too: before any stage, the same exit and line
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - id: news\n    lang: en\n"
                       "    feeds: [http://news.invalid/feed.xml]\n")
    ran = newsmon(data, "run", NEWSMON_CRAWL__SOURCES=str(sources))
    assert ran.returncode == 5, ran.stderr
    assert "damaged in table(s) search_text" in ran.stderr


def test_a_healthy_store_passes_and_run_checks_once_a_day(tmp_path: Path) -> None:
    data = tmp_path / "data"
    build_store(data, n=20)
    checked = newsmon(data, "status", "--check")
    assert checked.returncode == 0, checked.stderr
    assert "store check: ok" in checked.stderr
    with Store(data / "newsmon.db") as store:
        assert store.maintenance.get("quick_check_at")
        assert check_if_due(store) is False        # checked a moment ago
        store.maintenance.set("quick_check_at", "2020-01-01T00:00:00+00:00")
        assert check_if_due(store) is True         # a day or more ago


def export(data: Path) -> str:
    result = newsmon(data, "export")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_backup_restores_to_the_same_export(tmp_path: Path) -> None:
    data = tmp_path / "data"
    build_store(data, n=40)
    before = export(data)
    backups = tmp_path / "backups"
    backups.mkdir()
    made = newsmon(data, "backup", str(backups))
    assert made.returncode == 0, made.stderr
    [backup] = list(backups.glob("newsmon-*.db"))
    assert f"to {backup}" in made.stdout
    assert not [p for p in backups.iterdir() if p.name.endswith(".tmp")]
    assert sqlite3.connect(backup).execute("PRAGMA quick_check").fetchone()[0] == "ok"

    # the store moves on: an article deleted, others added
    with Store(data / "newsmon.db") as store:
        gone = next(iter(store.articles.ids()))
        store.articles.delete([gone])
        store.articles.upsert(articles(5, seed=2, prefix="b"))
        store.cursors.set("backend:elasticsearch", store.changes.head())
    assert export(data) != before

    # a file that is not a backup changes nothing
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    refused = newsmon(data, "backup", "--restore", str(junk))
    assert refused.returncode != 0 and "junk.db" in refused.stderr
    assert export(data) != before

    restored = newsmon(data, "backup", "--restore", str(backup))
    assert restored.returncode == 0, restored.stderr
    assert "restored" in restored.stdout and "elasticsearch" in restored.stdout
    assert export(data) == before
    with Store(data / "newsmon.db") as store:
        # the remote index rebuilds from the restored store on its next run
        assert "backend:elasticsearch" not in store.cursors.all()
        assert store.check().ok


def test_a_backup_over_the_store_itself_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    build_store(data, n=3)
    result = newsmon(data, "backup", str(data / "newsmon.db"))
    assert result.returncode != 0 and "is the store itself" in result.stderr
    assert json.loads(newsmon(data, "status", "--json").stdout)["articles"] == 3
