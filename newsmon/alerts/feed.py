"""Atom 1.0 feeds of alerts (RFC 4287): the feed channel's files and `newsmon serve`'s
/feeds/alerts/<rule>.atom are the same document built from the store's alert history.

A feed is never appended to: every write rebuilds it from the newest ``[alerts] feed_entries``
alerts the store holds, so a crash, a retry or a second run cannot duplicate an entry, and a lost
file comes back whole at the next delivery. Each entry is one story a rule alerted on (a digest
gives one entry per story); its id is the alert's idempotency key for feeds, a function of the
alert's key alone (``rule:<rule>:story:<story>``), so the file, the served feed and every later
rebuild give a story the same id and a reader never shows it twice.

Files are replaced atomically: written to a temporary file in the same folder, flushed to disk,
then renamed over the old one, so a reader (or a kill -9 mid-write) sees the old feed or the new
one, never half of either.
"""
from __future__ import annotations

import html
import os
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from newsmon import __version__
from newsmon.alerts.render import LANG_NAMES, local_time, render, why_lines
from newsmon.index.core.errors import ConfigError
from newsmon.index.core.times import parse_iso
from newsmon.index.store.repos.alerts import idempotency_key

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
MEDIA_TYPE = "application/atom+xml"
TOPIC_SCHEME = "urn:newsmon:topic"
FEED_MODE = 0o644  # a feed is meant to be read (by a web server, a reader on this machine)

ET.register_namespace("", ATOM_NS)


@dataclass(frozen=True, slots=True)
class Entry:
    """One Atom entry: one story a rule alerted on."""

    id: str
    title: str
    updated: str                 # RFC 3339: when the rule alerted
    author: str                  # the source (Atom wants an author on each entry or the feed)
    content: str                 # HTML: source, language, time, topics, why, other coverage
    link: str | None = None      # the story's canonical URL
    published: str | None = None  # RFC 3339 with the article's own offset
    lang: str | None = None
    categories: tuple[tuple[str, str], ...] = ()    # (topic, "topic 0.82")
    related: tuple[tuple[str, str], ...] = ()       # (url, title) of the other coverage


def entry_id(alert_key: str) -> str:
    """The entry id of an alert: stable across runs, retries and rebuilds (a URN)."""
    return f"urn:newsmon:alert:{idempotency_key(alert_key, 'feed')}"


def feed_id(name: str) -> str:
    return f"urn:newsmon:feed:{idempotency_key(name, 'feed')}"


def rfc3339(value: str | None) -> str | None:
    """A stored instant as RFC 3339, keeping its own offset (a zone-less one is UTC)."""
    try:
        when = parse_iso(value)
    except ValueError:
        return None
    return when.isoformat() if when is not None else None


