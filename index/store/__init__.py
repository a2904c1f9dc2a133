"""The store of record (one SQLite file by default, or a PostgreSQL database): migrations and one
repository per concern, shared by both engines (index.store.base).

Every SQL statement of newsmon lives under this package, behind a named method of a repository.
"""
from newsmon.index.store.base import StoreBase
from newsmon.index.store.factory import open_store, store_exists
from newsmon.index.store.repos.runs import (
    DISCOVERED,
    FAILED,
    NOT_MODIFIED,
    REJECTED,
    RUN_FAILED,
    RUN_INTERRUPTED,
    RUN_OK,
    RUN_PARTIAL,
    RUN_RUNNING,
    SKIPPED,
    STORED,
    pid_alive,
)
from newsmon.index.store.sqlite import Store

__all__ = [
    "Store", "StoreBase", "open_store", "store_exists",
    # the fetch log's outcomes, which the crawler writes
    "DISCOVERED", "FAILED", "NOT_MODIFIED", "REJECTED", "SKIPPED", "STORED",
    # the statuses of a run and of its steps, and the liveness check that tells a run killed
    # while running from one still going
    "RUN_RUNNING", "RUN_OK", "RUN_PARTIAL", "RUN_FAILED", "RUN_INTERRUPTED", "pid_alive",
]
