"""Repositories of the store of record, one per concern, all over the Store's one connection."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from newsmon.index.core.errors import StoreError

if TYPE_CHECKING:  # pragma: no cover
    from newsmon.index.store import Store

CHUNK = 500  # ids per IN (...) query, well under SQLite's variable limit


class Repo:
    """Base of a repository: the store it belongs to and its connection."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def _db(self) -> sqlite3.Connection:
        return self._store.connection

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._store.transaction()

    def _rows_in(self, sql: str, ids: Iterable[Any], *params: Any) -> Iterator[Any]:
        """The rows of ``sql`` for every id of ``ids``, queried in chunks (SQLite bounds the
        variables of one statement): ``{ids}`` in ``sql`` stands for a chunk's placeholders,
        ``params`` bind before them."""
        for chunk in chunked(ids):
            yield from self._db.execute(sql.format(ids=marks(len(chunk))), [*params, *chunk])


def chunked(values: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def inserted_id(cur: sqlite3.Cursor) -> int:
    """The rowid an INSERT just gave its row."""
    if cur.lastrowid is None:  # pragma: no cover - sqlite3 sets it after every INSERT
        raise StoreError("the insert gave no row id")
    return cur.lastrowid


def marks(n: int) -> str:
    return ",".join("?" * n)


__all__ = ["Repo", "chunked", "inserted_id", "marks", "CHUNK"]
