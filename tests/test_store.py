"""The store of record split by concern: change feed, cursors, transactions, migrations."""
from __future__ import annotations

import os
import socket
import sqlite3
import time
from datetime import UTC, datetime

import numpy as np
import pytest

from newsmon.index.core.article import Article
from newsmon.index.core.codec import matrix_from_bytes, vector_from_bytes, vector_to_bytes
from newsmon.index.core.errors import StoreError
from newsmon.index.core.times import utc_iso
from newsmon.index.store import RUN_INTERRUPTED, RUN_OK, Store, pid_alive
from newsmon.index.store.migrations import MIGRATIONS
from newsmon.index.store.repos import CHUNK
from newsmon.index.store.repos.vectors import EmbeddingRow, StoryMember
from tests.helpers.pgdb import open_test_store


def _art(n: int, **kw) -> Article:
    url = f"https://news.example/a/{n}"
    return Article(url=url, canonical_url=url, source="uk-paper", title=f"Title {n}",
                   text=f"Body {n}", lang="en", **kw)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def store(request, tmp_path):
    """The store contract: each test that takes ``store`` runs on both engines."""
    with open_test_store(request.param, tmp_path) as s:
        yield s


def test_every_write_of_an_article_gets_a_sequence_number(store: Store) -> None:
    assert store.changes.head() == 0
    a, b = _art(1), _art(2)
    store.articles.upsert([a, b])
    store.articles.upsert([a])  # an update
    store.articles.delete([b.id])
    changes = store.changes.since(0)
    assert [(c.article_id, c.op) for c in changes] == [
        (a.id, "upsert"), (b.id, "upsert"), (a.id, "upsert"), (b.id, "delete")]
    assert [c.seq for c in changes] == sorted({c.seq for c in changes})
    assert store.changes.head() == changes[-1].seq
    assert store.changes.since(changes[1].seq, limit=1) == [changes[2]]


def test_vectors_and_story_membership_count_as_changes(store: Store) -> None:
    a = _art(1)
    store.articles.upsert([a])
    head = store.changes.head()
    store.vectors.save_embeddings([EmbeddingRow(
        a.id, "m", np.ones(4, np.float32), np.ones((2, 4), np.float32), True, "en", None, "h",
        "k", b"sig")])
    store.vectors.save_members([StoryMember(a.id, "s1", "en", None, "new")])
    assert [c.op for c in store.changes.since(head)] == ["upsert", "upsert"]


def test_cursors_move_inside_the_callers_transaction(store: Store) -> None:
    assert store.cursors.get("backend:sqlite") == 0
    store.cursors.set("backend:sqlite", 5)
    assert store.cursors.get("backend:sqlite") == 5
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.articles.upsert([_art(1)])
            store.cursors.set("backend:sqlite", 9)
            raise RuntimeError("crash before commit")
    # neither the article, its change nor the cursor survived
    assert store.cursors.get("backend:sqlite") == 5
    assert store.articles.count() == 0 and store.changes.head() == 0
    assert store.cursors.all() == {"backend:sqlite": 5}


def test_nested_transaction_failure_rolls_back_only_the_inner_part(store: Store) -> None:
    with store.transaction():
        store.articles.upsert([_art(1)])
        with pytest.raises(ValueError):
            with store.transaction():
                store.articles.upsert([_art(2)])
                raise ValueError
    assert [a.title for a in store.articles.iter()] == ["Title 1"]


def test_compact_keeps_the_newest_change_of_each_article(store: Store) -> None:
    a, b = _art(1), _art(2)
    store.articles.upsert([a, b])
    store.articles.upsert([a])
    store.articles.delete([b.id])
    head = store.changes.head()
    assert store.changes.compact(head) == 2
    assert {(c.article_id, c.op) for c in store.changes.since(0)} == {
        (a.id, "upsert"), (b.id, "delete")}


