"""The store of record (one SQLite file by default): migrations and one repository per concern.

Every SQL statement of newsmon lives under this package, behind a named method of a repository.
"""
from newsmon.index.store.repos.runs import (
    DISCOVERED,
    FAILED,
    NOT_MODIFIED,
    REJECTED,
    SKIPPED,
    STORED,
)
from newsmon.index.store.sqlite import Store

# the fetch log's outcomes, which the crawler writes
__all__ = ["Store", "DISCOVERED", "FAILED", "NOT_MODIFIED", "REJECTED", "SKIPPED", "STORED"]
