"""Runs of newsmon commands, the steps of each, and the fetch log (every fetch decision, with its
reason).

A run is one command (``run``, ``crawl``, ``enrich`` …) with the pid and host of its process and
its status; a step is one stage of a run (crawl, enrich, index, alert) with its counts, duration
and exit code, so `newsmon status` can say what each stage of the last runs did and how long it
took.

A run is written ``running`` when it starts. A kill -9 leaves it so; the next run, holding the
run lock, calls :meth:`RunRepo.mark_interrupted`, which turns the rows of processes that are gone
(same host, pid no longer alive) into ``interrupted``, their running steps too.
"""
from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from newsmon.index.core.times import now_iso
from newsmon.index.store.repos import Repo, inserted_id, marks

# statuses of a run and of its steps
RUN_RUNNING, RUN_OK, RUN_PARTIAL, RUN_FAILED, RUN_INTERRUPTED = (
    "running", "ok", "partial", "failed", "interrupted")

# outcomes written to fetch_log
STORED, NOT_MODIFIED, DISCOVERED, REJECTED, FAILED, SKIPPED = (
    "stored", "not_modified", "discovered", "rejected", "failed", "skipped",
)


@dataclass(frozen=True, slots=True)
class Run:
    """A run as the last-run summary of `newsmon status` shows it."""

    id: int
    command: str
    started_at: str
    finished_at: str | None
    status: str
    stats: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    """A run with the process that ran it and its steps."""

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


@dataclass(frozen=True, slots=True)
class FetchEntry:
    id: int
    run_id: int | None
    at: str
    url: str
    source: str | None
    kind: str | None
    http_status: int | None
    outcome: str
    reason: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class ListingRun:
    """What one crawl run got from one source's listings (feeds, sitemaps, section pages)."""

    source: str
    run_id: int
    answered: bool        # at least one listing fetch had one of the answering outcomes
    first_at: str         # the run's first listing fetch of the source
    reasons: str          # the distinct reasons (or outcomes) of its fetches, comma-separated


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, default=str, sort_keys=True)


