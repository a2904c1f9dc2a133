"""The alert use case: evaluate rules and source health, write the outbox, deliver.

``run_alerts(settings, store, ...)`` is what `newsmon alert` and the last stage of `newsmon run`
call. It takes no lock (its caller holds the run lock) and returns an ``AlertOutcome``.

Order of work, and why nothing is lost or sent twice:
1. per rule: decide (read-only), then one transaction writes the alerts, their articles, one
   pending delivery per channel and the rule's new watermark — a kill before the commit
   decides again next run, a kill after it finds the outbox rows;
2. source health, the same way (its state table in the same transaction as its alerts);
3. deliver every pending row (this run's and earlier runs' failures), each channel on its own;
   a kill between sending and recording resends once, with the same idempotency key.

Several processes on one PostgreSQL store (machines running `newsmon alert`, alert workers)
take turns per rule (AlertRepo.deciding): the second decides from the watermark the first moved,
so a story is decided once and nobody's insert fails on the unique key; and each delivery is
sent by the process that claims it (newsmon.alerts.deliver).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from newsmon.alerts import health as source_health
from newsmon.alerts.deliver import DeliveryStats, deliver_pending
from newsmon.alerts.evaluate import Explained, RuleSearch, RuleSummary, decide_rule, explain_rule
from newsmon.alerts.health import HEALTH_RULE
from newsmon.alerts.render import render, zone
from newsmon.alerts.rules import AlertConfig, Rule, load_rules
from newsmon.index.core.errors import ConfigError
from newsmon.index.core.settings import Settings
from newsmon.index.core.yamlfile import load_yaml
from newsmon.index.store import RUN_OK, RUN_PARTIAL, StoreBase
from newsmon.index.store.repos.alerts import NewAlert, idempotency_key

if TYPE_CHECKING:
    from newsmon.app.search import Searcher

log = logging.getLogger(__name__)


class WaitingRule(TypedDict):
    """A rule's summary while nothing is indexed yet (its baseline waits)."""

    waiting: Literal[True]
    baseline: bool
    watermark: int


class Preview(TypedDict):
    """What a dry run would send: one alert, rendered for its first channel."""

    rule: str
    kind: str
    key: str
    channels: list[str]
    subject: str
    text: str


class HealthState(TypedDict):
    condition: str
    since: str
    detail: str | None


class BaselineState(TypedDict):
    """When a rule was first seen and what its silent baseline holds."""

    first_seen_at: str
    baseline_at: str | None
    baseline_stories: int | None


class AlertStatus(TypedDict):
    """What `newsmon status` shows about alerts (and prints as JSON)."""

    deliveries: dict[str, dict[str, int]]
    parked: list[dict[str, Any]]
    rules: dict[str, int]
    baselines: dict[str, BaselineState]
    health: dict[str, HealthState]


