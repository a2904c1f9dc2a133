"""Source health: one alert when a source starts failing or goes silent, one notice when it recovers.

Read from what the crawl already records:
- **failing**: in each of the source's last ``failed_runs`` crawl runs, every feed, sitemap and
  section fetch failed (fetch_log rows of kind feed/sitemap/section, none discovered or 304);
- **silent**: no new article stored for longer than ``silence_factor`` times the source's usual
  gap between articles (median gap of its newest 20 publication times), and at least
  ``min_silence_hours`` — a redesign or a moved feed that still answers 200 looks like this.

``source_health`` remembers what the user was last told, so a source failing for ten runs raises
one alert, and its recovery one notice (monitoring tools such as urlwatch and changedetection.io
are asked for exactly this: no alert per run).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from newsmon.alerts.rules import HealthConfig
from newsmon.index.core.times import parse_iso
from newsmon.index.store import StoreBase
from newsmon.index.store.repos.alerts import AlertRepo, NewAlert
from newsmon.index.store.repos.runs import ListingRun

LISTING_KINDS = ("feed", "sitemap", "section")
OK_OUTCOMES = ("discovered", "not_modified")
CADENCE_SAMPLE = 20
# the rule name health alerts and recovery notices are recorded under in the outbox
HEALTH_RULE = "health"


@dataclass(frozen=True, slots=True)
class SourceCondition:
    source: str
    condition: str            # ok | failing | silent
    since: str                # ISO instant the condition started
    detail: str


def assess(store: StoreBase, cfg: HealthConfig, now: datetime) -> list[SourceCondition]:
    """The condition of every source the crawl has recorded."""
    runs: dict[str, list[ListingRun]] = {}
    for listing in store.runs.listing_runs(LISTING_KINDS, OK_OUTCOMES):
        runs.setdefault(listing.source, []).append(listing)
    sources = set(runs) | store.frontier.stored_sources()
    out = []
    for source in sorted(sources):
        history = runs.get(source, [])
        streak = 0
        for listing in history:
            if listing.answered:
                break
            streak += 1
        if history and streak >= cfg.failed_runs:
            first = history[streak - 1]
            out.append(SourceCondition(
                source, "failing", first.first_at,
                f"every feed, sitemap and section fetch failed in the last {streak} crawl runs "
                f"(reasons: {first.reasons})"))
            continue
        silent = _silence(store, source, cfg, now)
        out.append(silent or SourceCondition(source, "ok", now.isoformat(timespec="seconds"),
                                             ""))
    return out


def _silence(store: StoreBase, source: str, cfg: HealthConfig,
             now: datetime) -> SourceCondition | None:
    last = store.frontier.last_stored(source)
    published = store.articles.recent_published(source, CADENCE_SAMPLE)
    last_new = parse_iso(last)
    if last_new is None or len(published) < 3:
        return None  # too little history to know the source's rhythm
    times = [parse_iso(p) for p in published]
    gaps = [(a - b).total_seconds() for a, b in zip(times, times[1:]) if a and b]
    usual = statistics.median(gaps) if gaps else 0.0
    allowed = max(timedelta(hours=cfg.min_silence_hours),
                  timedelta(seconds=usual * cfg.silence_factor))
    quiet = now - last_new
    if quiet <= allowed:
        return None
    return SourceCondition(
        source, "silent", last_new.isoformat(timespec="seconds"),
        f"no new article for {quiet.total_seconds() / 3600:.1f} h; usually one every "
        f"{usual / 3600:.1f} h (alert after {allowed.total_seconds() / 3600:.1f} h)")


def decide(repo: AlertRepo, conditions: list[SourceCondition], cfg: HealthConfig,
           now: datetime) -> tuple[list[NewAlert], list[SourceCondition]]:
    """Alerts for the sources whose condition changed since the user was last told.

    Returns the alerts and the conditions to record (written by the caller in its transaction).
    """
    known = repo.health()
    alerts: list[NewAlert] = []
    changed: list[SourceCondition] = []
    channels = {c.key: c.to_spec() for c in cfg.channels}
    stamp = now.isoformat(timespec="seconds")
    for cond in conditions:
        before = known.get(cond.source)
        was = before["condition"] if before else "ok"
        if cond.condition == was:
            continue
        changed.append(cond)
        if cond.condition == "ok":
            payload = {"type": "recovery", "source": cond.source, "condition": was,
                       "since": before["since"] if before else stamp,
                       "detail": f"{cond.source} works again (was {was})",
                       "alerted_at": stamp}
            key = f"health:{cond.source}:recovered:{payload['since']}"
            if not repo.has_alert(key):
                alerts.append(NewAlert(key=key, rule=HEALTH_RULE, kind="recovery",
                                       payload=payload, channels=channels))
        else:
            payload = {"type": "health", "source": cond.source, "condition": cond.condition,
                       "since": cond.since, "detail": cond.detail, "alerted_at": stamp}
            key = f"health:{cond.source}:{cond.condition}:{cond.since}"
            if not repo.has_alert(key):
                alerts.append(NewAlert(key=key, rule=HEALTH_RULE, kind="health", payload=payload,
                                       channels=channels))
    return alerts, changed


__all__ = ["assess", "decide", "SourceCondition", "HEALTH_RULE"]