class RunRepo(Repo):
    # -- runs and steps -----------------------------------------------------------------------
    def start(self, command: str) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO runs (command, started_at, pid, host) VALUES (?, ?, ?, ?) RETURNING id",
                (command, now_iso(), os.getpid(), socket.gethostname()))
            return inserted_id(cur)

    def finish(self, run_id: int, status: str, stats: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET finished_at=?, status=?, stats=? WHERE id=?",
                       (now_iso(), status, _json(stats), run_id))

    def start_step(self, run_id: int, stage: str) -> None:
        with self._tx() as db:
            db.execute(
                """INSERT INTO run_steps (run_id, stage, started_at) VALUES (?, ?, ?)
                   ON CONFLICT(run_id, stage) DO UPDATE SET status='running',
                       started_at=excluded.started_at, finished_at=NULL, duration_s=NULL,
                       exit_code=NULL, counts='{}'""",
                (run_id, stage, now_iso()))

    def finish_step(self, run_id: int, stage: str, *, status: str, duration_s: float,
                    exit_code: int | None, counts: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute(
                """UPDATE run_steps SET status=?, finished_at=?, duration_s=?, exit_code=?,
                       counts=? WHERE run_id=? AND stage=?""",
                (status, now_iso(), round(duration_s, 3), exit_code, _json(counts), run_id,
                 stage))

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
        ids = marks(len(gone))
        with self._tx() as db:
            db.execute(f"UPDATE runs SET status=?, finished_at=? WHERE id IN ({ids})",
                       [RUN_INTERRUPTED, now, *gone])
            db.execute(f"""UPDATE run_steps SET status=?, finished_at=? WHERE status=?
                           AND run_id IN ({ids})""",
                       [RUN_INTERRUPTED, now, RUN_RUNNING, *gone])
        return gone

    def last(self, command: str | None = None) -> Run | None:
        sql = "SELECT * FROM runs"
        params: list[Any] = []
        if command:
            sql += " WHERE command = ?"
            params.append(command)
        row = self._db.execute(sql + " ORDER BY id DESC LIMIT 1", params).fetchone()
        if row is None:
            return None
        return Run(row["id"], row["command"], row["started_at"], row["finished_at"],
                   row["status"], json.loads(row["stats"]))

    def get(self, run_id: int) -> RunRecord | None:
        row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return self._record(row) if row else None

    def recent(self, limit: int = 5) -> list[RunRecord]:
        return [self._record(r) for r in self._db.execute(
            "SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))]

    def steps(self, run_id: int) -> tuple[Step, ...]:
        return tuple(
            Step(r["stage"], r["status"], r["started_at"], r["finished_at"], r["duration_s"],
                 r["exit_code"], json.loads(r["counts"]))
            for r in self._db.execute(
                "SELECT * FROM run_steps WHERE run_id = ? ORDER BY started_at, rowid",
                (run_id,)))

    def _record(self, row: Any) -> RunRecord:
        return RunRecord(row["id"], row["command"], row["started_at"], row["finished_at"],
                         row["status"], row["pid"], row["host"], json.loads(row["stats"]),
                         self.steps(row["id"]))

    # -- the fetch log ------------------------------------------------------------------------
    def log_fetch(self, url: str, outcome: str, *, run_id: int | None = None,
                  source: str | None = None, kind: str | None = None,
                  http_status: int | None = None, reason: str | None = None,
                  detail: str | None = None) -> None:
        with self._tx() as db:
            db.execute(
                """INSERT INTO fetch_log (run_id, at, url, source, kind, http_status, outcome,
                       reason, detail) VALUES (?,?,?,?,?,?,?,?,?)""",
                (run_id, now_iso(), url, source, kind, http_status, outcome, reason,
                 (detail or "")[:2000] or None),
            )

    def fetch_log(self, *, run_id: int | None = None,
                  outcome: str | None = None) -> list[FetchEntry]:
        where: list[str] = []
        params: list[Any] = []
        if run_id is not None:
            where.append("run_id = ?")
            params.append(run_id)
        if outcome is not None:
            where.append("outcome = ?")
            params.append(outcome)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        return [FetchEntry(*r) for r in self._db.execute(
            f"""SELECT id, run_id, at, url, source, kind, http_status, outcome, reason, detail
                FROM fetch_log {clause} ORDER BY id""", params)]

    def failures_by_reason(self) -> dict[str, int]:
        return {
            f"{r['outcome']}:{r['reason']}": r["n"]
            for r in self._db.execute(
                """SELECT outcome, reason, COUNT(*) AS n FROM fetch_log
                   WHERE outcome IN ('failed','rejected') GROUP BY outcome, reason
                   ORDER BY n DESC"""
            )
        }

    def listing_runs(self, kinds: Sequence[str], answered: Sequence[str]) -> list[ListingRun]:
        """Per source and crawl run, whether any fetch of the ``kinds`` of listing had one of the
        ``answered`` outcomes; newest run first within each source."""
        return [ListingRun(r["source"], r["run_id"], bool(r["ok"]), r["at"], r["reasons"])
                for r in self._db.execute(
            f"""SELECT source, run_id, MAX(CASE WHEN outcome IN ({marks(len(answered))}) THEN 1 ELSE 0 END) AS ok,
                       MIN(at) AS at,
                       {self._sql.distinct_list('COALESCE(reason, outcome)', 'id')} AS reasons
                FROM fetch_log WHERE source IS NOT NULL AND run_id IS NOT NULL
                  AND kind IN ({marks(len(kinds))})
                GROUP BY source, run_id ORDER BY source, run_id DESC""",
            [*answered, *kinds])]


__all__ = ["RunRepo", "Run", "RunRecord", "Step", "FetchEntry", "ListingRun", "pid_alive",
           "RUN_RUNNING", "RUN_OK", "RUN_PARTIAL", "RUN_FAILED", "RUN_INTERRUPTED",
           "STORED", "NOT_MODIFIED", "DISCOVERED", "REJECTED", "FAILED", "SKIPPED"]