@dataclass(slots=True)
class AlertOutcome:
    status: str = RUN_OK
    matched: int = 0      # articles the rules matched in what changed since their watermarks
    decided: int = 0
    baselines: int = 0    # stories recorded silently as rules' baselines
    delivered: int = 0
    failed: int = 0
    parked: int = 0
    deferred: int = 0
    per_rule: dict[str, RuleSummary | WaitingRule] = field(default_factory=dict)
    health: list[dict[str, Any]] = field(default_factory=list)    # the health alerts' payloads
    preview: list[Preview] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    # channel -> {"pending": n, "parked": n}: what each failed channel left in the outbox
    left: dict[str, dict[str, int]] = field(default_factory=dict)
    dry_run: bool = False
    elapsed_s: float = 0.0

    @property
    def exit_code(self) -> int:
        return 0 if self.status == RUN_OK else 1

    @property
    def pending(self) -> int:
        """Deliveries left pending by this run (failed, or not tried after their channel
        failed): retried next run."""
        return self.failed + self.deferred

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "dry_run": self.dry_run, "matched": self.matched,
                "decided": self.decided, "baselines": self.baselines,
                "delivered": self.delivered, "pending": self.pending, "failed": self.failed,
                "parked": self.parked, "deferred": self.deferred, "rules": self.per_rule,
                "health": self.health, "preview": self.preview, "errors": self.errors,
                "left": self.left, "elapsed_s": self.elapsed_s}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AlertOutcome:
        """The outcome back from ``to_dict`` (a run step's recorded counts)."""
        return cls(status=d["status"], matched=d["matched"], decided=d["decided"],
                   baselines=d["baselines"], delivered=d["delivered"],
                   failed=d["failed"], parked=d["parked"], deferred=d["deferred"],
                   per_rule=dict(d["rules"]), health=list(d["health"]),
                   preview=list(d["preview"]), errors=dict(d["errors"]),
                   left=dict(d["left"]),
                   dry_run=d["dry_run"], elapsed_s=d["elapsed_s"])

    def summary_text(self) -> str:
        head = "alert (dry run)" if self.dry_run else "alert"
        lines = [f"{head}: {self.status} in {self.elapsed_s:.1f}s: {self.matched} matched, "
                 f"{self.decided} new alerts, {self.delivered} delivered, {self.pending} "
                 f"pending (retried next run), {self.parked} parked, {self.baselines} "
                 f"baseline stories"]
        for rid, info in self.per_rule.items():
            if "waiting" in info:
                lines.append(f"  {rid}: waiting for the first indexed articles")
                continue
            what = "{alerts} alerts, {also} more coverage of stories already alerted"
            if info["baseline"] or info["baseline_stories"]:
                what = ("baseline: {baseline_stories} stories recorded without alerting "
                        "(stored before the rule was first seen; to send them: newsmon alert "
                        f"--backfill --rule {rid}); " + what)
            lines.append(f"  {rid}: {info['candidates']} changed articles, {info['matched']} "
                         f"matched; " + what.format(**info)
                         + f"; watermark {info['watermark']}")
        for h in self.health:
            lines.append(f"  health: {h['source']} {h['type']} ({h.get('condition')})")
        for channel, error in self.errors.items():
            lines.append(f"  {channel}: {error}")
        return "\n".join(lines)


def _topic_names(path: Path) -> set[str] | None:
    # imported here: a process that only delivers has no use for enrich's text analysis
    from newsmon.enrich.topics import topic_names

    try:
        return set(topic_names(path))  # a file extending the bundled one: its topics too
    except ConfigError:
        return None  # enrich reports a broken topics file itself


def _entity_ids(path: Path) -> set[str] | None:
    try:
        data = load_yaml(path, "gazetteer", reason="entities")
    except ConfigError:
        return None  # enrich reports a broken gazetteer itself
    entities = data.get("entities") if isinstance(data, dict) else None
    if not isinstance(entities, list):
        return None
    return {e["id"] for e in entities if isinstance(e, dict) and isinstance(e.get("id"), str)}


def load_config(settings: Settings) -> AlertConfig:
    """The alert rules named by ``[alerts] rules``, validated (topic names and entity ids
    included)."""
    return load_rules(settings.alerts.rules, known_topics=_topic_names(settings.enrich.topics),
                      known_entities=_entity_ids(settings.enrich.entities))


def _preview(alert: NewAlert, tz: tzinfo) -> Preview:
    keys = sorted((alert.channels or {"(baseline: none)": {}}).keys())
    message = render(alert.payload, idempotency_key(alert.key, keys[0]), tz)
    return {"rule": alert.rule, "kind": alert.kind, "key": alert.key, "channels": keys,
            "subject": message.subject, "text": message.text}


def see_rules(settings: Settings, store: StoreBase) -> list[str]:
    """Record the enabled rules this store has not seen yet as first seen now, before a run
    stores anything: their baseline is what was stored before this moment, so the articles
    this run brings alert. Returns the rules seen for the first time. A rules file that does
    not load is left to the alert stage to report."""
    try:
        cfg = load_config(settings)
    except ConfigError:
        return []
    new = store.alerts.see_rules([r.id for r in cfg.rules if r.enabled], store.changes.head())
    if new:
        log.info("alert rule(s) %s first seen: stories stored before now are their baseline",
                 ", ".join(new))
    return new


