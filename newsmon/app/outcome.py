"""Exit codes and the typed outcomes the use cases return (the CLI prints them, cron reads them).

Exit codes, stable for cron and scripts:

    0  all good
    1  the run finished but some items or deliveries failed (details in the log and `status`)
    2  bad configuration or usage
    3  another newsmon run holds the lock (an overlapping cron run): nothing was done
    4  the store is busy: another program holds a write lock on newsmon.db (or on a table of
       the PostgreSQL store) past the wait
    5  the store is corrupt or not a newsmon database
    6  the disk is full
    7  the data folder or store is read-only or not writable by this user
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from newsmon.index.store import RUN_FAILED, RUN_OK, RUN_PARTIAL

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3
EXIT_STORE_BUSY, EXIT_STORE_CORRUPT, EXIT_DISK_FULL, EXIT_READ_ONLY = 4, 5, 6, 7

@dataclass(slots=True)
class StageOutcome:
    """What one stage (crawl, enrich, index, alert) did in a run."""

    stage: str
    status: str                     # ok | partial | failed
    elapsed_s: float
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.status == RUN_OK else EXIT_PARTIAL

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "status": self.status, "elapsed_s": self.elapsed_s,
                "exit_code": self.exit_code, "stats": self.stats}


@dataclass(slots=True)
class RunOutcome:
    """A run of one or more stages under one lock, recorded as one run with a step per stage."""

    run_id: int
    command: str
    steps: list[StageOutcome] = field(default_factory=list)
    elapsed_s: float = 0.0
    interrupted_runs: list[int] = field(default_factory=list)  # earlier runs found dead

    @property
    def exit_code(self) -> int:
        return max((s.exit_code for s in self.steps), default=EXIT_OK)

    @property
    def status(self) -> str:
        statuses = {s.status for s in self.steps}
        return next((st for st in (RUN_FAILED, RUN_PARTIAL) if st in statuses), RUN_OK)

    def step(self, stage: str) -> StageOutcome | None:
        return next((s for s in self.steps if s.stage == stage), None)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "command": self.command, "status": self.status,
                "exit_code": self.exit_code, "elapsed_s": self.elapsed_s,
                "interrupted_runs": self.interrupted_runs,
                "steps": [s.to_dict() for s in self.steps]}


__all__ = ["StageOutcome", "RunOutcome", "EXIT_OK", "EXIT_PARTIAL", "EXIT_USAGE", "EXIT_LOCKED",
           "EXIT_STORE_BUSY", "EXIT_STORE_CORRUPT", "EXIT_DISK_FULL", "EXIT_READ_ONLY"]
