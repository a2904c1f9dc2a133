"""`newsmon alerts`'s use case: the alert history of the store, read without the run lock (it
writes nothing) and without creating a store that is not there."""
from __future__ import annotations

from datetime import datetime

from newsmon.alerts.history import HistoryItem, history, rule_ids
from newsmon.app.settings import Settings
from newsmon.index.core.errors import ConfigError
from newsmon.index.store import open_store


def alert_history(settings: Settings, *, rule: str | None = None,
                  since: datetime | None = None, limit: int = 50) -> list[HistoryItem]:
    """The newest alerts, newest first; ``rule`` must be configured or have alerted before."""
    path = settings.data.store_path
    if settings.data.store == "sqlite" and not path.exists():
        raise ConfigError(f"no store at {path} yet: run `newsmon crawl` (or `newsmon demo`)")
    with open_store(settings) as store:
        if rule is not None:
            known = rule_ids(store, settings)
            if rule not in known:
                raise ConfigError(f"--rule {rule!r}: no such rule in {settings.alerts.rules} "
                                  f"nor in the store's alerts; rules: "
                                  f"{', '.join(known) or '(none)'}")
        return history(store, rule=rule, since=since, limit=limit)


__all__ = ["alert_history"]
