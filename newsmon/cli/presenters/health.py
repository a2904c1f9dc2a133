"""Per-source health as text: one line a source, and its last error (URL, reason, what the
reason means) below it — for `run`'s summary, `newsmon status` and `newsmon sources list`."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from newsmon.index.core import reasons

STATE_LABEL = {"ok": "ok", "degraded": "degraded", "failing": "FAILING",
               "not reached": "not reached", "never crawled": "never crawled",
               "disabled": "disabled"}


def error_line(err: dict[str, Any]) -> str:
    status = f" (HTTP {err['http_status']})" if err.get("http_status") and \
        not str(err.get("reason", "")).startswith("http_") else ""
    detail = f"; {err['detail']}" if err.get("detail") and err.get("reason") in (
        reasons.NOT_A_FEED, reasons.NOT_A_SITEMAP, reasons.BAD_FEED, reasons.BAD_SITEMAP) else ""
    return (f"last error {err.get('at') or '-'}: {err.get('kind')} {err.get('url')}: "
            f"{err.get('reason')}{status} — {reasons.describe(str(err.get('reason')))}{detail}")


def health_line(h: dict[str, Any], width: int = 12) -> list[str]:
    """A source's health (SourceHealth.as_dict(), or one with only ``source`` and ``state``):
    its state and counts, then its last error, indented."""
    state = h.get("state") or "never crawled"
    parts: list[str] = []
    if "articles" in h:
        parts.append(f"articles {h['articles']}")
    if h.get("last_crawl_at"):
        parts.append(f"listings ok {h.get('listings_ok', 0)}, failed "
                     f"{h.get('listings_failed', 0)}")
        if h.get("pages_failed"):
            parts.append(f"pages failed {h['pages_failed']}")
        if "stored" in h and "articles" not in h:
            parts.append(f"stored {h['stored']}")
        parts.append(f"last success {h.get('last_success_at') or 'never'}")
    if h.get("consecutive_failures"):
        n = h["consecutive_failures"]
        parts.append(f"every listing failed in the last {n} crawl run{'s' if n > 1 else ''}")
    label = STATE_LABEL.get(state, state)
    lines = [f"  {h['source']:<{width}} {label:<9} " + ", ".join(parts)]
    if h.get("last_error"):
        lines.append(f"  {'':<{width}} {error_line(h['last_error'])}")
    return lines


def health_lines(healths: Iterable[dict[str, Any]]) -> list[str]:
    rows = list(healths)
    width = max((len(h["source"]) for h in rows), default=8)
    return [line for h in rows for line in health_line(h, width)]


__all__ = ["health_line", "health_lines", "error_line"]