def _badges(topics: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    out = []
    for name, info in sorted((topics or {}).items()):
        if isinstance(info, dict) and not info.get("label"):
            continue
        score = info.get("score") if isinstance(info, dict) else info
        out.append((name, f"{name} {score:.2f}" if isinstance(score, (int, float)) else name))
    return tuple(out)


def _why(why: dict[str, Any]) -> list[str]:
    lines = why_lines(why)
    if isinstance(why.get("score"), (int, float)):
        lines.append(f"score {why['score']:.3f} ({why.get('mode', '')}, alerts at "
                     f"{why.get('min_score', 0):g})")
    return lines


def match_entry(item: dict[str, Any], alert_key: str, alerted: str, tz: tzinfo) -> Entry:
    """The entry of one matched story (a match alert's payload, or an item of a digest)."""
    art = item.get("article") or {}
    e = html.escape
    link = art.get("canonical_url") or art.get("url") or None
    lang = art.get("lang") or None
    published = rfc3339(art.get("published"))
    badges = _badges(art.get("topics") or {})
    when = (f"published {local_time(art.get('published'), tz)} ({published})" if published
            else "publication time unknown")
    parts = [f"<p>{e(str(art.get('source') or ''))} · "
             f"{e(LANG_NAMES.get(lang or '', lang or 'unknown language'))} · {e(when)}</p>"]
    if badges:
        parts.append("<p>topics: " + " · ".join(f"<strong>{e(label)}</strong>"
                                                 for _, label in badges) + "</p>")
    why = _why(item.get("why") or {})
    if why:
        parts.append("<p>Why it matched rule " + e(str(item.get("rule") or "")) + ":</p><ul>"
                     + "".join(f"<li>{e(w)}</li>" for w in why) + "</ul>")
    also = [a for a in item.get("also") or [] if isinstance(a, dict)]
    if also:
        parts.append("<p>Also covered by:</p><ul>" + "".join(
            f'<li><a href="{e(str(a.get("url") or ""))}">{e(str(a.get("title") or ""))}</a> '
            f'({e(str(a.get("source")))}, {e(str(a.get("lang")))}'
            + (f", {e(str(a.get('published')))}" if a.get("published") else "") + ")</li>"
            for a in also) + "</ul>")
    if link:
        parts.append(f'<p><a href="{e(link)}">{e(link)}</a></p>')
    return Entry(
        id=entry_id(alert_key), title=str(art.get("title") or "(no title)"),
        updated=rfc3339(alerted) or rfc3339(item.get("alerted_at")) or _epoch(),
        author=str(art.get("source") or "newsmon"), content="".join(parts), link=link,
        published=published, lang=lang, categories=badges,
        related=tuple((str(a.get("url")), str(a.get("title") or "")) for a in also
                      if a.get("url")))


def entries(alert: dict[str, Any], tz: tzinfo) -> list[Entry]:
    """The entries of a stored alert (a row of ``store.alerts``, payload parsed): one for a
    match, one per story of a digest, one for a source-health notice."""
    payload = alert["payload"]
    kind = alert.get("kind") or payload.get("type")
    if kind == "match":
        return [match_entry(payload, alert["key"], alert["created_at"], tz)]
    if kind == "digest":
        # each story under its own match key: the same id as without the digest
        return [match_entry(item, f"rule:{item['rule']}:story:{item['story']}",
                            alert["created_at"], tz) for item in payload.get("items") or []]
    if kind in ("health", "recovery"):
        message = render(payload, alert["key"], tz)
        body = "".join(f"<p>{html.escape(line)}</p>" for line in message.text.splitlines()
                       if line.strip())
        return [Entry(id=entry_id(alert["key"]), title=message.subject.removeprefix(
            "[newsmon] "), updated=rfc3339(alert["created_at"]) or _epoch(),
            author="newsmon", content=body)]
    return []


def _epoch() -> str:
    return datetime(1970, 1, 1, tzinfo=UTC).isoformat()


def newest(alerts: Iterable[dict[str, Any]], tz: tzinfo, limit: int) -> list[Entry]:
    """The newest ``limit`` entries of ``alerts`` (rows of the store, newest first as the
    repository gives them), newest first, each id once. Entries of one instant keep the rows'
    order (the sort is stable)."""
    if limit < 1:
        raise ConfigError(f"[alerts].feed_entries = {limit} must be at least 1")
    out: dict[str, Entry] = {}
    for alert in alerts:
        for entry in entries(alert, tz):
            out.setdefault(entry.id, entry)
    ordered = sorted(out.values(), key=lambda en: _instant(en.updated), reverse=True)
    return ordered[:limit]


def _instant(value: str) -> datetime:
    when = parse_iso(value)
    assert when is not None  # every Entry.updated is an RFC 3339 instant
    return when


def atom(entries: Sequence[Entry], *, id: str, title: str, subtitle: str = "",
         self_url: str | None = None, alternate: str | None = None) -> bytes:
    """The Atom document (UTF-8 bytes). Its ``updated`` is its newest entry's, so rebuilding
    the same entries gives the same bytes; an empty feed is as old as the epoch."""
    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            node.text = text
        return node

    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "id", id)
    sub(feed, "title", title)
    if subtitle:
        sub(feed, "subtitle", subtitle)
    sub(feed, "updated", max((e.updated for e in entries), key=_instant, default=_epoch()))
    author = sub(feed, "author")
    sub(author, "name", "newsmon")
    sub(feed, "generator", "newsmon", version=__version__)
    if self_url:
        sub(feed, "link", rel="self", type=MEDIA_TYPE, href=self_url)
    if alternate:
        sub(feed, "link", rel="alternate", type="text/html", href=alternate)
    for e in entries:
        entry = sub(feed, "entry")
        if e.lang:
            entry.set(XML_LANG, e.lang)
        sub(entry, "id", e.id)
        sub(entry, "title", e.title)
        sub(entry, "updated", e.updated)
        if e.published:
            sub(entry, "published", e.published)
        who = sub(entry, "author")
        sub(who, "name", e.author)
        if e.link:
            sub(entry, "link", rel="alternate", type="text/html", href=e.link)
        for url, text in e.related:
            sub(entry, "link", rel="related", href=url, title=text)
        for term, label in e.categories:
            sub(entry, "category", term=term, label=label, scheme=TOPIC_SCHEME)
        sub(entry, "content", e.content, type="html")
    ET.indent(feed)
    document = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    assert isinstance(document, bytes)  # an encoding other than "unicode" gives bytes
    return document + b"\n"


def write_atomic(path: Path, data: bytes) -> bool:
    """Replace ``path`` with ``data``: a temporary file in the same folder, fsync, rename, so
    the file is always the old or the new version in full. Returns False when the file already
    held exactly ``data`` (nothing written). Temporary files a killed writer left are removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)  # the run lock makes this the only writer of the feed
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FEED_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
    return True


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX: fsync the folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not possible everywhere (Windows); the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def feed_title(alerts: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """(title, subtitle) of a feed file, from the rules of its alerts."""
    rules = sorted({str(a.get("rule")) for a in alerts})
    if len(rules) == 1:
        described = next((a["payload"].get("rule_description") for a in alerts
                          if a["payload"].get("rule_description")), "")
        return f"newsmon alerts: {rules[0]}", str(described or "")
    return "newsmon alerts", ", ".join(rules)


__all__ = ["Entry", "entries", "newest", "atom", "write_atomic", "entry_id", "feed_id",
           "feed_title", "rfc3339", "MEDIA_TYPE"]
