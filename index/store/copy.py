"""`newsmon store copy --to postgresql`: the SQLite store's rows moved into a PostgreSQL store,
table by table in batches, resumable.

Each batch is inserted in one PostgreSQL transaction together with the position it reached
(the SQLite rowid, in the table ``store_copy``), so a copy that is killed or fails resumes after
the last committed batch and never copies a row twice. Rows keep their ids and change-feed
sequence numbers (the change-feed triggers are off while a batch is inserted: the feed is
copied as it is), so search-backend cursors and alert watermarks stay valid; the id sequences
continue after the copied ids. The embedded search index is not copied (a PostgreSQL store
searches with Elasticsearch). A PostgreSQL store that already holds articles of its own is
refused, unless they came from an earlier copy.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from newsmon.index.core.errors import StoreError
from newsmon.index.store.postgres import PgStore
from newsmon.index.store.sqlite import Store

# parents before children (foreign keys); the SQLite-only search index tables are left out
TABLES = (
    "articles", "urls", "feed_state", "runs", "run_steps", "fetch_log", "embeddings",
    "fingerprints", "story_members", "changes", "cursors", "search_text", "alerts",
    "alert_articles", "deliveries", "source_health", "source_blocks", "source_block_articles",
    "crawl_health", "maintenance", "alert_rules",
)
# the tables whose inserts feed the change feed (their triggers are off while copying)
TRIGGERED = ("articles", "embeddings", "story_members")
# id columns drawn from a sequence, which must continue after the copied ids
SERIALS = (("runs", "id"), ("fetch_log", "id"), ("changes", "seq"), ("alerts", "id"),
           ("deliveries", "id"))
BATCH = 500


@dataclass
class CopyReport:
    copied: dict[str, int] = field(default_factory=dict)   # rows copied by this call, by table
    resumed: bool = False                                  # an earlier copy had begun

    @property
    def total(self) -> int:
        return sum(self.copied.values())


def _columns_sqlite(src: Store, table: str) -> list[str]:
    return [r[1] for r in src.connection.execute(f"PRAGMA table_info({table})")]


def _columns_pg(dst: PgStore, table: str) -> list[str]:
    return [r[0] for r in dst.connection.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = ? ORDER BY ordinal_position", (table,))]


def copy_to_postgresql(src: Store, dst: PgStore, *, batch: int = BATCH,
                       progress: Callable[[str, int], None] | None = None) -> CopyReport:
    """Copy every row of ``src`` not copied yet into ``dst``; returns what this call copied."""
    db = dst.connection
    db.execute("""CREATE TABLE IF NOT EXISTS store_copy (
                      tbl TEXT PRIMARY KEY, last_rowid BIGINT NOT NULL, source TEXT NOT NULL)""")
    done = {r[0]: (int(r[1]), r[2]) for r in db.execute(
        "SELECT tbl, last_rowid, source FROM store_copy")}
    report = CopyReport(resumed=bool(done))
    if done and any(source != src.location for _, source in done.values()):
        other = next(source for _, source in done.values())
        raise StoreError(f"{dst.location} holds a copy of {other}, not of {src.location}")
    if not done:
        row = db.execute("SELECT COUNT(*) FROM articles").fetchone()
        if int(row[0]):
            raise StoreError(f"{dst.location} already holds {int(row[0])} articles of its own; "
                             "copy into an empty PostgreSQL store")
    for table in TABLES:
        have = set(_columns_sqlite(src, table))
        cols = [c for c in _columns_pg(dst, table) if c in have]
        if not cols:
            raise StoreError(f"table {table} is missing from {src.location} or {dst.location}")
        last = done.get(table, (0, ""))[0]
        names = ", ".join(cols)
        insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(cols))})"
        n = 0
        while True:
            rows = src.connection.execute(
                f"SELECT rowid, {names} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (last, batch)).fetchall()
            if not rows:
                break
            last = int(rows[-1][0])
            with dst.transaction() as tx:
                if table in TRIGGERED:  # transactional: a failed batch leaves them on
                    tx.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
                tx.executemany(insert, [tuple(r)[1:] for r in rows])
                if table in TRIGGERED:
                    tx.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
                tx.execute("""INSERT INTO store_copy (tbl, last_rowid, source) VALUES (?, ?, ?)
                              ON CONFLICT (tbl) DO UPDATE SET last_rowid = excluded.last_rowid""",
                           (table, last, src.location))
            n += len(rows)
            if progress is not None:
                progress(table, n)
        report.copied[table] = n
    for table, column in SERIALS:
        db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                   f"GREATEST(MAX({column}), 1), MAX({column}) IS NOT NULL) FROM {table}")
    return report


__all__ = ["copy_to_postgresql", "CopyReport", "TABLES"]
