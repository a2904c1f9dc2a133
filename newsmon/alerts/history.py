"""Alert history: what each rule sent, to which channel, when, and how the delivery went, read
from the outbox (`newsmon alerts`, the API's /api/alerts, the page's Alerts view). Baselines
are not listed: they were recorded, never sent."""
from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from newsmon.alerts.feed import entry_id
from newsmon.index.store import Store


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


def history(store: Store, *, rule: str | None = None, since: datetime | None = None,
            limit: int = 100) -> list[HistoryItem]:
    """The newest ``limit`` alerts (of ``rule``, decided at or after ``since``), newest first."""
    since_text = since.isoformat(timespec="seconds") if since is not None else None
    return [_item(row) for row in store.alerts.history(rule=rule, since=since_text,
                                                       limit=limit)]


__all__ = ["history", "HistoryItem", "DeliveryState"]