def test_migrations_run_whole_scripts_in_one_transaction(tmp_path, monkeypatch) -> None:
    path = tmp_path / "m.db"
    Store(path).close()
    # a broken migration (a trigger body, then an error) leaves the store where it was
    broken = """
        CREATE TABLE extra (x INTEGER);
        CREATE TRIGGER extra_t AFTER INSERT ON extra BEGIN SELECT 1; SELECT 2; END;
        INSERT INTO no_such_table VALUES (1);
    """
    monkeypatch.setattr("newsmon.index.store.migrations.MIGRATIONS", [*MIGRATIONS, broken])
    with pytest.raises(StoreError, match=f"migration {len(MIGRATIONS) + 1} failed"):
        Store(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'extra%'").fetchall() == []
    db.close()
    # a trigger with several statements in its body migrates fine
    good = broken.replace("INSERT INTO no_such_table VALUES (1);", "")
    monkeypatch.setattr("newsmon.index.store.migrations.MIGRATIONS", [*MIGRATIONS, good])
    with Store(path) as s:
        assert s.schema_version == len(MIGRATIONS) + 1


def test_existing_articles_enter_the_feed_when_it_is_created(tmp_path, monkeypatch) -> None:
    path = tmp_path / "old.db"
    monkeypatch.setattr("newsmon.index.store.migrations.MIGRATIONS", MIGRATIONS[:2])
    with Store(path) as old:
        old.articles.upsert([_art(1), _art(2)])
    monkeypatch.setattr("newsmon.index.store.migrations.MIGRATIONS", MIGRATIONS)
    with Store(path) as new:
        assert len(new.changes.since(0)) == 2


def test_newer_store_is_refused(tmp_path) -> None:
    path = tmp_path / "new.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 5}")
    db.close()
    with pytest.raises(StoreError, match="upgrade newsmon"):
        Store(path)


def test_one_vector_codec() -> None:
    v = np.arange(4, dtype=np.float32)
    assert vector_to_bytes(v) == np.asarray(v, "<f4").tobytes()
    np.testing.assert_array_equal(vector_from_bytes(vector_to_bytes(v), 4), v)
    with pytest.raises(ValueError):
        vector_from_bytes(vector_to_bytes(v), 3)
    m = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(matrix_from_bytes(vector_to_bytes(m), 2, 3), m)


def test_typed_rows(store: Store) -> None:
    run = store.runs.start("crawl")
    store.runs.log_fetch("https://x.example/", "failed", run_id=run, reason="timeout")
    store.runs.finish(run, "partial", {"failed": 1})
    last = store.runs.last("crawl")
    assert (last.id, last.status, last.stats) == (run, "partial", {"failed": 1})
    [entry] = store.runs.fetch_log(run_id=run)
    assert (entry.url, entry.reason) == ("https://x.example/", "timeout")
    store.frontier.save_feed_state("https://x.example/feed", source="s", status=200, etag="e1",
                                   kind="rss")
    state = store.frontier.feed_state("https://x.example/feed")
    assert (state.etag, state.kind) == ("e1", "rss")


def test_every_run_records_its_pid_and_host_and_its_steps(store: Store) -> None:
    run = store.runs.start("crawl")
    store.runs.start_step(run, "crawl")
    store.runs.finish_step(run, "crawl", status=RUN_OK, duration_s=1.23456, exit_code=0,
                           counts={"stored": 2})
    store.runs.finish(run, RUN_OK, {"stored": 2})
    record = store.runs.get(run)
    assert record is not None
    assert (record.pid, record.host) == (os.getpid(), socket.gethostname())
    [step] = record.steps
    assert (step.stage, step.status, step.duration_s, step.exit_code, step.counts) == (
        "crawl", RUN_OK, 1.235, 0, {"stored": 2})
    assert [r.id for r in store.runs.recent(5)] == [run]


def test_runs_of_processes_that_are_gone_are_marked_interrupted(store: Store) -> None:
    dead = store.runs.start("run")
    store.runs.start_step(dead, "crawl")
    finished = store.runs.start("crawl")
    store.runs.finish(finished, RUN_OK, {})
    # this process is alive, so the row must look like another process's
    store.connection.execute("UPDATE runs SET pid = pid + 1 WHERE id = ?", (dead,))
    assert store.runs.mark_interrupted(alive=lambda pid: True) == []
    assert store.runs.mark_interrupted(alive=lambda pid: False) == [dead]
    record = store.runs.get(dead)
    assert record is not None and record.status == RUN_INTERRUPTED
    assert [s.status for s in record.steps] == [RUN_INTERRUPTED]
    assert store.runs.get(finished).status == RUN_OK
    assert pid_alive(os.getpid())


