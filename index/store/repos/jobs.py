"""procrastinate's job queue, seen from the store (PostgreSQL only): its schema, deferring a job
inside the store's own transaction, and the counts `newsmon status` shows.

Why a job is deferred here and not through procrastinate's App: the job must commit with the
data that causes it (a crawl batch and its enrich job), and procrastinate's connectors own their
connections. ``procrastinate_defer_jobs_v1`` is the SQL function procrastinate itself calls to
defer, so a job inserted here is the same row, and its insert trigger wakes the workers (NOTIFY).

A ``queueing_lock`` keeps one pending ("todo") job per key: deferring a second while one waits
is a no-op that returns None, so "enrich what is pending" is queued once however many batches
ask for it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from newsmon.index.core.errors import StoreError
from newsmon.index.store.repos import Repo

# one transaction-level advisory lock key: two workers starting at once apply the schema once
_SCHEMA_LOCK = 0x6E65_7773_6D6F_6E  # "newsmon"


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One job to defer: procrastinate's task name and queue, its locks and its arguments."""

    task: str
    queue: str
    args: dict[str, Any]
    lock: str | None = None
    queueing_lock: str | None = None
    priority: int = 0


class JobRepo(Repo):
    """procrastinate's tables in the store's database (see the module doc)."""

    def schema_present(self) -> bool:
        row = self._db.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
        return bool(row[0])

    def ensure_schema(self, schema_sql: str) -> bool:
        """Apply procrastinate's schema (``schema_sql``, its own file) unless it is there;
        returns whether it was applied. Under an advisory lock, so concurrent starts are safe."""
        with self._tx() as db:
            db.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
            if self.schema_present():
                return False
            # many statements and no parameters: psycopg takes the script as it is (only the
            # PostgreSQL adapter has raw(); its execute would turn every % into %%)
            raw = getattr(db, "raw", None)
            if raw is None:
                raise StoreError(f"store {self._store.location} cannot hold the job queue")
            raw().execute(schema_sql)
            return True

    def defer(self, job: JobSpec) -> int | None:
        """Insert ``job`` in the current transaction (or its own); returns its id, or None
        when a job with its queueing lock is already waiting."""
        sql = """SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[
                     ROW(?, ?, ?, ?, ?, ?::jsonb, NULL::timestamptz)
                 ]::procrastinate_job_to_defer_v1[]))
                 WHERE ?::text IS NULL OR NOT EXISTS (
                     SELECT 1 FROM procrastinate_jobs WHERE queueing_lock = ? AND status = 'todo')"""
        params = (job.queue, job.task, job.priority, job.lock, job.queueing_lock,
                  json.dumps(job.args, sort_keys=True), job.queueing_lock, job.queueing_lock)
        try:
            # a savepoint: a concurrent defer of the same queueing lock fails only this insert
            with self._tx() as db:
                row = db.execute(sql, params).fetchone()
        except StoreError as exc:
            if job.queueing_lock is not None and _unique_violation(exc):
                return None
            raise
        return int(row[0]) if row is not None else None

    def depth(self) -> dict[str, dict[str, int]]:
        """queue -> {"todo": n, "doing": n} for the jobs waiting or running."""
        out: dict[str, dict[str, int]] = {}
        for r in self._db.execute(
                """SELECT queue_name, status::text, COUNT(*) FROM procrastinate_jobs
                   WHERE status IN ('todo', 'doing') GROUP BY queue_name, status"""):
            out.setdefault(r[0], {"todo": 0, "doing": 0})[r[1]] = int(r[2])
        return out

    def running(self, stalled_after: float) -> list[dict[str, Any]]:
        """The jobs running now, each with whether its worker's heartbeat lapsed (stalled:
        the stalled-job check retries it)."""
        rows = self._db.execute(
            """SELECT j.id, j.queue_name, j.task_name, j.args, j.lock, j.attempts,
                      w.id IS NULL OR w.last_heartbeat < NOW() - make_interval(secs => ?)
                        AS stalled,
                      (SELECT MAX(e.at) FROM procrastinate_events e
                        WHERE e.job_id = j.id AND e.type = 'started') AS started_at
               FROM procrastinate_jobs j
               LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
               WHERE j.status = 'doing' ORDER BY j.id""", (stalled_after,))
        return [{"id": int(r[0]), "queue": r[1], "task": r[2], "args": r[3], "lock": r[4],
                 "attempts": int(r[5]), "stalled": bool(r[6]),
                 "started_at": r[7].isoformat() if r[7] is not None else None} for r in rows]

    def workers(self, stalled_after: float) -> int:
        """Workers whose heartbeat is fresh."""
        row = self._db.execute(
            """SELECT COUNT(*) FROM procrastinate_workers
               WHERE last_heartbeat >= NOW() - make_interval(secs => ?)""",
            (stalled_after,)).fetchone()
        return int(row[0])

    def shard_lag(self, task: str) -> dict[int, dict[str, Any]]:
        """shard -> the oldest due crawl job of ``task`` (waiting since, seconds) and when the
        shard's last crawl finished; shards are read from the jobs' ``shard`` argument."""
        out: dict[int, dict[str, Any]] = {}
        for r in self._db.execute(
                """SELECT (j.args->>'shard')::int, MIN(COALESCE(j.scheduled_at, e.at)),
                          EXTRACT(EPOCH FROM NOW() - MIN(COALESCE(j.scheduled_at, e.at)))
                   FROM procrastinate_jobs j
                   JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred'
                   WHERE j.task_name = ? AND j.status = 'todo' AND j.args->>'shard' IS NOT NULL
                   GROUP BY 1""", (task,)):
            out[int(r[0])] = {"due_since": r[1].isoformat(), "lag_s": max(0.0, float(r[2])),
                              "last_crawl": None}
        for r in self._db.execute(
                """SELECT (j.args->>'shard')::int, MAX(e.at)
                   FROM procrastinate_jobs j
                   JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'succeeded'
                   WHERE j.task_name = ? AND j.args->>'shard' IS NOT NULL GROUP BY 1""", (task,)):
            entry = out.setdefault(int(r[0]), {"due_since": None, "lag_s": 0.0,
                                               "last_crawl": None})
            entry["last_crawl"] = r[1].isoformat()
        return dict(sorted(out.items()))


def _unique_violation(exc: StoreError) -> bool:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) == "23505"


__all__ = ["JobRepo", "JobSpec"]
