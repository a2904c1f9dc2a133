"""Failures of the machine rather than of an item: a busy, corrupt or unwritable store, a full
disk. Each gets one line for the user and its own exit code (see newsmon.app.outcome), never a
traceback: cron mails the line, and a script can tell "retry later" (busy) from "a human must
look" (corrupt, full, read-only).
"""
from __future__ import annotations

import errno
import shutil
import sqlite3
from dataclasses import dataclass

from newsmon.app.outcome import (
    EXIT_DISK_FULL,
    EXIT_PARTIAL,
    EXIT_READ_ONLY,
    EXIT_STORE_BUSY,
    EXIT_STORE_CORRUPT,
)
from newsmon.index.core.errors import StoreError

# primary SQLite result codes (sqlite3.Error.sqlite_errorcode & 0xff)
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY, SQLITE_IOERR, SQLITE_CORRUPT = 5, 6, 8, 10, 11
SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB = 13, 14, 26
LOW_SPACE = 1 << 20  # bytes free below which an I/O error is taken for a full disk
# PostgreSQL's SQLSTATEs for the same failures (psycopg.Error.sqlstate): a lock wait past
# lock_timeout ([data].busy_timeout) or a deadlock; a full disk on the server; a read-only
# server (a hot standby, default_transaction_read_only); damaged data or index pages
PG_BUSY = {"55P03", "40P01"}
PG_DISK_FULL = {"53100"}
PG_READ_ONLY = {"25006"}
PG_CORRUPT = {"XX001", "XX002"}


@dataclass(frozen=True, slots=True)
class MachineFailure:
    exit_code: int
    kind: str        # busy | corrupt | disk_full | read_only | store_error
    message: str     # one line, for the user

    def __str__(self) -> str:
        return self.message


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return seen


def _sqlite_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF
    text = str(exc).lower()
    for needle, value in (("database is locked", SQLITE_BUSY), ("is locked", SQLITE_LOCKED),
                          ("not a database", SQLITE_NOTADB), ("malformed", SQLITE_CORRUPT),
                          ("disk is full", SQLITE_FULL), ("readonly", SQLITE_READONLY),
                          ("unable to open", SQLITE_CANTOPEN)):
        if needle in text:
            return value
    return None


def _nearly_full(folder: str) -> bool:
    """SQLite reports a full disk met while growing its shared-memory file as an I/O error."""
    try:
        return shutil.disk_usage(folder).free < LOW_SPACE
    except OSError:
        return False


def machine_failure(exc: BaseException, *, store: str, data_dir: str) -> MachineFailure | None:
    """The machine failure behind ``exc`` (looked for along its cause chain), or None."""
    for err in _chain(exc):
        if isinstance(err, StoreError) and err.reason == "corrupt":
            # a failed quick check or backup: the message names the damaged tables
            return MachineFailure(EXIT_STORE_CORRUPT, "corrupt", str(err))
        state = getattr(err, "sqlstate", None)  # a psycopg error, without importing psycopg
        if isinstance(state, str):
            failure = _pg_failure(state, err, store)
            if failure is not None:
                return failure
        if isinstance(err, sqlite3.Error):
            code = _sqlite_code(err)
            if code in (SQLITE_BUSY, SQLITE_LOCKED):
                return MachineFailure(EXIT_STORE_BUSY, "busy", (
                    f"the store {store} is locked by another program (a write lock held "
                    f"longer than [data].busy_timeout); nothing was changed, try again later"))
            if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
                return MachineFailure(EXIT_STORE_CORRUPT, "corrupt", (
                    f"the store {store} is corrupt or not a newsmon database ({err}); restore "
                    f"it from a backup or move it away to start a new one"))
            if code == SQLITE_FULL or (code == SQLITE_IOERR and _nearly_full(data_dir)):
                return MachineFailure(EXIT_DISK_FULL, "disk_full", (
                    f"the disk holding {data_dir} is full; free some space and run again "
                    f"(nothing written so far is lost)"))
            if code in (SQLITE_READONLY, SQLITE_CANTOPEN):
                return MachineFailure(EXIT_READ_ONLY, "read_only", (
                    f"cannot write the store {store} ({err}): the data folder is read-only or "
                    f"not writable by this user"))
            if code == SQLITE_IOERR:
                return MachineFailure(EXIT_PARTIAL, "store_error", (
                    f"disk I/O error on the store {store} ({err})"))
        if isinstance(err, OSError) and err.errno is not None:
            where = err.filename or data_dir
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                return MachineFailure(EXIT_DISK_FULL, "disk_full", (
                    f"the disk is full: cannot write {where}; free some space and run again"))
            if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                return MachineFailure(EXIT_READ_ONLY, "read_only", (
                    f"cannot write {where}: {err.strerror} (the data folder {data_dir} is "
                    f"read-only or not writable by this user)"))
    return None


def _pg_failure(state: str, err: BaseException, store: str) -> MachineFailure | None:
    detail = " ".join(str(err).split())
    if state in PG_BUSY:
        return MachineFailure(EXIT_STORE_BUSY, "busy", (
            f"the store {store} is locked by another program (a lock held longer than "
            f"[data].busy_timeout); nothing was changed, try again later"))
    if state in PG_DISK_FULL:
        return MachineFailure(EXIT_DISK_FULL, "disk_full", (
            f"the disk of the PostgreSQL server holding {store} is full ({detail}); free some "
            f"space and run again (nothing written so far is lost)"))
    if state in PG_READ_ONLY:
        return MachineFailure(EXIT_READ_ONLY, "read_only", (
            f"cannot write the store {store}: the PostgreSQL server takes no writes ({detail})"))
    if state in PG_CORRUPT:
        return MachineFailure(EXIT_STORE_CORRUPT, "corrupt", (
            f"the store {store} is damaged ({detail}); check it with pg_amcheck and restore "
            f"from a backup (pg_restore)"))
    return None


__all__ = ["MachineFailure", "machine_failure"]
