"""Moving an existing SQLite store into PostgreSQL (`newsmon store copy --to postgresql`).

The SQLite store is ``[data] dir``'s newsmon.db; the PostgreSQL store is the DSN in the
environment variable ``[data] dsn_env``. The copy runs under the run lock, so no run writes to
the SQLite store meanwhile, and is resumable (index.store.copy). Afterwards set
``[data] store = "postgresql"`` (with ``[index] backend = "elasticsearch"``).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from newsmon.app.lock import RunLock
from newsmon.app.settings import Settings
from newsmon.index.core.errors import ConfigError
from newsmon.index.store import Store
from newsmon.index.store.copy import CopyReport, copy_to_postgresql

TARGETS = ("postgresql",)


def copy_store(settings: Settings, to: str, *, env: Mapping[str, str] | None = None,
               progress: Callable[[str, int], None] | None = None) -> CopyReport:
    if to not in TARGETS:
        raise ConfigError(f"--to {to!r}: allowed: {', '.join(TARGETS)}")
    path = settings.data.store_path
    if not path.exists():
        raise ConfigError(f"no SQLite store at {path} to copy")
    env = os.environ if env is None else env
    dsn = env.get(settings.data.dsn_env, "").strip()
    if not dsn:
        raise ConfigError(f"the PostgreSQL store's DSN is read from the environment variable "
                          f"{settings.data.dsn_env} ([data].dsn_env), which is not set")
    from newsmon.index.store.postgres import PgStore

    with RunLock(settings.data.lock_path, "store copy"), \
            Store(path, timeout=settings.data.busy_timeout) as src, \
            PgStore(dsn, timeout=settings.data.busy_timeout) as dst:
        return copy_to_postgresql(src, dst, progress=progress)


__all__ = ["copy_store", "TARGETS"]
