"""A database of its own per test on the PostgreSQL test server, and the store fixtures that run
a test over both engines."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from newsmon.index.store import Store
from newsmon.index.store.base import StoreBase


def with_database(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))


@contextmanager
def fresh_database(server_dsn: str) -> Iterator[str]:
    """Create a uniquely named database on the server of ``server_dsn``, yield its DSN, drop it
    (with whatever connections are still open on it)."""
    import psycopg

    name = f"newsmon_t_{uuid.uuid4().hex}"
    with psycopg.connect(server_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_dsn, name)
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def open_test_store(engine: str, tmp_path: Path) -> Iterator[StoreBase]:
    """A new, empty store on ``engine`` ("sqlite": a file under ``tmp_path``; "postgresql": a
    database of its own on NEWSMON_TEST_PG_URL's server, which the `pg` marker provides)."""
    if engine == "sqlite":
        with Store(tmp_path / "s.db") as store:
            yield store
        return
    from newsmon.index.store.postgres import PgStore

    with fresh_database(os.environ["NEWSMON_TEST_PG_URL"]) as dsn, PgStore(dsn) as pg:
        yield pg
