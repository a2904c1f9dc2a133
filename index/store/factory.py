"""Which store of record the settings name: ``[data] store`` = "sqlite" (the file newsmon.db in
``[data] dir``) or "postgresql" (the DSN in the environment variable ``[data] dsn_env``)."""
from __future__ import annotations

import os
from collections.abc import Mapping

from newsmon.index.core.errors import ConfigError
from newsmon.index.core.settings import Settings
from newsmon.index.store.base import StoreBase
from newsmon.index.store.sqlite import Store


def store_exists(settings: Settings) -> bool:
    """Whether there is a store to read: the SQLite file exists, or the store is a PostgreSQL
    database (created by whoever runs PostgreSQL; its tables by the first open)."""
    return settings.data.store == "postgresql" or settings.data.store_path.exists()


def open_store(settings: Settings, *, env: Mapping[str, str] | None = None) -> StoreBase:
    """Open (and migrate) the store the settings name; the caller closes it."""
    data = settings.data
    if data.store == "postgresql":
        env = os.environ if env is None else env
        dsn = env.get(data.dsn_env, "").strip()
        if not dsn:
            raise ConfigError(
                f'[data].store = "postgresql" reads its DSN from the environment variable '
                f"{data.dsn_env} ([data].dsn_env), which is not set")
        from newsmon.index.store.postgres import PgStore

        return PgStore(dsn, timeout=data.busy_timeout)
    return Store(data.store_path, timeout=data.busy_timeout)


__all__ = ["open_store", "store_exists"]
