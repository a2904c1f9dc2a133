"""Runs of newsmon commands and the fetch log (every fetch decision, with its reason)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from newsmon.index.core.times import now_iso
from newsmon.index.store.repos import Repo

# outcomes written to fetch_log
STORED, NOT_MODIFIED, DISCOVERED, REJECTED, FAILED, SKIPPED = (
    "stored", "not_modified", "discovered", "rejected", "failed", "skipped",
)


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    command: str
    started_at: str
    finished_at: str | None
    status: str
    stats: dict[str, Any] = field(default_factory=dict)

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


def _run(row: Any) -> Run:
    return Run(row["id"], row["command"], row["started_at"], row["finished_at"], row["status"],
               json.loads(row["stats"]))


class RunLog(Repo):
    def start(self, command: str) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO runs (command, started_at) VALUES (?, ?)", (command, now_iso())
            )
            return int(cur.lastrowid)

    def finish(self, run_id: int, status: str, stats: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET finished_at=?, status=?, stats=? WHERE id=?",
                (now_iso(), status, json.dumps(stats, default=str, sort_keys=True), run_id),
            )

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
        where, params = [], []
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

    def last(self, command: str | None = None) -> Run | None:
        sql = "SELECT * FROM runs"
        params: list[Any] = []
        if command:
            sql += " WHERE command = ?"
            params.append(command)
        row = self._db.execute(sql + " ORDER BY id DESC LIMIT 1", params).fetchone()
        return _run(row) if row else None

    def failures_by_reason(self) -> dict[str, int]:
        return {
            f"{r['outcome']}:{r['reason']}": r["n"]
            for r in self._db.execute(
                """SELECT outcome, reason, COUNT(*) AS n FROM fetch_log
                   WHERE outcome IN ('failed','rejected') GROUP BY outcome, reason
                   ORDER BY n DESC"""
            )
        }


__all__ = ["RunLog", "Run", "FetchEntry",
           "STORED", "NOT_MODIFIED", "DISCOVERED", "REJECTED", "FAILED", "SKIPPED"]