def run_alerts(settings: Settings, store: StoreBase, *, dry_run: bool = False, retry: bool = False,
               backfill: bool = False, rule: str | None = None, run_id: int | None = None,
               now: datetime | None = None, env: Mapping[str, str] | None = None,
               searcher: RuleSearch | None = None, health_only: bool = False) -> AlertOutcome:
    """Evaluate the rules (or the one named) and source health; deliver what is pending.
    ``health_only``: source health and its deliveries alone (a worker's health job; the rules
    have jobs of their own).

    Rules search through ``searcher``, or else through a ``Searcher`` over ``store`` itself,
    not a second StoreBase on the same file: that would be one more connection, migrated again
    and waiting on locks with the default busy timeout instead of the one ``store`` has."""
    started = time.monotonic()
    cfg = load_config(settings)
    if health_only and rule:
        raise ValueError("health_only evaluates no rule")
    rules = [] if health_only else [cfg.rule(rule)] if rule else [r for r in cfg.rules
                                                                 if r.enabled]
    repo = store.alerts
    now = now or datetime.now(UTC)
    tz = zone(settings.alerts.timezone, settings.display.timezone)
    outcome = AlertOutcome(dry_run=dry_run)
    if retry and not dry_run:
        unparked = repo.unpark(rule=HEALTH_RULE if health_only else rule)
        log.info("--retry: %d parked deliveries are pending again", unparked)
    # alert only on what the search backend has indexed: its cursor caps every rule's
    end = min(store.changes.head(), store.cursors.get(f"backend:{settings.index.backend}"))
    if not dry_run:
        # a rule no run has seen yet (run_alerts called alone) is first seen now
        repo.see_rules([r.id for r in rules], store.changes.head())
    own: Searcher | None = None

    def rule_search() -> RuleSearch:
        nonlocal searcher, own
        if searcher is None:
            from newsmon.app.search import Searcher
            searcher = own = Searcher(settings, store=store)
        return searcher

    try:
        for r in rules:
            # a dry run writes nothing, so it needs no turn; a real one decides alone: another
            # process on the same PostgreSQL store decides this rule before or after it, from
            # the watermark the other moved
            with nullcontext() if dry_run else repo.deciding(r.id):
                _decide(store, r, outcome, rule_search, end=end, dry_run=dry_run,
                        backfill=backfill, run_id=run_id, now=now, tz=tz)
    finally:
        if own is not None:
            own.close()
    if cfg.health.enabled and rule is None:
        conditions = source_health.assess(store, cfg.health, now)
        alerts, changed = source_health.decide(repo, conditions, cfg.health, now)
        outcome.health = [a.payload for a in alerts]
        if dry_run:
            outcome.preview += [_preview(a, tz) for a in alerts]
        elif changed:
            with store.transaction():
                ids = repo.record(alerts, run_id=run_id)
                by_source = {a.payload["source"]: i for a, i in zip(alerts, ids)}
                for cond in changed:
                    repo.set_health(cond.source, cond.condition, cond.since, cond.detail,
                                    by_source.get(cond.source))
            outcome.decided += len(alerts)
    if not dry_run:
        stats: DeliveryStats = deliver_pending(settings, repo, env=env,
                                               rule=HEALTH_RULE if health_only else rule)
        outcome.delivered, outcome.failed = stats.delivered, stats.failed
        outcome.parked, outcome.deferred = stats.parked, stats.deferred
        outcome.errors, outcome.left = stats.errors, stats.left
    if outcome.failed or outcome.parked or outcome.deferred:
        outcome.status = RUN_PARTIAL
    outcome.elapsed_s = round(time.monotonic() - started, 3)
    return outcome


