"""Run records: one row per run (command, pid, host, status) and one per step of it.

A step is one stage of a run (crawl, enrich, index, alert) with its counts, duration and exit
code, so `newsmon status` can say what each stage of the last runs did and how long it took.

A run is written ``running`` when it starts. A kill -9 leaves it so; the next run, holding the
run lock, calls :meth:`RunRecords.mark_interrupted`, which turns the rows of processes that are
gone (same host, pid no longer alive) into ``interrupted``, their running steps too.
"""
from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from newsmon.index.core.times import now_iso

RUN_RUNNING, RUN_OK, RUN_PARTIAL, RUN_FAILED, RUN_INTERRUPTED = (
    "running", "ok", "partial", "failed", "interrupted")

# appended to the store's migration list (index/migrations.py)
MIGRATION = """
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    ALTER TABLE runs ADD COLUMN host TEXT;
    CREATE TABLE run_steps (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        stage TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'running',
        started_at TEXT NOT NULL,
        finished_at TEXT,
        duration_s REAL,
        exit_code INTEGER,
        counts TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (run_id, stage)
    );
    CREATE INDEX runs_status ON runs(status);
"""


@dataclass(frozen=True, slots=True)
class Step:
    stage: str
    status: str
    started_at: str
    finished_at: str | None
    duration_s: float | None
    exit_code: int | None
    counts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: int
    command: str
    started_at: str
    finished_at: str | None
    status: str
    pid: int | None
    host: str | None
    stats: dict[str, Any] = field(default_factory=dict)
    steps: tuple[Step, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


class RunRecords:
    """Runs and their steps, on the store's connection and transaction."""

    def __init__(self, store: Any) -> None:
        self._store = store

    @property
    def _db(self) -> Any:
        return self._store.connection

    def start(self, command: str) -> int:
        with self._store.transaction() as db:
            cur = db.execute(
                "INSERT INTO runs (command, started_at, pid, host) VALUES (?, ?, ?, ?)",
                (command, now_iso(), os.getpid(), socket.gethostname()))
            return int(cur.lastrowid)

    def finish(self, run_id: int, status: str, stats: dict[str, Any]) -> None:
        with self._store.transaction() as db:
            db.execute("UPDATE runs SET finished_at=?, status=?, stats=? WHERE id=?",
                       (now_iso(), status, json.dumps(stats, default=str, sort_keys=True),
                        run_id))

    def start_step(self, run_id: int, stage: str) -> None:
        with self._store.transaction() as db:
            db.execute(
                """INSERT INTO run_steps (run_id, stage, started_at) VALUES (?, ?, ?)
                   ON CONFLICT(run_id, stage) DO UPDATE SET status='running',
                       started_at=excluded.started_at, finished_at=NULL, duration_s=NULL,
                       exit_code=NULL, counts='{}'""",
                (run_id, stage, now_iso()))

    def finish_step(self, run_id: int, stage: str, *, status: str, duration_s: float,
                    exit_code: int, counts: dict[str, Any]) -> None:
        with self._store.transaction() as db:
            db.execute(
                """UPDATE run_steps SET status=?, finished_at=?, duration_s=?, exit_code=?,
                       counts=? WHERE run_id=? AND stage=?""",
                (status, now_iso(), round(duration_s, 3), exit_code,
                 json.dumps(counts, default=str, sort_keys=True), run_id, stage))

    def mark_interrupted(self, *, alive: Callable[[int], bool] = pid_alive) -> list[int]:
        """Mark ``interrupted`` the running runs of this host whose process is gone.

        Call it holding the run lock. Rows from another host sharing the data folder are left
        alone (their pid cannot be checked from here).
        """
        host = socket.gethostname()
        gone = [r["id"] for r in self._db.execute(
            "SELECT id, pid, host FROM runs WHERE status = ?", (RUN_RUNNING,))
            if r["pid"] is None or (r["host"] == host and r["pid"] != os.getpid()
                                    and not alive(r["pid"]))]
        if not gone:
            return []
        now = now_iso()
        marks = ",".join("?" * len(gone))
        with self._store.transaction() as db:
            db.execute(f"UPDATE runs SET status=?, finished_at=? WHERE id IN ({marks})",
                       [RUN_INTERRUPTED, now, *gone])
            db.execute(f"""UPDATE run_steps SET status=?, finished_at=? WHERE status=?
                           AND run_id IN ({marks})""",
                       [RUN_INTERRUPTED, now, RUN_RUNNING, *gone])
        return gone

    def steps(self, run_id: int) -> tuple[Step, ...]:
        return tuple(
            Step(r["stage"], r["status"], r["started_at"], r["finished_at"], r["duration_s"],
                 r["exit_code"], json.loads(r["counts"]))
            for r in self._db.execute(
                "SELECT * FROM run_steps WHERE run_id = ? ORDER BY started_at, rowid",
                (run_id,)))

    def get(self, run_id: int) -> RunRecord | None:
        row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return self._record(row) if row else None

    def recent(self, limit: int = 5) -> list[RunRecord]:
        return [self._record(r) for r in self._db.execute(
            "SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))]

    def _record(self, row: Any) -> RunRecord:
        return RunRecord(row["id"], row["command"], row["started_at"], row["finished_at"],
                         row["status"], row["pid"], row["host"], json.loads(row["stats"]),
                         self.steps(row["id"]))


__all__ = ["RunRecords", "RunRecord", "Step", "MIGRATION", "pid_alive", "RUN_RUNNING",
           "RUN_OK", "RUN_PARTIAL", "RUN_FAILED", "RUN_INTERRUPTED"]
