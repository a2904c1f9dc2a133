"""`run` and the one-stage commands: stages chained under one lock, one run record, a step each.

``run(settings, command="run")`` takes the run lock (an overlapping run raises LockHeld, exit 3,
before it opens the store or changes anything), opens the store, marks the runs of processes
that died running (kill -9) as interrupted, records a run with this pid and host, then runs the
stages in order, each recorded as a step (counts, duration, exit code). `newsmon crawl` and
`newsmon enrich` are the same call with one stage, so the lock has one owner per process and no
stage ever takes it itself.

Every stage resumes: the crawl never refetches a stored URL and keeps feed validators, enrich
takes what is pending, so a run killed at any point is completed by the next one.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from newsmon.app import stages as _stages
from newsmon.app.lock import RunLock, WorkersCrawl
from newsmon.app.outcome import RunOutcome, StageOutcome
from newsmon.app.progress import ProgressView, StageProgress
from newsmon.app.settings import Settings
from newsmon.crawler.sources import Source, load_sources, select_sources
from newsmon.index.core.errors import ConfigError
from newsmon.index.store import RUN_FAILED, StoreBase, store_exists
from newsmon.index.store import open_store as open_configured_store
from newsmon.index.store.repos.runs import RunRepo

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StageSpec:
    name: str
    call: Callable[..., StageOutcome]
    rate_key: str              # the counter whose rate the progress view shows
    total_key: str | None      # the counter holding the amount of work, when known
    needs_sources: bool = False


STAGES: dict[str, StageSpec] = {
    spec.name: spec for spec in (
        StageSpec("crawl", _stages.crawl, "fetched", None, needs_sources=True),
        StageSpec("enrich", _stages.enrich, "enriched", "pending"),
        StageSpec("index", _stages.index, "indexed", "of"),
        StageSpec("alert", _stages.alert, "delivered", None),
    )
}
# what `newsmon run` does, in order
PIPELINE: tuple[str, ...] = tuple(STAGES)


def crawl_sources(settings: Settings, source_ids: Sequence[str] = ()) -> list[Source]:
    """The enabled sources to crawl (all, or those named); ConfigError when there are none."""
    sources = select_sources(load_sources(settings.crawl.sources), list(source_ids))
    if not sources:
        raise ConfigError(f"{settings.crawl.sources}: no enabled sources to crawl")
    return sources


def open_store(settings: Settings) -> StoreBase:
    """The store the settings name (SQLite file or PostgreSQL database), migrated."""
    return open_configured_store(settings)


def run(settings: Settings, *, command: str = "run", stages: Sequence[str] = PIPELINE,
        source_ids: Sequence[str] = (), options: Mapping[str, Mapping[str, Any]] | None = None,
        view: ProgressView | None = None) -> RunOutcome:
    """Run ``stages`` in order under the run lock; returns the outcome of each.

    ``options`` gives a stage keyword arguments of its own (``{"index": {"rebuild": True}}``).

    Raises ConfigError (bad settings or sources: nothing started), LockHeld (another run holds
    the lock: nothing changed), or whatever stopped a stage (recorded on the run first).
    """
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ConfigError(f"unknown stage(s) {', '.join(unknown)}; known: {', '.join(STAGES)}")
    specs = [STAGES[s] for s in stages]
    # configuration is checked before the lock: a bad file exits 2 without touching anything
    sources = crawl_sources(settings, source_ids) if any(s.needs_sources for s in specs) else []
    view = view or ProgressView()
    started = time.monotonic()
    with RunLock(settings.data.lock_path, command), open_store(settings) as store:
        if any(s.needs_sources for s in specs):
            _refuse_beside_workers(settings, store)
        records = store.runs
        interrupted = records.mark_interrupted()
        if interrupted:
            log.warning("runs %s were left running by a process that is gone (killed?): marked "
                        "interrupted; this run completes their work",
                        ", ".join(map(str, interrupted)))
        if command == "run":
            # once a day cron's run checks the store: a damaged page otherwise goes unnoticed
            # until a query reads it (exit 5, the damaged tables named)
            from newsmon.app.maintenance import check_if_due

            check_if_due(store)
        run_id = records.start(command)
        outcome = RunOutcome(run_id, command, interrupted_runs=interrupted)
        # before anything is stored: a rule added since the last run has as its baseline what
        # was stored before, and alerts on what this run brings
        from newsmon.alerts import see_rules
        see_rules(settings, store)
        try:
            with view:
                for spec in specs:
                    outcome.steps.append(_run_step(spec, settings, store, records, run_id,
                                                   view, sources,
                                                   dict((options or {}).get(spec.name, {}))))
        except BaseException as exc:
            _record_quietly(records.finish, run_id, RUN_FAILED, _error(exc))
            raise
        outcome.elapsed_s = round(time.monotonic() - started, 2)
        stats: dict[str, Any] = (outcome.steps[0].stats if len(outcome.steps) == 1
                                 else {s.stage: s.stats for s in outcome.steps})
        records.finish(run_id, outcome.status, stats)
        return outcome


def _refuse_beside_workers(settings: Settings, store: StoreBase) -> None:
    """WorkersCrawl (exit 3, nothing changed) when workers are live on the store's job queue:
    this crawl would take none of their shard locks (newsmon.app.lock.WorkersCrawl)."""
    from newsmon.index.store.postgres import PgStore

    if not isinstance(store, PgStore) or not store.jobs.schema_present():
        return
    live = store.jobs.workers(settings.worker.stalled_after)
    if live:
        raise WorkersCrawl(live, settings.worker.stalled_after)


def _run_step(spec: StageSpec, settings: Settings, store: StoreBase, records: RunRepo,
              run_id: int, view: ProgressView, sources: list[Source],
              kwargs: dict[str, Any]) -> StageOutcome:
    records.start_step(run_id, spec.name)
    started = time.monotonic()
    if spec.needs_sources:
        kwargs["sources"] = sources
    try:
        progress: StageProgress
        with view.stage(spec.name, rate_key=spec.rate_key, total_key=spec.total_key) as progress:
            step = spec.call(settings, store, run_id=run_id, progress=progress, **kwargs)
    except BaseException as exc:
        _record_quietly(records.finish_step, run_id, spec.name, status=RUN_FAILED,
                        duration_s=time.monotonic() - started, exit_code=None,
                        counts=_error(exc))
        raise
    records.finish_step(run_id, spec.name, status=step.status, duration_s=step.elapsed_s,
                        exit_code=step.exit_code, counts=step.stats)
    log.info("%s (run %d): %s in %.1fs", spec.name, run_id, step.status, step.elapsed_s)
    return step


def _error(exc: BaseException) -> dict[str, str]:
    return {"error": str(exc) or type(exc).__name__,
            "reason": getattr(exc, "reason", type(exc).__name__)}


def _record_quietly(record: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """Record a failure if the store still lets us; the original error is what matters."""
    try:
        record(*args, **kwargs)
    except (sqlite3.Error, OSError) as exc:
        log.warning("could not record the failure in the store: %s", exc)


__all__ = ["run", "PIPELINE", "STAGES", "StageSpec", "crawl_sources", "open_store", "store_exists"]
