"""What differs between the store's two SQL engines, for the repositories they share.

The repositories write portable SQL (``?`` placeholders, ``INSERT … ON CONFLICT``, ``RETURNING``)
and ask the store's dialect only for the few expressions the engines spell differently: reading a
JSON field, expanding a JSON object into rows, joining distinct strings.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol


class Cursor(Protocol):
    """The part of a DB-API cursor the repositories use."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The part of a connection the repositories use (sqlite3's, or the PostgreSQL adapter)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Any: ...


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str

    def json_text(self, column: str, key: str) -> str:
        """The field ``key`` of the JSON text ``column``: a string as text, an object as JSON."""
        if self.name == "postgresql":
            return f"({column}::jsonb ->> '{key}')"
        return f"json_extract({column}, '$.{key}')"

    def json_entries(self, column: str, key: str, alias: str) -> str:
        """A FROM item: one row (``alias.key``, ``alias.value``) per entry of the object at
        ``key`` of the JSON text ``column``."""
        if self.name == "postgresql":
            return f"jsonb_each(COALESCE({column}::jsonb -> '{key}', '{{}}'::jsonb)) {alias}"
        return f"json_each({column}, '$.{key}') {alias}"

    def json_value_true(self, value: str, key: str) -> str:
        """Whether the field ``key`` of the JSON value ``value`` (from json_entries) is 1 or
        true."""
        if self.name == "postgresql":
            return f"({value} ->> '{key}') IN ('1', 'true', '1.0')"
        return f"json_extract({value}, '$.{key}') = 1"

    def distinct_list(self, expr: str, order: str) -> str:
        """The distinct values of ``expr`` in a group, joined by commas in the order their
        rows were first seen (by ``order``), as SQLite's GROUP_CONCAT(DISTINCT) gives them."""
        if self.name == "postgresql":
            return (f"(SELECT string_agg(v, ',' ORDER BY i) FROM (SELECT v, MIN(i) AS i FROM "
                    f"unnest(array_agg({expr} ORDER BY {order})) WITH ORDINALITY AS u(v, i) "
                    f"GROUP BY v) AS d)")
        return f"GROUP_CONCAT(DISTINCT {expr})"

    def no_index(self, column: str) -> str:
        """``column`` in a WHERE term the planner must not answer from an index on it (SQLite's
        unary plus); PostgreSQL's planner weighs its statistics and needs no hint."""
        return column if self.name == "postgresql" else f"+{column}"


SQLITE = Dialect("sqlite")
POSTGRESQL = Dialect("postgresql")

__all__ = ["Dialect", "SQLITE", "POSTGRESQL", "Connection", "Cursor"]
