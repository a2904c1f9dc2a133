"""Every SQL statement of newsmon lives in index/store/, behind a named repository method.

Outside that package no module may hold an SQL statement as a string literal, nor call
``.execute``/``.executemany``/``.executescript`` on anything: a query written elsewhere bypasses
the store's transactions and migrations, and is invisible to whoever changes the schema.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("crawler", "enrich", "index", "newsmon")
STORE = REPO / "index" / "store"
EXECUTE = frozenset({"execute", "executemany", "executescript"})

# Files that may hold SQL while a move into index/store is under way; empty since the embedded
# backend's SQL moved into index/store/repos/search.py. test_the_allow_list_is_not_stale makes
# an entry go once its file holds no SQL.
ALLOWED: frozenset[str] = frozenset()

_NAME = r"[\w.\"`\[\]]+"
_ITEM = r"(?:\*|[\w.]+(?:\([^()]*\))?)(?:\s+as\s+\w+)?"
# a statement keyword in capitals followed by a second one: SQL as this project writes it
_UPPER = re.compile(
    r"^(?:SELECT|INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|WITH)\b.*?"
    r"\b(?:FROM|INTO|SET|TABLE|INDEX|TRIGGER|VIEW|WHERE|VALUES|AS)\b"
    r"|^PRAGMA\s+\w+"
    r"|^(?:BEGIN(?:\s+(?:IMMEDIATE|EXCLUSIVE|DEFERRED))?|COMMIT|ROLLBACK(?:\s+TO\s+\w+)?"
    r"|SAVEPOINT\s+\w+|RELEASE\s+\w+|VACUUM)\s*;?\s*$",
    re.S)
# in any case, only where the shape is a statement's (so "Select a source from the list" or
# "update the index" are prose)
_ANY_CASE = re.compile(
    rf"^select\s+(?:distinct\s+)?{_ITEM}(?:\s*,\s*{_ITEM})*\s+from\s+{_NAME}"
    rf"|^insert\s+(?:or\s+\w+\s+)?into\s+{_NAME}\s*(?:\(|values\b|select\b|default\b)"
    rf"|^update\s+{_NAME}\s+set\s+\w+\s*="
    rf"|^delete\s+from\s+{_NAME}\s*(?:where\b|;|$)"
    rf"|^create\s+(?:(?:unique|virtual|temp|temporary)\s+)*(?:table|index|trigger|view)\s+"
    rf"(?:if\s+not\s+exists\s+)?{_NAME}\s*(?:\(|(?:on|using|as|before|after|instead)\b)"
    rf"|^drop\s+(?:table|index|trigger|view)\s+(?:if\s+exists\s+)?{_NAME}\s*;?\s*$"
    rf"|^alter\s+table\s+{_NAME}\s+(?:add|rename|drop)\b"
    rf"|^with\s+(?:recursive\s+)?\w+(?:\s*\([^()]*\))?\s+as\s*\("
    rf"|^pragma\s+\w+\s*(?:=|\(|;|$)",
    re.S | re.I)
_COMMENT = re.compile(r"^(?:\s*--[^\n]*\n|\s+)*")


def looks_like_sql(text: str) -> bool:
    text = _COMMENT.sub("", text, count=1)
    return bool(_UPPER.match(text) or _ANY_CASE.match(text))


def _text(node: ast.JoinedStr) -> str:
    """An f-string's text, each replacement field standing in as a name (``{col}`` -> ``x``)."""
    return "".join(part.value if isinstance(part, ast.Constant) and isinstance(part.value, str)
                   else "x" for part in node.values)


def violations(source: str, filename: str = "<string>") -> Iterator[tuple[int, str]]:
    """(line, what) for every SQL literal and every execute call in ``source``."""
    tree = ast.parse(source, filename)
    in_fstring = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
                  for part in node.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in EXECUTE:
            yield node.lineno, f"calls .{node.func.attr}()"
        elif isinstance(node, ast.JoinedStr):
            if looks_like_sql(_text(node)):
                yield node.lineno, f"SQL in an f-string: {_text(node).strip()[:60]!r}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in in_fstring and looks_like_sql(node.value):
            yield node.lineno, f"SQL in a string: {node.value.strip()[:60]!r}"


def scanned_files() -> Iterator[Path]:
    for top in SCANNED:
        for path in sorted((REPO / top).rglob("*.py")):
            if STORE not in path.parents:
                yield path


def _found(path: Path) -> list[str]:
    rel = path.relative_to(REPO).as_posix()
    return [f"{rel}:{line}: {what}"
            for line, what in sorted(violations(path.read_text(encoding="utf-8"), rel))]


def test_no_sql_outside_the_store() -> None:
    found = [hit for path in scanned_files()
             if path.relative_to(REPO).as_posix() not in ALLOWED for hit in _found(path)]
    assert not found, ("SQL belongs in index/store/ behind a named repository method:\n"
                       + "\n".join(found))


def test_the_allow_list_is_not_stale() -> None:
    for rel in ALLOWED:
        path = REPO / rel
        assert path.is_file() and _found(path), f"{rel} holds no SQL now: drop it from ALLOWED"


PLANTED = '''
import sqlite3

def count(db: sqlite3.Connection, col: str) -> int:
    rows = db.execute(f"SELECT {col}, COUNT(*) FROM articles GROUP BY {col}")
    later = """
        -- the newest first
        select id, title from articles order by id desc"""
    return len(list(rows)) + len(later)

QUERY = "UPDATE runs SET status = ? WHERE id = ?"
'''


def test_the_detector_flags_planted_sql() -> None:
    found = sorted(violations(PLANTED))
    assert [line for line, _ in found] == [5, 5, 6, 11]
    assert [what.split(":")[0] for _, what in found] == [
        "SQL in an f-string", "calls .execute()", "SQL in a string", "SQL in a string"]


@pytest.mark.parametrize("sql", [
    "SELECT * FROM runs",
    "select count(*) from urls where state = 'failed'",
    "INSERT INTO runs (command) VALUES (?)",
    "insert or replace into cursors (name, seq) values (?, ?)",
    "update runs set status=? where id=?",
    "DELETE FROM search_fts WHERE rowid = ?",
    "delete from changes",
    "CREATE TABLE t (a INTEGER)",
    "create index t_a on t(a)",
    "WITH recent AS (SELECT 1) SELECT * FROM recent",
    "PRAGMA journal_mode=WAL",
    "pragma user_version",
    "BEGIN IMMEDIATE",
    "ALTER TABLE runs ADD COLUMN pid INTEGER",
    "\n    -- a comment first\n    SELECT id FROM articles",
])
def test_the_detector_knows_sql(sql: str) -> None:
    assert looks_like_sql(sql)


@pytest.mark.parametrize("prose", [
    "Select a source",
    "Select a source from the list",
    "update the index",
    "Update the index after a crawl",
    "Delete from the list what you do not want",
    "Create a table of contents",
    "with a new model",
    "Begin",
    "commit",
    "end",
    "selected",
    "INSERTED 3 rows",
    "Drop the cache when the model changes",
    "the store keeps SELECT statements",
])
def test_the_detector_passes_prose(prose: str) -> None:
    assert not looks_like_sql(prose)