def test_a_store_of_schema_5_upgrades_its_runs(tmp_path, monkeypatch) -> None:
    path = tmp_path / "old.db"
    monkeypatch.setattr("newsmon.index.store.migrations.MIGRATIONS", MIGRATIONS[:5])
    with Store(path) as old:
        old.connection.execute(
            "INSERT INTO runs (command, started_at, status) VALUES ('crawl', 'then', 'ok')")
    monkeypatch.setattr("newsmon.index.store.migrations.MIGRATIONS", MIGRATIONS)
    with Store(path) as s:
        assert s.schema_version == len(MIGRATIONS)
        [old_run] = s.runs.recent(5)
        assert (old_run.command, old_run.pid, old_run.host, old_run.steps) == (
            "crawl", None, None, ())


def test_listing_runs_say_per_source_and_run_whether_a_listing_answered(store: Store) -> None:
    first = store.runs.start("crawl")
    store.runs.log_fetch("https://a.example/rss", "failed", run_id=first, source="a",
                         kind="feed", reason="http_503")
    store.runs.log_fetch("https://a.example/map", "discovered", run_id=first, source="a",
                         kind="sitemap")
    second = store.runs.start("crawl")
    store.runs.log_fetch("https://a.example/rss", "failed", run_id=second, source="a",
                         kind="feed", reason="timeout")
    store.runs.log_fetch("https://a.example/story", "failed", run_id=second, source="a",
                         kind="article", reason="http_404")
    runs = store.runs.listing_runs(("feed", "sitemap"), ("discovered", "not_modified"))
    assert [(r.source, r.run_id, r.answered, r.reasons) for r in runs] == [
        ("a", second, False, "timeout"), ("a", first, True, "http_503,discovered")]


def test_what_source_health_reads_of_urls_and_articles(store: Store) -> None:
    assert store.frontier.stored_sources() == set() and store.frontier.last_stored("s") is None
    store.frontier.mark_stored([("https://x.example/1", "id1", "s", "2026-01-01T00:00:00Z",
                                 "2026-01-01T00:00:00Z"),
                                ("https://x.example/2", "id2", "s", "2026-01-03T00:00:00Z",
                                 "2026-01-03T00:00:00Z")])
    assert store.frontier.stored_sources() == {"s"}
    assert store.frontier.last_stored("s") == "2026-01-03T00:00:00Z"
    days = [datetime(2026, 1, n, tzinfo=UTC) for n in (1, 2, 3)]
    store.articles.upsert([_art(n, published=day) for n, day in enumerate(days)])
    assert store.articles.recent_published("uk-paper", 2) == [utc_iso(days[2]),
                                                              utc_iso(days[1])]
    assert store.articles.count_by("source") == {"uk-paper": 3}
    with pytest.raises(ValueError):
        store.articles.count_by("title")
    assert store.vectors.model_dim("no-such-model") is None


def test_lookups_by_id_span_more_ids_than_one_statement_binds(store: Store) -> None:
    arts = [_art(n) for n in range(CHUNK + 20)]
    store.articles.upsert(arts)
    store.vectors.save_members([StoryMember(a.id, f"s{n % 3}", "en", None, "new")
                                for n, a in enumerate(arts)])
    asked = [a.id for a in reversed(arts)] + ["0" * 24]  # the order asked, one id unknown
    assert [a.id for a in store.articles.get_many(asked)] == asked[:-1]
    assert store.articles.sources(asked) == {"uk-paper"}
    stories = store.vectors.stories(asked)
    assert len(stories) == len(arts) and stories[arts[-1].id] == f"s{(len(arts) - 1) % 3}"


