"""The store of record: one SQLite file (WAL) holding articles, crawl state, runs and the fetch
log, vectors and stories, and the search state (change feed, cursors, search text, the embedded
search index).

Every other index (the embedded search tables, Elasticsearch) can be rebuilt from it. Writes are
batched and keyed by deterministic ids, so a rerun is an upsert and a kill -9 loses at most the
batch in flight.

One ``Store`` owns one connection and one transaction API; each concern is a small repository
on it::

    store.articles   articles (Article records) and their search text
    store.frontier   URLs decided about, feed/sitemap validators (the crawl frontier)
    store.runs       runs, their steps and the fetch log
    store.vectors    embeddings, near-duplicate fingerprints, story membership
    store.changes    the change feed (a seq per insert/update/delete of an article)
    store.cursors    per-consumer positions in the change feed
    store.search_text  the normalised text and tokens both search backends rank
    store.alerts     the alert outbox: decided alerts, their articles, deliveries, source health
    store.crawl_health  per source: its last crawl, last success, last error, failures in a row
    store.maintenance   when store chores (the daily quick check) last ran

Writes of several repositories commit together inside ``with store.transaction():``. The
repositories are shared with the PostgreSQL store (index.store.base, index.store.postgres);
``store.search_index`` (the embedded search backend's tables) is this store's alone.
"""
from __future__ import annotations

import logging
import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path

from newsmon.index.core.errors import StoreError
from newsmon.index.core.times import utc_iso, utcnow
from newsmon.index.store import maintenance
from newsmon.index.store.base import StoreBase
from newsmon.index.store.dialect import SQLITE
from newsmon.index.store.maintenance import CheckReport
from newsmon.index.store.migrations import MIGRATIONS, migrate
from newsmon.index.store.repos.runs import (
    DISCOVERED,
    FAILED,
    NOT_MODIFIED,
    REJECTED,
    SKIPPED,
    STORED,
)
from newsmon.index.store.repos.search import SearchIndexRepo

log = logging.getLogger(__name__)


class Store(StoreBase):
    """Store of record in one SQLite file. Thread-safe for the simple calls; one connection per
    Store object."""

    dialect = SQLITE

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        """``timeout``: seconds a write waits for another connection's lock (busy timeout)."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(
                str(self.path), timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:  # pragma: no cover - depends on the file system
            raise StoreError(f"cannot open store {self.path}: {exc}") from exc
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self.schema_version = migrate(self._db, self.path)
        super().__init__()
        # the embedded search backend's tables live in the same file (SQLite only)
        self.search_index = SearchIndexRepo(self)

    # -- plumbing -----------------------------------------------------------------------------
    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: the write lock at once, so a transaction
        that reads and then writes never meets a busy store halfway); nested ones are
        savepoints (StoreBase._transaction)."""
        return self._transaction(self._db, "BEGIN IMMEDIATE")

    @property
    def connection(self) -> sqlite3.Connection:
        """The raw connection, for backends that keep their tables in the same file."""
        return self._db

    @property
    def location(self) -> str:
        return str(self.path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- chores -------------------------------------------------------------------------------
    def check(self) -> CheckReport:
        """SQLite's quick check, the damaged tables named (index.store.maintenance)."""
        with self._lock:
            return maintenance.quick_check(self._db)

    def backup(self, dest: str | Path) -> CheckReport:
        """An atomic, checked copy of the store at ``dest`` (SQLite's online backup)."""
        with self._lock:
            return maintenance.backup(self._db, Path(dest))

    def restore_from(self, src: str | Path) -> int:
        """Replace this store's whole content with the backup ``src`` (checked first: a file
        that is not a whole newsmon store changes nothing); returns the schema version the
        backup had, before it was migrated to this newsmon's."""
        backup = maintenance.open_backup(Path(src), len(MIGRATIONS))
        try:
            version = int(backup.execute("PRAGMA user_version").fetchone()[0])
            with self._lock:
                maintenance.restore(backup, self._db)
                self.schema_version = migrate(self._db, self.path)
                maintenance.checkpoint(self._db)
        finally:
            backup.close()
        return version


__all__ = [
    "Store", "MIGRATIONS", "utcnow", "utc_iso",
    "STORED", "NOT_MODIFIED", "DISCOVERED", "REJECTED", "FAILED", "SKIPPED",
]
