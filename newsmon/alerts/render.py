"""How an alert reads: one subject, a plain-text body, an HTML body and a Slack-compatible text.

Every channel renders from the alert's stored payload, so a retry sends exactly what was
decided. Titles and text stay as published (Japanese intact); times are shown in the configured
zone ([alerts] timezone, or this machine's).
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from newsmon.index.core.times import parse_iso
from newsmon.index.core.times import zone as _zone
from newsmon.index.core.titles import display_title

LANG_NAMES = {"en": "English", "ja": "Japanese (日本語)"}


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    text: str          # plain text (stdout, email text part, Apprise)
    html: str          # email HTML part
    slack: str         # Slack mrkdwn: *bold*, <url|label>
    payload: dict[str, Any]
    idempotency_key: str


def zone(name: str, fallback: str = "") -> tzinfo:
    """The zone alerts show times in: [alerts] timezone, else ``fallback`` ([display] timezone),
    else this machine's local zone."""
    if name:
        return _zone(name, "[alerts].timezone")
    return _zone(fallback, "[display].timezone")


def local_time(value: str | None, tz: tzinfo) -> str:
    if not value:
        return "time unknown"
    try:
        when = parse_iso(value)
    except ValueError:
        return value
    assert when is not None
    local = when.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or local.strftime("%z"))


def slack_escape(text: object) -> str:
    """Text as Slack shows it literally: its three control characters escaped, so that no
    piece of an article (a title, a quoted passage, a source name) can mention <!channel>,
    <@someone> or make a link of its own."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_link(url: object, label: object) -> str:
    """<url|label>, both escaped: the URL's "|" and ">" percent-encoded, the label as text."""
    href = str(url or "").replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return f"<{href}|{slack_escape(label)}>"


def _badges(topics: dict[str, Any]) -> list[str]:
    out = []
    for name, info in sorted((topics or {}).items()):
        if isinstance(info, dict) and not info.get("label"):
            continue
        score = info.get("score") if isinstance(info, dict) else info
        out.append(f"{name} {score:.2f}" if isinstance(score, (int, float)) else name)
    return out


def why_lines(why: dict[str, Any]) -> list[str]:
    """An alert's "why" as lines: matched terms, the closest passage, each topic's evidence."""
    lines = []
    if why.get("terms"):
        lines.append("matched: " + ", ".join(map(str, why["terms"])))
    if why.get("passage"):
        lines.append(f"closest passage: “{why['passage']}”")
    for name, info in sorted((why.get("topics") or {}).items()):
        evidence = ", ".join(dict.fromkeys(str(e) for e in info.get("evidence", [])))
        lines.append(f"topic {name} {info.get('score', 0):.2f}"
                     + (f" (evidence: {evidence})" if evidence else ""))
    return lines


def _article_block(item: dict[str, Any], tz: tzinfo) -> tuple[list[str], list[str], list[str]]:
    """(text lines, html parts, slack lines) for one matched article with its why and also."""
    art = item["article"]
    title = display_title(art.get("title")) or "(no title)"
    link = art.get("canonical_url") or art.get("url") or ""  # not the feed's utm_ variant
    badges = _badges(art.get("topics") or {})
    lang = LANG_NAMES.get(art.get("lang") or "", art.get("lang") or "unknown language")
    when = local_time(art.get("published"), tz)
    meta = f"{art.get('source')} · {lang} · {when}"
    why = why_lines(item.get("why") or {})
    also = item.get("also") or []
    text = [title, meta]
    if badges:
        text.append("topics: " + " · ".join(badges))
    text += [f"why: {w}" for w in why]
    text.append(link)
    if also:
        text.append("also covered by:")
        text += [f"  - {display_title(a.get('title'))} ({a.get('source')}, {a.get('lang')}) "
                 f"{a.get('url')}" for a in also]
    e = html.escape
    parts = [f'<h2 style="margin:0 0 4px"><a href="{e(link)}">'
             f'{e(title)}</a></h2>',
             f'<p style="margin:0;color:#555">{e(meta)}</p>']
    if badges:
        parts.append("<p>" + " ".join(
            f'<span style="background:#e8eef7;border-radius:3px;padding:1px 6px;'
            f'margin-right:4px">{e(b)}</span>' for b in badges) + "</p>")
    if why:
        parts.append("<ul>" + "".join(f"<li>{e(w)}</li>" for w in why) + "</ul>")
    if also:
        parts.append("<p>Also covered by:</p><ul>" + "".join(
            f'<li><a href="{e(a.get("url") or "")}">{e(display_title(a.get("title")))}</a> '
            f'({e(str(a.get("source")))}, {e(str(a.get("lang")))})</li>' for a in also)
            + "</ul>")
    slack = [f"*{slack_link(link, title)}*", slack_escape(meta)]
    if badges:
        slack.append(" ".join(f"`{slack_escape(b)}`" for b in badges))
    slack += [f"> {slack_escape(w)}" for w in why]
    if also:
        slack.append("also covered by: " + ", ".join(
            slack_link(a.get("url"), f"{a.get('source')} ({a.get('lang')})") for a in also))
    return text, parts, slack


