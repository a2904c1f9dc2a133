"""Keeping the store whole: `status --check` (SQLite's quick check, the damaged tables named),
the daily check `run` makes, and `newsmon backup` / `newsmon backup --restore`.

A damaged store raises StoreError with reason ``corrupt``: exit 5 and one line naming the
tables (newsmon.app.failures). Restoring replaces the whole store under the run lock, so no run
writes meanwhile; the embedded search index lives in the store file and comes back with it,
while a remote search backend (Elasticsearch) holds documents of the store as it is now: its
cursor is dropped, so the next `newsmon index` (or `run`) rebuilds it from the restored store.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from newsmon.app.lock import RunLock
from newsmon.app.pipeline import open_store
from newsmon.app.settings import Settings
from newsmon.index.core.errors import ConfigError, StoreError
from newsmon.index.core.times import now_iso, parse_iso, utcnow
from newsmon.index.store import Store, StoreBase
from newsmon.index.store.maintenance import CheckReport
from newsmon.index.store.postgres import BACKUP_HINT, CHECK_HINT

log = logging.getLogger(__name__)

# how often `run` checks the store; the time of the last check is kept in the store
CHECK_EVERY = timedelta(days=1)
LAST_CHECK = "quick_check_at"
EMBEDDED_CURSOR = "backend:sqlite"


def damaged(store: StoreBase, report: CheckReport) -> StoreError:
    tables = ", ".join(report.tables) if report.tables else "tables not identified"
    first = report.messages[0] if report.messages else "quick_check failed"
    return StoreError(
        f"the store {store.location} is damaged in table(s) {tables} (SQLite quick_check: "
        f"{first}); restore it from a backup (`newsmon backup --restore FILE`, see README: "
        f"Backup and restore)", reason="corrupt")


def check_store(store: StoreBase) -> CheckReport:
    """Run the quick check now and remember when (a damaged store raises StoreError). A
    PostgreSQL store is PostgreSQL's to check: ConfigError says with what."""
    if not isinstance(store, Store):
        raise ConfigError(CHECK_HINT)
    report = store.check()
    if not report.ok:
        raise damaged(store, report)
    store.maintenance.set(LAST_CHECK, now_iso())
    return report


def check_if_due(store: StoreBase) -> bool:
    """The daily check of `run`: quick check when the last one is a day old or more;
    returns whether it ran."""
    if not isinstance(store, Store):
        return False  # PostgreSQL checks its pages itself (data checksums, amcheck)
    last = parse_iso(store.maintenance.get(LAST_CHECK))
    if last is not None and utcnow() - last < CHECK_EVERY:
        return False
    log.info("daily store check of %s (SQLite quick_check)", store.location)
    check_store(store)
    return True


@dataclass(frozen=True, slots=True)
class Restored:
    store: Path
    backup: Path
    schema_version: int          # the backup's, before migration
    reset_cursors: list[str]     # search backends that rebuild on their next index run


def backup_store(settings: Settings, dest: str | Path) -> Path:
    """Copy the store to ``dest`` (a file, or a folder to put a dated file in)."""
    if settings.data.store == "postgresql":
        raise ConfigError(BACKUP_HINT)
    path = Path(dest).expanduser()
    if path.is_dir():
        path = path / f"newsmon-{utcnow():%Y%m%dT%H%M%SZ}.db"
    if not settings.data.store_path.exists():
        raise StoreError(f"no store at {settings.data.store_path} to back up")
    if path.resolve() == settings.data.store_path.resolve():
        raise StoreError(f"{path} is the store itself; back it up elsewhere")
    with open_store(settings) as store:
        assert isinstance(store, Store)  # the settings name SQLite (checked above)
        store.backup(path)
    return path


def restore_store(settings: Settings, src: str | Path) -> Restored:
    """Replace the store with the backup ``src`` under the run lock (LockHeld: a run is on)."""
    if settings.data.store == "postgresql":
        raise ConfigError(BACKUP_HINT)
    path = Path(src).expanduser()
    if path.resolve() == settings.data.store_path.resolve():
        raise StoreError(f"{path} is the store itself; name a backup file")
    with RunLock(settings.data.lock_path, "restore"), open_store(settings) as store:
        # a remote index holds the documents of the store as it is now, the backup's cursor
        # (if it has one) those of the store as it was: both must go, for a full rebuild
        assert isinstance(store, Store)  # the settings name SQLite (checked above)
        before = set(store.cursors.all())
        version = store.restore_from(path)
        remote = sorted((before | set(store.cursors.all())) - {EMBEDDED_CURSOR})
        for name in remote:
            store.cursors.delete(name)
        store.maintenance.set(LAST_CHECK, now_iso())
    return Restored(settings.data.store_path, path, version, remote)


__all__ = ["CHECK_EVERY", "check_store", "check_if_due", "backup_store", "restore_store",
           "Restored", "damaged"]
