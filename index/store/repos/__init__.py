"""Repositories of the store of record, one per concern, all over the Store's one connection."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from newsmon.index.core.errors import StoreError
from newsmon.index.store.dialect import Connection, Dialect

if TYPE_CHECKING:  # pragma: no cover
    from newsmon.index.store.base import StoreBase

CHUNK = 500  # ids per IN (...) query, well under SQLite's variable limit


class Repo:
    """Base of a repository: the store it belongs to and its connection."""

    def __init__(self, store: StoreBase) -> None:
        self._store = store

    @property
    def _db(self) -> Connection:
        return self._store.connection

    @property
    def _sql(self) -> Dialect:
        return self._store.dialect

    def _tx(self) -> AbstractContextManager[Connection]:
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


def inserted_id(cur: Any) -> int:
    """The id an ``INSERT … RETURNING id`` just gave its row (both engines speak RETURNING;
    fetchall runs the statement to its end, so SQLite can commit after it)."""
    rows = cur.fetchall()
    if not rows:  # pragma: no cover - an INSERT without a conflict clause returns its row
        raise StoreError("the insert gave no row id")
    return int(rows[0][0])


def marks(n: int) -> str:
    return ",".join("?" * n)


__all__ = ["Repo", "chunked", "inserted_id", "marks", "CHUNK"]
