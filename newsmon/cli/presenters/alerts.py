"""The text of `newsmon alerts`."""
from __future__ import annotations

from datetime import tzinfo

from newsmon.alerts.history import DeliveryState, HistoryItem
from newsmon.alerts.render import local_time, zone


def _delivery(d: DeliveryState, tz: tzinfo) -> str:
    if d["state"] == "sent":
        return f"{d['channel']}: sent {local_time(d['sent_at'], tz)}"
    tries = f", {d['attempts']} failed run{'s' if d['attempts'] != 1 else ''}" \
        if d["attempts"] else ""
    error = f" ({d['last_error']})" if d["last_error"] else ""
    return f"{d['channel']}: {d['state']}{tries}{error}"


def history_text(items: list[HistoryItem], timezone: str) -> str:
    if not items:
        return "no alerts sent yet (a rule's first run records a silent baseline)"
    tz = zone(timezone)
    lines = []
    for item in items:
        lines.append(f"{local_time(item['created_at'], tz)}  [{item['rule']}] {item['kind']}: "
                     f"{item['title']}")
        meta = " · ".join(str(v) for v in (item["source"], item["lang"], item["url"]) if v)
        if meta:
            lines.append(f"    {meta}")
        if item["deliveries"]:
            lines += [f"    -> {_delivery(d, tz)}" for d in item["deliveries"]]
        else:
            lines.append("    -> no delivery of its own (sent in the rule's digest)")
    return "\n".join(lines)


__all__ = ["history_text"]