def render(payload: dict[str, Any], idempotency_key: str, tz: tzinfo) -> Message:
    kind = payload.get("type", "match")
    if kind in ("health", "recovery"):
        verb = {"failing": "is failing", "silent": "has gone silent"}.get(
            payload.get("condition", ""), "has a problem")
        head = (f"source {payload['source']} {verb}" if kind == "health"
                else f"source {payload['source']} has recovered")
        lines = [head, payload.get("detail") or "",
                 f"since {local_time(payload.get('since'), tz)}"]
        text = "\n".join(line for line in lines if line)
        subject = f"[newsmon] {head}"
        body_html = "".join(f"<p>{html.escape(line)}</p>" for line in lines if line)
        return Message(subject, text, f"<html><body>{body_html}</body></html>",
                       "*" + slack_escape(head) + "*\n"
                       + "\n".join(slack_escape(line) for line in lines[1:]),
                       payload, idempotency_key)
    items = payload["items"] if kind == "digest" else [payload]
    rule = payload.get("rule", "")
    text_lines: list[str] = []
    html_parts: list[str] = []
    slack_lines: list[str] = []
    header = (f"newsmon: {len(items)} new stor{'y' if len(items) == 1 else 'ies'} for rule "
              f"{rule}" if kind == "digest" else f"newsmon alert for rule {rule}")
    if payload.get("rule_description"):
        header += f" ({payload['rule_description']})"
    text_lines.append(header)
    slack_lines.append(slack_escape(header))
    for item in items:
        t, h, s = _article_block(item, tz)
        text_lines += [""] + t
        html_parts.append('<div style="margin:12px 0">' + "".join(h) + "</div>")
        slack_lines += [""] + s
    updates = payload.get("updates") or []
    if updates:
        text_lines += ["", "new coverage of stories already alerted:"]
        text_lines += [f"  - {display_title(u.get('title'))} ({u.get('source')}, {u.get('lang')}) "
                       f"{u.get('url')}" for u in updates]
        html_parts.append("<p>New coverage of stories already alerted:</p><ul>" + "".join(
            f'<li><a href="{html.escape(u.get("url") or "")}">'
            f'{html.escape(display_title(u.get("title")))}</a></li>' for u in updates) + "</ul>")
        slack_lines.append("new coverage of stories already alerted: " + ", ".join(
            slack_link(u.get("url"), f"{u.get('source')} ({u.get('lang')})") for u in updates))
    text_lines += ["", f"idempotency key: {idempotency_key}"]
    if kind == "digest":
        subject = f"{header.split(' (')[0]}"
    else:
        subject = f"{display_title(items[0]['article'].get('title')) or '(no title)'} [{rule}]"
    body_html = (f'<html><body style="font-family:sans-serif"><p>{html.escape(header)}</p>'
                 + "".join(html_parts)
                 + f'<p style="color:#999;font-size:small">idempotency key: '
                   f'{html.escape(idempotency_key)}</p></body></html>')
    return Message(subject, "\n".join(text_lines), body_html, "\n".join(slack_lines), payload,
                   idempotency_key)


__all__ = ["Message", "render", "zone", "local_time", "slack_escape", "slack_link", "why_lines"]
