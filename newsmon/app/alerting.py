"""`newsmon alert`'s use case: the alert stage under the run lock, or a dry run that needs
neither the lock nor a run record since it writes and sends nothing."""
from __future__ import annotations

from newsmon.alerts import explain, run_alerts
from newsmon.alerts.evaluate import Explained
from newsmon.alerts.service import AlertOutcome
from newsmon.app.pipeline import run
from newsmon.app.settings import Settings
from newsmon.index.store import open_store


def alert(settings: Settings, *, dry_run: bool = False, rule: str | None = None,
          retry: bool = False, backfill: bool = False) -> AlertOutcome:
    if dry_run:
        with open_store(settings) as store:
            return run_alerts(settings, store, dry_run=True, backfill=backfill, rule=rule)
    result = run(settings, command="alert", stages=("alert",), options={
        "alert": {"retry": retry, "backfill": backfill, "rule": rule}})
    return AlertOutcome.from_dict(result.steps[0].stats)


def explain_rule(settings: Settings, rule: str, *, backfill: bool = False) -> list[Explained]:
    """`newsmon alert --explain RULE`: writes nothing, so it needs no lock."""
    with open_store(settings) as store:
        return explain(settings, store, rule, backfill=backfill)


__all__ = ["alert", "explain_rule"]
