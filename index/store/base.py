"""What both stores of record share: the repositories over one connection, the transaction API
they compose through, and the counts `newsmon status` shows.

``Store`` (index.store.sqlite, one SQLite file) and ``PgStore`` (index.store.postgres) differ
in how they connect, migrate and look after themselves; the repositories are the same code over
either, asking the store's ``dialect`` for the few expressions the engines spell differently.
"""
from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Self, TypeVar

from newsmon.index.store.dialect import Connection, Dialect
from newsmon.index.store.maintenance import CheckReport
from newsmon.index.store.repos.alerts import AlertRepo
from newsmon.index.store.repos.articles import ArticleRepo
from newsmon.index.store.repos.boilerplate import BoilerplateRepo
from newsmon.index.store.repos.changes import ChangeFeed, Cursors, SearchTextRepo
from newsmon.index.store.repos.frontier import Frontier
from newsmon.index.store.repos.health import CrawlHealthRepo, MaintenanceRepo
from newsmon.index.store.repos.runs import RunRepo
from newsmon.index.store.repos.vectors import VectorRepo

C = TypeVar("C", bound=Connection)


class StoreBase(ABC):
    """The store seam: repositories, transactions, status; see index.store.sqlite."""

    dialect: Dialect
    schema_version: int

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self.articles = ArticleRepo(self)
        self.frontier = Frontier(self)
        self.runs = RunRepo(self)
        self.vectors = VectorRepo(self)
        self.changes = ChangeFeed(self)
        self.cursors = Cursors(self)
        self.search_text = SearchTextRepo(self)
        self.alerts = AlertRepo(self)
        self.boilerplate = BoilerplateRepo(self)
        self.crawl_health = CrawlHealthRepo(self)
        self.maintenance = MaintenanceRepo(self)

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the store is, for messages (a file, or a DSN without its password)."""

    @property
    @abstractmethod
    def connection(self) -> Connection:
        """The connection the repositories run their SQL on."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Any]:
        """One write transaction, re-entrant (an inner one is a savepoint of the outer)."""

    @abstractmethod
    def close(self) -> None: ...

    @contextmanager
    def exclusive(self, name: str, *, wait: bool = True) -> Iterator[bool]:
        """Work named ``name`` that one process at a time does over this store, whichever
        machine it runs on; yields whether this process holds it (``wait=False`` does not wait
        for another holder and yields False instead).

        One SQLite file has one writer at a time: the processes that change it run under the
        data folder's run lock, so here it is always held. PgStore takes a lock in PostgreSQL
        that every process and machine on the database sees."""
        yield True

    @contextmanager
    def _transaction(self, db: C, begin: str) -> Iterator[C]:
        """``begin`` … COMMIT on ``db``, ROLLBACK on any exception. Re-entrant: a transaction
        opened inside another is a savepoint of it, so repository methods compose (``with
        store.transaction(): store.articles.upsert(…); store.cursors.set(…)`` commits both or
        neither)."""
        with self._lock:
            if self._depth:
                name = f"sp{self._depth}"
                db.execute(f"SAVEPOINT {name}")
                self._depth += 1
                try:
                    yield db
                except BaseException:
                    db.execute(f"ROLLBACK TO SAVEPOINT {name}")
                    db.execute(f"RELEASE SAVEPOINT {name}")
                    raise
                else:
                    db.execute(f"RELEASE SAVEPOINT {name}")
                finally:
                    self._depth -= 1
                return
            db.execute(begin)
            self._depth = 1
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            else:
                db.execute("COMMIT")
            finally:
                self._depth = 0

    @abstractmethod
    def check(self) -> CheckReport:
        """The engine's integrity check, damaged tables named."""

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def status(self) -> dict[str, Any]:
        """Counts for `newsmon status`."""
        last = self.runs.last()
        return {
            "store": self.location,
            "articles": self.articles.count(),
            "by_source": self.articles.count_by("source"),
            "by_lang": self.articles.count_by("lang"),
            "by_stage": self.articles.count_by("stage"),
            "by_status": self.articles.count_by("status"),
            "feeds": self.frontier.feed_count(),
            "failures_by_reason": self.runs.failures_by_reason(),
            "last_run": last.as_dict() if last else None,
            "changes_head": self.changes.head(),
            "cursors": self.cursors.all(),
        }


__all__ = ["StoreBase"]
