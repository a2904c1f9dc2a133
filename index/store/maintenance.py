"""Store chores: SQLite's quick check with the damaged tables named, and backup and restore
through SQLite's online backup API.

``quick_check`` runs ``PRAGMA quick_check``. Its messages name the b-tree of a damaged page by
its root page ("Tree 41 page 97 ...") or an index by name; those are mapped to their table.
When a message names neither, each table is checked on its own (``PRAGMA
quick_check(table)``) and read in full, so the report still says which tables are damaged.

``backup`` copies a live store (other connections may read and write meanwhile) into a
temporary file next to the destination, checks the copy, and renames it into place: the
destination is either the old file or a whole, checked backup. ``restore`` copies a checked
backup into the store through the same API, inside SQLite's locking, so the WAL and shared
memory of the store stay consistent (copying a file over a store in WAL mode does not).
"""
from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from newsmon.index.core.errors import StoreError

MAX_MESSAGES = 100
_TREE = re.compile(r"\bTree (\d+) page")
_NAMED = re.compile(r"\b(?:index|table) ([A-Za-z_][\w]*)")


@dataclass(frozen=True, slots=True)
class CheckReport:
    ok: bool
    messages: list[str] = field(default_factory=list)   # quick_check's, "ok" aside
    tables: list[str] = field(default_factory=list)     # damaged tables, named

    def describe(self) -> str:
        if self.ok:
            return "ok"
        where = ", ".join(self.tables) if self.tables else "tables not identified"
        first = self.messages[0] if self.messages else ""
        return f"damaged in {where} ({first}{' …' if len(self.messages) > 1 else ''})"


def _schema(db: sqlite3.Connection) -> list[tuple[str, str, str, int]]:
    return [(r[0], r[1], r[2], int(r[3] or 0)) for r in db.execute(
        "SELECT type, name, tbl_name, rootpage FROM sqlite_master "
        "WHERE type IN ('table', 'index')")]


def _check(db: sqlite3.Connection, table: str | None = None) -> list[str]:
    """quick_check's messages (empty when the check passes); an error it raises is one."""
    try:
        if table is None:
            rows = db.execute(f"PRAGMA quick_check({MAX_MESSAGES})").fetchall()
        else:
            rows = db.execute(f'PRAGMA quick_check("{table}")').fetchall()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    messages = [str(r[0]) for r in rows]
    return [] if messages == ["ok"] else messages


def _readable(db: sqlite3.Connection, table: str) -> bool:
    try:
        for _ in db.execute(f'SELECT * FROM "{table}"'):
            pass
    except sqlite3.DatabaseError:
        return False
    return True


def quick_check(db: sqlite3.Connection) -> CheckReport:
    messages = _check(db)
    if not messages:
        return CheckReport(True)
    schema = _schema(db)
    by_root = {root: tbl for _, _, tbl, root in schema if root}
    by_name = {name: tbl for _, name, tbl, _ in schema}
    tables: dict[str, None] = {}
    for message in messages:
        for match in _TREE.finditer(message):
            table = by_root.get(int(match.group(1)))
            if table:
                tables[table] = None
        for match in _NAMED.finditer(message):
            if match.group(1) in by_name:
                tables[by_name[match.group(1)]] = None
    if not tables:
        # the messages name no b-tree: check and read each table on its own
        for kind, name, _, root in schema:
            if kind == "table" and root and (_check(db, name) or not _readable(db, name)):
                tables[name] = None
    return CheckReport(False, messages, sorted(tables))


def backup(db: sqlite3.Connection, dest: Path) -> CheckReport:
    """Copy the store behind ``db`` to ``dest`` atomically; returns the copy's check (a
    damaged copy is not kept: StoreError)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        target = sqlite3.connect(str(tmp))
        try:
            db.backup(target)
            report = quick_check(target)
        finally:
            target.close()
        if not report.ok:
            raise StoreError(f"the backup copy is damaged ({report.describe()}); the store "
                             f"itself is likely damaged: run `newsmon status --check`",
                             reason="corrupt")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return report


def open_backup(src: Path, newest_version: int) -> sqlite3.Connection:
    """A read-only connection to a checked newsmon backup; StoreError when it is not one."""
    if not src.is_file():
        raise StoreError(f"{src}: no such backup file")
    try:
        con = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"{src}: cannot open: {exc}") from exc
    problem = None
    try:
        version = int(con.execute("PRAGMA user_version").fetchone()[0])
        names = {r[1] for r in _schema(con)}
        report = quick_check(con)
    except sqlite3.DatabaseError as exc:
        # raised outside this block: SQLite's error is about the backup, not the store (which
        # would read as exit 5, "the store is corrupt")
        problem = str(exc)
    if problem is not None:
        con.close()
        raise StoreError(f"{src} is not a newsmon store ({problem}); nothing was changed")
    if "articles" not in names or version < 1:
        con.close()
        raise StoreError(f"{src} is not a newsmon store (no articles table)")
    if version > newest_version:
        con.close()
        raise StoreError(f"{src} has schema version {version}, newer than this newsmon "
                         f"({newest_version}); upgrade newsmon to restore it")
    if not report.ok:
        con.close()
        raise StoreError(f"{src} is damaged ({report.describe()}); pick another backup")
    return con


def restore(src: sqlite3.Connection, db: sqlite3.Connection) -> None:
    """Replace the whole content of the store behind ``db`` with ``src`` (one step)."""
    src.backup(db)


def checkpoint(db: sqlite3.Connection) -> None:
    """Fold the WAL into the database file (after a restore, so the file alone is whole)."""
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


__all__ = ["CheckReport", "quick_check", "backup", "open_backup", "restore", "checkpoint"]