@pytest.mark.pg
def test_postgresql_migrates_once_and_refuses_a_newer_schema(pg_dsn: str) -> None:
    from newsmon.index.store.pg_migrations import PG_MIGRATIONS
    from newsmon.index.store.postgres import PgStore

    with PgStore(pg_dsn) as first:
        first.articles.upsert([_art(1)])
        assert first.schema_version == len(PG_MIGRATIONS)
    with PgStore(pg_dsn) as again:  # a second open migrates nothing and keeps the data
        assert again.articles.count() == 1 and again.changes.head() == 1
        again.connection.execute("UPDATE schema_version SET version = ?",
                                 (len(PG_MIGRATIONS) + 5,))
    with pytest.raises(StoreError, match="upgrade newsmon"):
        PgStore(pg_dsn)


@pytest.mark.pg
def test_postgresql_errors_are_store_errors_and_roll_back(pg_dsn: str) -> None:
    from newsmon.index.store.postgres import PgStore

    with PgStore(pg_dsn) as store:
        with pytest.raises(StoreError, match="no_such_table"):
            with store.transaction():
                store.articles.upsert([_art(1)])
                store.connection.execute("SELECT * FROM no_such_table")
        assert store.articles.count() == 0 and store.changes.head() == 0


@pytest.mark.pg
def test_postgresql_stores_opened_at_once_migrate_the_database_once(pg_dsn: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from newsmon.index.store.pg_migrations import PG_MIGRATIONS
    from newsmon.index.store.postgres import PgStore

    def open_and_write(n: int) -> int:
        with PgStore(pg_dsn) as s:  # each its own connection, racing to migrate
            s.articles.upsert([_art(n)])
            return s.schema_version

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(open_and_write, range(4))) == [len(PG_MIGRATIONS)] * 4
    with PgStore(pg_dsn) as s:
        assert s.articles.count() == 4 and s.changes.head() == 4
        assert s.connection.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 1


def test_placeholders_become_psycopgs_outside_strings_names_and_comments() -> None:
    from newsmon.index.store.postgres import translate

    assert translate("SELECT a FROM t WHERE b = ? AND c LIKE 'x?%' -- why? 100%\n AND d = ?") \
        == "SELECT a FROM t WHERE b = %s AND c LIKE 'x?%%' -- why? 100%%\n AND d = %s"
    assert translate('SELECT "odd?name", 5 % 2 FROM t WHERE x = ?') \
        == 'SELECT "odd?name", 5 %% 2 FROM t WHERE x = %s'


def test_what_the_engines_spell_differently_reads_the_same(store: Store) -> None:
    day1, day2 = datetime(2026, 1, 1, 9, tzinfo=UTC), datetime(2026, 1, 2, 9, tzinfo=UTC)
    store.articles.upsert([
        _art(1, published=day1, topics={"cyber": {"label": True, "score": 0.9},
                                        "trade": {"label": False, "score": 0.2}},
             title_affix={"prefix": "BREAKING: "}),
        _art(2, published=day1, topics={"cyber": {"label": 1, "score": 0.7}}),
        _art(3, published=day2, topics={"trade": {"label": True, "score": 0.8}}),
        _art(4, published=day2)])
    assert store.articles.coverage_per_day() == [
        {"day": "2026-01-01", "topic": "cyber", "count": 2},
        {"day": "2026-01-02", "topic": "trade", "count": 1}]
    assert store.articles.coverage_per_day(since=day2) == [
        {"day": "2026-01-02", "topic": "trade", "count": 1}]
    titles = store.articles.titles("uk-paper")
    assert titles[_art(1).id] == ("Title 1", {"prefix": "BREAKING: "})
    assert titles[_art(4).id] == ("Title 4", {})
    pending = dict(store.articles.enrich_pending("v1"))
    assert pending[_art(1).id] == len("Title 1") + len("Body 1") and len(pending) == 4