def _decide(store: StoreBase, r: Rule, outcome: AlertOutcome,
            rule_search: Callable[[], RuleSearch], *, end: int, dry_run: bool, backfill: bool,
            run_id: int | None, now: datetime, tz: tzinfo) -> None:
    """Decide one rule up to ``end`` and record its alerts with its new watermark (one
    transaction), or preview them (``dry_run``). Reads the rule's cursor and first sight
    afresh: another process may have moved them while this one waited for its turn."""
    repo = store.alerts
    first = r.cursor not in store.cursors.all()
    if first and end == 0:
        outcome.per_rule[r.id] = {"waiting": True, "baseline": True, "watermark": 0}
        return  # nothing indexed yet: the baseline waits for the first articles
    rule_seen = repo.rules_seen().get(r.id)
    decision = decide_rule(r, store, repo, rule_search(), end=end, first=first,
                           backfill=backfill, now=now,
                           seen_at=(rule_seen.first_seen_seq if rule_seen
                                    else store.changes.head()))
    summary = decision.summary()
    outcome.per_rule[r.id] = summary
    outcome.matched += summary["matched"]
    if dry_run:
        outcome.preview += [_preview(a, tz) for a in decision.alerts]
        return
    with store.transaction():
        if backfill:
            repo.drop_baseline(r.id)
        repo.record(decision.alerts, also=decision.also, run_id=run_id)
        if decision.baseline or summary["baseline_stories"]:
            repo.add_baseline(r.id, summary["baseline_stories"])
        store.cursors.set(r.cursor, decision.watermark)
    outcome.decided += sum(a.kind in ("match", "digest") for a in decision.alerts)
    outcome.baselines += summary["baseline_stories"]


def explain(settings: Settings, store: StoreBase, rule: str, *, backfill: bool = False
            ) -> list[Explained]:
    """`newsmon alert --explain RULE`: every candidate of the rule's next run (``backfill``:
    every indexed article) with its relevance, evidence and the decision; writes nothing."""
    from newsmon.app.search import Searcher

    r = load_config(settings).rule(rule)
    end = min(store.changes.head(), store.cursors.get(f"backend:{settings.index.backend}"))
    with Searcher(settings, store=store) as searcher:
        return explain_rule(r, store, store.alerts, searcher, end=end, backfill=backfill)


def status(store: StoreBase) -> AlertStatus:
    """What `newsmon status` shows about alerts: deliveries per channel, parked ones, each
    rule's watermark, and the source-health states."""
    repo = store.alerts
    return {
        "deliveries": repo.delivery_counts(),
        "parked": repo.parked(),
        "rules": {name[len("rule:"):]: seq for name, seq in store.cursors.all().items()
                  if name.startswith("rule:")},
        "baselines": {r.rule: {"first_seen_at": r.first_seen_at, "baseline_at": r.baseline_at,
                               "baseline_stories": r.baseline_stories}
                      for r in repo.rules_seen().values()},
        "health": {s: {"condition": h["condition"], "since": h["since"], "detail": h["detail"]}
                   for s, h in repo.health().items()},
    }


def status_lines(st: AlertStatus) -> list[str]:
    """`newsmon status` lines for what ``status(store)`` returned."""
    lines = []
    if st["rules"] or st.get("baselines"):
        lines.append("alert rules (watermark in the change feed): " + (", ".join(
            f"{rule} {seq}" for rule, seq in sorted(st["rules"].items())) or "none evaluated"))
    for rule, b in sorted(st.get("baselines", {}).items()):
        if b["baseline_at"] is None:
            lines.append(f"  {rule}: first seen {b['first_seen_at']}, baseline not recorded "
                         "yet: the next `newsmon alert` (or `newsmon run`) records it once "
                         "articles are indexed")
        elif b["baseline_stories"]:
            lines.append(f"  {rule}: baseline recorded {b['baseline_at']}: "
                         f"{b['baseline_stories']} stories stored before the rule was first "
                         f"seen ({b['first_seen_at']}) were not sent; to send them: "
                         f"newsmon alert --backfill --rule {rule}")
    for channel, counts in sorted(st["deliveries"].items()):
        lines.append(f"deliveries to {channel}: " + ", ".join(
            f"{state} {counts[state]}" for state in ("sent", "pending", "parked")))
    for p in st["parked"]:
        lines.append(f"  parked: {p['alert_key']} -> {p['channel']} after {p['attempts']} "
                     f"failed runs ({p['last_error']}); resend with `newsmon alert --retry`")
    bad = {s: h for s, h in st["health"].items() if h["condition"] != "ok"}
    for source, h in sorted(bad.items()):
        lines.append(f"source {source}: {h['condition']} since {h['since']} ({h['detail']})")
    return lines


__all__ = ["run_alerts", "AlertOutcome", "status", "status_lines", "load_config", "see_rules",
           "explain"]
