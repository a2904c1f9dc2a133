"""One stage as one recorded run, the way a job runs it: a run record (``worker-STAGE``) with
its step, as `newsmon run` keeps, but without the run lock — that lock is a file on one machine,
and a worker's exclusion is its job's procrastinate lock, held in PostgreSQL for every machine."""
from __future__ import annotations

import logging
import time
from typing import Any

from newsmon.app.outcome import StageOutcome
from newsmon.app.pipeline import STAGES
from newsmon.app.settings import Settings
from newsmon.index.store import RUN_FAILED
from newsmon.index.store.base import StoreBase

log = logging.getLogger(__name__)


class StageFailed(RuntimeError):
    """A stage ended failed (its run is recorded so); raised so that procrastinate retries the
    job as its task's retry strategy says."""


def run_recorded(settings: Settings, store: StoreBase, stage: str, **kwargs: Any) -> StageOutcome:
    """Run ``stage`` on ``store`` under a run record of its own; returns its outcome and raises
    StageFailed when it failed (what stopped it, or a failed status)."""
    spec = STAGES[stage]
    records = store.runs
    run_id = records.start(f"worker-{stage}")
    records.start_step(run_id, stage)
    started = time.monotonic()
    try:
        step = spec.call(settings, store, run_id=run_id, **kwargs)
    except BaseException as exc:
        error = {"error": str(exc) or type(exc).__name__,
                 "reason": getattr(exc, "reason", type(exc).__name__)}
        records.finish_step(run_id, stage, status=RUN_FAILED,
                            duration_s=time.monotonic() - started, exit_code=None, counts=error)
        records.finish(run_id, RUN_FAILED, error)
        raise
    records.finish_step(run_id, stage, status=step.status, duration_s=step.elapsed_s,
                        exit_code=step.exit_code, counts=step.stats)
    records.finish(run_id, step.status, step.stats)
    log.info("%s (run %d): %s in %.1fs", stage, run_id, step.status, step.elapsed_s)
    if step.status == RUN_FAILED:
        raise StageFailed(f"{stage} (run {run_id}) failed: "
                          f"{step.stats.get('error') or step.stats}")
    return step


__all__ = ["run_recorded", "StageFailed"]