def test_an_unreachable_postgresql_is_one_line_not_a_traceback(tmp_path) -> None:
    import subprocess
    import sys

    pytest.importorskip("psycopg")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "newsmon.toml"
    config.write_text('[data]\nstore = "postgresql"\n[index]\nbackend = "elasticsearch"\n',
                      encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "NEWSMON_PG_DSN": f"postgresql://newsmon:secret@127.0.0.1:{port}/newsmon"}
    done = subprocess.run([sys.executable, "-m", "newsmon", "--config", str(config), "status"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "cannot open store postgresql://newsmon:***@127.0.0.1" in line
    assert "secret" not in line


@pytest.mark.pg
def test_postgresql_exclusive_work_is_held_by_one_connection_at_a_time(pg_dsn: str) -> None:
    import psycopg

    from newsmon.index.store.postgres import PgStore

    with PgStore(pg_dsn) as one, PgStore(pg_dsn) as two:
        with one.exclusive("rule:r1") as held:
            assert held
            with two.exclusive("rule:r1", wait=False) as other:
                assert not other
            with two.exclusive("rule:r2", wait=False) as other:
                assert other  # another name is another piece of work
        with two.exclusive("rule:r1", wait=False) as other:
            assert other  # released at the end of the block
        # a process that dies holding it (kill -9) leaves nothing behind: its session ends
        dead = psycopg.connect(pg_dsn, autocommit=True)
        dead.execute("SELECT pg_advisory_lock(hashtextextended('rule:r1', 0))")
        with two.exclusive("rule:r1", wait=False) as other:
            assert not other
        dead.close()
        # the server ends the session once it sees the socket closed: a moment after close()
        deadline = time.monotonic() + 10
        while True:
            with two.exclusive("rule:r1", wait=False) as other:
                if other:
                    break
            assert time.monotonic() < deadline, "the dead session's lock was never released"
            time.sleep(0.05)


@pytest.mark.pg
def test_a_delivery_is_claimed_by_one_store_and_only_while_pending(pg_dsn: str) -> None:
    from newsmon.index.store.postgres import PgStore
    from newsmon.index.store.repos.alerts import NewAlert

    with PgStore(pg_dsn) as one, PgStore(pg_dsn) as two:
        with one.transaction():
            one.alerts.record([NewAlert(key="rule:r:story:s", rule="r", kind="match",
                                        payload={}, story="s",
                                        channels={"file:a.jsonl": {"type": "file"}})])
        listed_by_two, = two.alerts.deliveries()
        delivery, = one.alerts.deliveries()
        with one.alerts.claim(delivery) as mine:
            assert mine
            with two.alerts.claim(listed_by_two) as theirs:
                assert not theirs  # being sent by the other
            one.alerts.mark_sent(delivery.id)
        with two.alerts.claim(listed_by_two) as theirs:
            assert not theirs  # sent since the other listed it


def test_sqlite_work_needs_no_claim_under_the_run_lock(tmp_path) -> None:
    with Store(tmp_path / "s.db") as store, store.exclusive("rule:r1") as held:
        with store.exclusive("rule:r1", wait=False) as again:
            assert held and again


@pytest.mark.pg
def test_postgresql_change_feed_numbers_become_visible_in_order(pg_dsn: str) -> None:
    """Two writers at once: the one that wrote first holds the feed until it commits, so a
    reader never sees a number while a smaller one is still to come (its cursor would skip it)."""
    import threading

    from newsmon.index.store.postgres import PgStore

    with PgStore(pg_dsn) as first, PgStore(pg_dsn) as second, PgStore(pg_dsn) as reader:
        done = threading.Event()

        def write_second() -> None:
            second.articles.upsert([_art(2)])
            done.set()

        with first.transaction():
            first.articles.upsert([_art(1)])
            writer = threading.Thread(target=write_second)
            writer.start()
            # the second writer waits for the first's commit instead of taking a number that
            # would be visible before the first's
            assert not done.wait(1.0)
            assert reader.changes.since(0) == []
        writer.join(30)
        assert done.is_set()
        seqs = [c.seq for c in reader.changes.since(0)]
        assert seqs == sorted(seqs) and len(seqs) == 2
        ids = [c.article_id for c in reader.changes.since(0)]
        assert ids == [a.id for a in (_art(1), _art(2))]
