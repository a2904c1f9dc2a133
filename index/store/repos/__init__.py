"""Repositories of the store of record, one per concern, all over the Store's one connection."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

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

    def _tx(self):  # noqa: ANN202 - a context manager yielding the connection
        return self._store.transaction()


def chunked(values: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def marks(n: int) -> str:
    return ",".join("?" * n)


__all__ = ["Repo", "chunked", "marks", "CHUNK"]
