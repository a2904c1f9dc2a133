"""The store of record on PostgreSQL: the same repositories as the SQLite store (index.store.base),
over one psycopg 3 connection, with PostgreSQL's migrations (index.store.pg_migrations).

The repositories' SQL is portable (``?`` placeholders, ``ON CONFLICT``, ``RETURNING``); the
connection adapter here turns ``?`` into psycopg's ``%s``, hands rows that read by position and by
column name (as sqlite3.Row does), stores Python booleans as the integers the schema keeps, and
reads NUMERIC results (SUM over BIGINT) as numbers. Engine errors become StoreError, so callers
handle one failure type whichever engine holds the store.

What stays SQLite's: the embedded search index (a PostgreSQL store searches with Elasticsearch),
``PRAGMA quick_check`` (use amcheck) and the online backup (use pg_dump).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from newsmon.index.core.errors import StoreError
from newsmon.index.store.base import StoreBase
from newsmon.index.store.dialect import POSTGRESQL
from newsmon.index.store.maintenance import CheckReport
from newsmon.index.store.pg_migrations import PG_MIGRATIONS, migrate_pg
from newsmon.index.store.repos.jobs import JobRepo

log = logging.getLogger(__name__)

CHECK_HINT = ("a PostgreSQL store is checked by PostgreSQL: run pg_amcheck (the amcheck "
              "extension) on its database")
BACKUP_HINT = "a PostgreSQL store is backed up by PostgreSQL: use pg_dump (and pg_restore)"


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise StoreError(
            "[data] store = \"postgresql\" needs psycopg: pip install 'newsmon[pg]'") from exc
    return psycopg


def redact(dsn: str) -> str:
    """The DSN without its password, for messages and `status`."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """``?`` placeholders to psycopg's ``%s`` (and a literal ``%`` to ``%%``), outside quoted
    strings, quoted names and ``--`` comments."""
    out: list[str] = []
    quote = ""  # the character that ends the quoted string, name or comment we are in
    for i, ch in enumerate(sql):
        if quote:
            if ch == quote:  # the closing quote, or the newline that ends a comment
                quote = ""
            out.append("%%" if ch == "%" else ch)
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif sql.startswith("--", i):
            quote = "\n"  # a comment runs to the end of its line
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


def _one_line(exc: BaseException) -> str:
    # psycopg's messages carry a hint on a second line; newsmon reports failures in one
    return " ".join(str(exc).split())


def _param(value: Any) -> Any:
    # the schema keeps flags as integers, as SQLite does; psycopg would send a boolean
    return int(value) if isinstance(value, bool) else value


def _params(values: Any) -> Sequence[Any]:
    return [_param(v) for v in (values or ())]


class Row(tuple[Any, ...]):
    """A result row that reads by position and by column name, like sqlite3.Row."""

    _names: tuple[str, ...] = ()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._names.index(key))
            except ValueError:
                raise IndexError(f"no column {key}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor: Any) -> Any:
    names = tuple(d.name for d in cursor.description or ())
    kind = type("Row", (Row,), {"_names": names})

    def make(values: Sequence[Any]) -> Row:
        row: Row = kind(values)
        return row
    return make


class _Cursor:
    """The rows of one statement, fetched, with its row count."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self._at = 0
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def fetchall(self) -> list[Any]:
        rest = self._rows[self._at:]
        self._at = len(self._rows)
        return rest

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgConnection:
    """sqlite3.Connection's execute/executemany over a psycopg connection."""

    def __init__(self, conn: Any, where: str) -> None:
        self._conn = conn
        self._where = where

    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        psycopg = _psycopg()
        try:
            cur = self._conn.execute(translate(sql), _params(parameters))
            rows = cur.fetchall() if cur.description is not None else []
            return _Cursor(rows, cur.rowcount)
        except psycopg.Error as exc:
            raise StoreError(f"store {self._where}: {_one_line(exc)}") from exc

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> _Cursor:
        psycopg = _psycopg()
        batch = [_params(p) for p in parameters]
        if not batch:
            return _Cursor([], 0)
        try:
            with self._conn.cursor() as cur:
                cur.executemany(translate(sql), batch)
                return _Cursor([], cur.rowcount)
        except psycopg.Error as exc:
            raise StoreError(f"store {self._where}: {_one_line(exc)}") from exc

    def raw(self) -> Any:
        return self._conn


class PgStore(StoreBase):
    """The store of record in a PostgreSQL database (``dsn``). One connection per object;
    thread-safe for the simple calls, as the SQLite store is."""

    dialect = POSTGRESQL

    def __init__(self, dsn: str, *, timeout: float = 30.0) -> None:
        """``timeout``: seconds a write waits for another connection's lock."""
        psycopg = _psycopg()
        from psycopg.types.numeric import NumericLoader

        class _Number(NumericLoader):
            # SUM over BIGINT is NUMERIC: an int when whole, as SQLite gives
            def load(self, data: Any) -> Any:
                value = super().load(data)
                return int(value) if value == value.to_integral_value() else float(value)

        self.dsn = dsn
        self._where = redact(dsn)
        try:
            conn = psycopg.connect(dsn, autocommit=True, row_factory=_row_factory,
                                   connect_timeout=max(1, int(timeout)))
        except psycopg.Error as exc:
            raise StoreError(f"cannot open store {self._where}: {_one_line(exc)}") from exc
        conn.adapters.register_loader("numeric", _Number)
        conn.execute(f"SET lock_timeout = {int(timeout * 1000)}")
        self._raw = conn
        self._db = PgConnection(conn, self._where)
        try:
            self.schema_version = migrate_pg(conn, self._where)
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(f"store {self._where}: migration failed: {_one_line(exc)}") from exc
        super().__init__()
        # procrastinate's queue lives in the same database (newsmon.worker)
        self.jobs = JobRepo(self)

    @property
    def location(self) -> str:
        return self._where

    @property
    def connection(self) -> PgConnection:
        return self._db

    def transaction(self) -> AbstractContextManager[PgConnection]:
        """One transaction (BEGIN … COMMIT, ROLLBACK on any exception); nested ones are
        savepoints (StoreBase._transaction)."""
        return self._transaction(self._db, "BEGIN")

    def close(self) -> None:
        with self._lock:
            self._raw.close()

    @contextmanager
    def exclusive(self, name: str, *, wait: bool = True) -> Iterator[bool]:
        """A session-level advisory lock keyed by ``name``'s hash: held across transactions
        and released when this connection ends, so a worker killed -9 leaves no lock behind
        (its server session ends with its socket). Waiting obeys ``lock_timeout`` (the
        store's ``timeout``): a holder that keeps it longer makes this a StoreError."""
        with self._lock:
            if wait:
                self._db.execute("SELECT pg_advisory_lock(hashtextextended(?, 0))", (name,))
                held = True
            else:
                held = bool(self._db.execute(
                    "SELECT pg_try_advisory_lock(hashtextextended(?, 0))", (name,)
                ).fetchone()[0])
        try:
            yield held
        finally:
            if held and not self._raw.closed:
                with self._lock:
                    self._db.execute("SELECT pg_advisory_unlock(hashtextextended(?, 0))",
                                     (name,))

    def check(self) -> CheckReport:
        raise StoreError(CHECK_HINT)

    def backup(self, dest: object) -> CheckReport:
        raise StoreError(BACKUP_HINT)


__all__ = ["PgStore", "PgConnection", "PG_MIGRATIONS", "redact", "translate",
           "CHECK_HINT", "BACKUP_HINT"]
