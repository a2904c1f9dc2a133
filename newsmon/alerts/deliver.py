"""Delivery: send every pending outbox row, each channel on its own.

A delivery is tried ``1 + [alerts].retries`` times inside a run with exponential backoff
(``retry_backoff`` seconds, doubling). Still failing, it counts one failed attempt and waits for
the next run; after ``max_attempts`` failed runs it is parked (shown by `newsmon status`,
resent by `newsmon alert --retry`). A channel that failed in this run is not tried again for
the run's other alerts (they stay pending, their attempts unchanged), so one dead webhook
costs one timeout per run, not one per alert, and never holds up the other channels.

Several processes may deliver from one PostgreSQL store at once (`newsmon alert` or `run` on
two machines, alert workers): each delivery is sent by the one process that claims it while it
is still pending (AlertRepo.claim), so two never send the same row; the others pass over it.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any

from newsmon.alerts.channels import send
from newsmon.alerts.render import render, zone
from newsmon.alerts.rules import Channel
from newsmon.index.core.errors import DeliveryError
from newsmon.index.core.settings import Settings
from newsmon.index.store.repos.alerts import PARKED, AlertRepo, Delivery

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DeliveryStats:
    delivered: int = 0
    failed: int = 0      # failed this run, will be retried next run
    parked: int = 0      # failed for the max_attempts-th run this run: parked
    deferred: int = 0    # not tried: their channel already failed this run
    errors: dict[str, str] = field(default_factory=dict)   # channel -> last error
    # channel -> {"pending": n, "parked": n}: what a failed channel left in the outbox
    left: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "failed": self.failed, "parked": self.parked,
                "deferred": self.deferred, "errors": dict(self.errors),
                "left": {k: dict(v) for k, v in self.left.items()}}

    def leave(self, channel: str, state: str) -> None:
        counts = self.left.setdefault(channel, {"pending": 0, "parked": 0})
        counts[state] += 1


def deliver_pending(settings: Settings, repo: AlertRepo, *, rule: str | None = None,
                    env: Mapping[str, str] | None = None,
                    sleep: Callable[[float], None] = time.sleep) -> DeliveryStats:
    cfg = settings.alerts
    tz = zone(cfg.timezone, settings.display.timezone)
    stats = DeliveryStats()
    broken: set[str] = set()
    data_dir = Path(settings.data.dir)
    for delivery in repo.deliveries(rule=rule):
        if delivery.channel in broken:
            stats.deferred += 1
            stats.leave(delivery.channel, "pending")
            continue
        with repo.claim(delivery) as mine:
            if mine:
                _deliver(settings, repo, delivery, stats, broken, env=env, sleep=sleep,
                         tz=tz, data_dir=data_dir)
    return stats


def _deliver(settings: Settings, repo: AlertRepo, delivery: Delivery, stats: DeliveryStats,
             broken: set[str], *, env: Mapping[str, str] | None,
             sleep: Callable[[float], None], tz: tzinfo, data_dir: Path) -> None:
    """Send one claimed delivery with its tries; record it sent, failed or parked."""
    cfg = settings.alerts
    channel = Channel.from_spec(delivery.spec)
    message = render(delivery.payload, delivery.idempotency_key, tz)
    history = None
    if channel.type == "feed":
        def history(d: Delivery = delivery) -> list[dict[str, Any]]:
            return repo.feed_alerts(channel=d.channel, including=d.id,
                                    limit=cfg.feed_entries)
    error: DeliveryError | None = None
    for attempt in range(cfg.retries + 1):
        if attempt:
            sleep(cfg.retry_backoff * 2 ** (attempt - 1))
        try:
            send(channel, message, settings=cfg, data_dir=data_dir, env=env,
                 history=history, tz=tz)
        except DeliveryError as exc:
            error = exc
            log.warning("delivery %s to %s failed (try %d of %d): %s", delivery.alert_key,
                        delivery.channel, attempt + 1, cfg.retries + 1, exc)
            if exc.reason == "not_configured":
                break  # an unset variable will not set itself between tries
            continue
        error = None
        break
    if error is None:
        repo.mark_sent(delivery.id)
        stats.delivered += 1
        return
    broken.add(delivery.channel)
    stats.errors[delivery.channel] = str(error)
    state = repo.mark_failed(delivery.id, f"{error.reason}: {error}",
                             max_attempts=cfg.max_attempts)
    stats.leave(delivery.channel, "parked" if state == PARKED else "pending")
    if state == PARKED:
        stats.parked += 1
        log.error("delivery %s to %s parked after %d failed runs: %s; resend with "
                  "`newsmon alert --retry`", delivery.alert_key, delivery.channel,
                  cfg.max_attempts, error)
    else:
        stats.failed += 1


__all__ = ["deliver_pending", "DeliveryStats"]
