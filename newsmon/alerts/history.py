"""Alert history: what each rule sent, to which channel, when, and how the delivery went, read
from the outbox (`newsmon alerts`, the API's /api/alerts, the page's Alerts view). Baselines
are not listed: they were recorded, never sent."""
from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from newsmon.alerts.feed import atom, entry_id, feed_id, newest
from newsmon.alerts.render import zone
from newsmon.alerts.service import load_config
from newsmon.index.core.errors import ConfigError
from newsmon.index.core.settings import Settings
from newsmon.index.store import StoreBase


class DeliveryState(TypedDict):
    channel: str
    state: str                    # pending, sent or parked
    attempts: int                 # failed runs so far
    sent_at: str | None
    last_attempt_at: str | None
    last_error: str | None


class HistoryItem(TypedDict):
    id: int
    key: str
    rule: str
    kind: str                     # match, digest, health or recovery
    created_at: str               # when the rule decided it (UTC)
    title: str
    url: str | None               # the story's canonical URL (a match)
    story: str | None
    source: str | None
    lang: str | None
    published: str | None
    score: float | None
    stories: int                  # stories the alert covers (a digest: several)
    entry_id: str | None          # the id of its entry in the Atom feeds (a match)
    deliveries: list[DeliveryState]


def _item(row: dict[str, Any]) -> HistoryItem:
    payload = row["payload"]
    kind = row["kind"]
    art = (payload.get("article") or {}) if kind == "match" else {}
    if kind == "match":
        title = str(art.get("title") or "(no title)")
        stories = 1
    elif kind == "digest":
        stories = len(payload.get("items") or [])
        updates = len(payload.get("updates") or [])
        title = f"digest: {stories} new stor{'y' if stories == 1 else 'ies'}" + (
            f", {updates} more coverage" if updates else "")
    else:
        verb = {"failing": "is failing", "silent": "has gone silent"}.get(
            str(payload.get("condition")), "has a problem")
        title = (f"source {payload.get('source')} {verb}" if kind == "health"
                 else f"source {payload.get('source')} has recovered")
        stories = 0
    return {
        "id": int(row["id"]), "key": str(row["key"]), "rule": str(row["rule"]), "kind": kind,
        "created_at": str(row["created_at"]), "title": title,
        "url": art.get("canonical_url") or art.get("url") or None,
        "story": row.get("story"), "source": art.get("source") or payload.get("source"),
        "lang": art.get("lang"), "published": art.get("published"),
        "score": row.get("score"), "stories": stories,
        "entry_id": entry_id(str(row["key"])) if kind == "match" else None,
        "deliveries": [DeliveryState(
            channel=d["channel"], state=d["state"], attempts=int(d["attempts"]),
            sent_at=d["sent_at"], last_attempt_at=d["last_attempt_at"],
            last_error=d["last_error"]) for d in row.get("deliveries") or []],
    }


def history(store: StoreBase, *, rule: str | None = None, since: datetime | None = None,
            limit: int = 100) -> list[HistoryItem]:
    """The newest ``limit`` alerts (of ``rule``, decided at or after ``since``), newest first."""
    since_text = since.isoformat(timespec="seconds") if since is not None else None
    return [_item(row) for row in store.alerts.history(rule=rule, since=since_text,
                                                       limit=limit)]


def rule_ids(store: StoreBase, settings: Settings) -> list[str]:
    """The rules there is a history or a feed of: those configured and those that alerted."""
    ids = set(store.alerts.alert_rules())
    try:
        ids |= {r.id for r in load_config(settings).rules}
    except ConfigError:
        pass  # a broken rules file must not hide what was sent
    return sorted(ids)


def served_feed(store: StoreBase, settings: Settings, rule: str | None, *,
                self_url: str | None = None, alternate: str | None = None) -> bytes:
    """The Atom feed `newsmon serve` answers: a rule's newest alerts (every rule's when
    ``rule`` is None), whatever channels they went to; the entry ids are the feed channel's."""
    limit = settings.alerts.feed_entries
    rows = store.alerts.feed_alerts(rule=rule, limit=limit)
    entries = newest(rows, zone(settings.alerts.timezone), limit)
    subtitle = next((str(r["payload"].get("rule_description")) for r in rows
                     if r["payload"].get("rule_description")), "")
    if rule is None:
        title, subtitle = "newsmon alerts: every rule", ", ".join(rule_ids(store, settings))
    else:
        title = f"newsmon alerts: {rule}"
    return atom(entries, id=feed_id(f"serve:{rule or '*'}"), title=title, subtitle=subtitle,
                self_url=self_url, alternate=alternate)


__all__ = ["history", "HistoryItem", "DeliveryState", "rule_ids", "served_feed"]
