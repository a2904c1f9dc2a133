"""What the top of a body repeats from the page's header, taken out of the text.

Where the ``<h1>`` sits in the same container as the text (a ``<div class="article">``, a main
column with no ``<article>``, the article cell of a table layout), trafilatura keeps the
headline, the date line (``掲載日：2026年11月13日``, ``13 November 2026 10:30 GMT``) and the
byline (``By Jane Doe``) as the first paragraphs. They push a dateline such as
``【北京＝NAME】`` out of the first paragraph of prose, and every snippet and lead would open
with the headline. ``strip_lead`` drops, from the top only and while they come:

- the short lines above the headline (the masthead's name and motto, a menu) where the body
  was taken from the whole page;
- a paragraph that is the site's name (declared, or a title's segment beside the headline);
- a paragraph that repeats the title (the same normalisation as titles: NFKC, spacing, case;
  the title with or without a site-name segment);
- a short date line: a date plus at most a label (掲載日, 更新, Published, Updated…);
- a short English byline ("By Jane Doe", "Jane Doe, Tokyo correspondent"), whose names (not
  the role) are returned as printed authors.

Japanese bylines and datelines are ``ja_byline``'s, which runs after this.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from newsmon.crawler.dates import find_dates
from newsmon.crawler.extract.byline import byline_names, role_byline
from newsmon.crawler.extract.visible import fold
from newsmon.crawler.text import normalize

__all__ = ["Lead", "strip_lead"]

_TOP = 5  # paragraphs from the top looked at
_HEADLINE_MAX = 300  # a headline paragraph is at most this long (characters)
_DATE_LINE_MAX = 80
_SITE_NAME_MAX = 60
_HEADER_LINES = 15  # lines of a page's header (name, motto, menu) looked through for the headline
_HEADER_LINE_MAX = 40  # a header line is a name or a label, not prose
# what may stand beside the date on a date line once the date is taken out
_DATE_LABEL = re.compile(
    r"^[\s\W]*(?:(?:掲載日|掲載|公開日|公開|更新日|更新|配信日|配信|投稿日|発行日|日付|最終更新|"
    r"published|posted|updated|last updated|first published|modified|on|at|date|"
    r"gmt|bst|utc|jst|edt|est|cet|am|pm|午前|午後)[\s\W]*)*"
    # the place whose clock the time is on: "09:10 (Tokyo)", "10時（東京）"
    r"(?:[(（][^()（）\d]{1,20}[)）][\s\W]*)?$",
    re.I,
)
_BYLINE = re.compile(r"^\s*(?:by|written by|words by|story by)\s+(.{2,60})$", re.I)
_BYLINE_NAME = re.compile(r"^[^\W\d_][\w.'’\- ]*(?:\s*(?:,|and|&)\s*[^\W\d_][\w.'’\- ]*)*$")
_SEPARATORS = re.compile(r"\s+[|\-–—:•·»]\s+|\s*[｜|]\s*|\s*[:：]\s+")
_KEY = re.compile(r"[\W_]+")


@dataclass(slots=True)
class Lead:
    paragraphs: list[str]
    authors: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def _key(text: str) -> str:
    return _KEY.sub("", fold(text))


def _title_keys(titles: list[str]) -> set[str]:
    keys: set[str] = set()
    for title in titles:
        if not title:
            continue
        keys.add(_key(title))
        parts = [p for p in _SEPARATORS.split(title) if p.strip()]
        if len(parts) > 1:
            keys.add(_key(max(parts, key=len)))
    return {k for k in keys if len(k) >= 6}


def _site_keys(titles: list[str], site_names: list[str]) -> set[str]:
    """Keys of the site's name: declared, or the segments of a title beside the headline
    ("Ferries cut sailings - The Fjord Times")."""
    keys = {_key(n) for n in site_names}
    for title in titles:
        parts = [p for p in _SEPARATORS.split(title or "") if p.strip()]
        if len(parts) > 1:
            longest = max(parts, key=len)
            keys.update(_key(p) for p in parts if p is not longest)
    return {k for k in keys if len(k) >= 3}


def repeats_title(par: str, titles: list[str]) -> bool:
    """Whether ``par`` is the headline again (up to normalisation and a site-name segment)."""
    if len(par) > _HEADLINE_MAX:
        return False
    key = _key(par)
    if len(key) < 6:
        return False
    for tkey in _title_keys(titles):
        if key == tkey:
            return True
        shorter, longer = sorted((key, tkey), key=len)
        if shorter in longer and len(shorter) >= 0.8 * len(longer):
            return True
        # the cheap upper bounds of the ratio first: most first paragraphs are nothing like it
        matcher = SequenceMatcher(None, key, tkey, autojunk=False)
        if (matcher.real_quick_ratio() >= 0.92 and matcher.quick_ratio() >= 0.92
                and matcher.ratio() >= 0.92):
            return True
    return False


def _title_then_date(par: str, titles: list[str], tz: str) -> bool:
    """Whether ``par`` is the headline run straight into its date line (a ``<br>`` between
    them comes out as nothing): ``Port reopens after typhoon Published: 3 March 2026``."""
    if len(par) > _HEADLINE_MAX + _DATE_LINE_MAX:
        return False
    text = normalize(par)
    folded = fold(text)
    if len(folded) < 7:
        return False
    for title in titles:
        for part in {title, *_SEPARATORS.split(title)}:
            head = fold(part.strip())
            if len(_key(head)) >= 6 and folded.startswith(head) and len(head) < len(folded):
                return is_date_line(text[len(head):], tz)
    return False


def is_date_line(par: str, tz: str) -> bool:
    """Whether ``par`` is a short line giving a date (and a label), not prose."""
    text = normalize(par)
    if len(text) > _DATE_LINE_MAX:
        return False
    found = find_dates(text, tz)
    if not found:
        return False
    rest = text
    for f in sorted(found, key=lambda f: -f.start):
        rest = rest[: f.start] + " " + rest[f.end :]
    rest = re.sub(r"\(\s*[月火水木金土日]\s*\)|\d", " ", rest)
    return bool(_DATE_LABEL.match(rest))


def _byline(par: str) -> list[str] | None:
    text = normalize(par)
    m = _BYLINE.match(text)
    if not m:
        return role_byline(text)
    names = byline_names(m.group(1))
    if not names or not all(_BYLINE_NAME.match(n) for n in names) or sum(len(n.split()) for n in names) > 8:
        return None
    return names


def strip_lead(paragraphs: list[str], titles: list[str], tz: str,
               site_names: list[str] | None = None) -> Lead:
    """``paragraphs`` without the site's name, the headline, date lines and bylines that open
    them (a new list; at least one paragraph is always kept)."""
    paras = list(paragraphs)
    out = Lead(paras)
    # a body taken from the whole page (no <p> in it: text set with <br>s in a table cell)
    # opens with the page's header: the masthead's name and motto, the menu. Short lines up
    # to the headline are that header.
    # to the first line that repeats the headline (a page may repeat it further down)
    for i, par in enumerate(paras[:_HEADER_LINES]):
        if repeats_title(par, titles) or _title_then_date(par, titles, tz):
            out.dropped.extend(paras[:i])
            del paras[:i]
            break
        if len(par) > _HEADER_LINE_MAX:
            break
    seen_title = seen_site = False
    site_keys: set[str] | None = None
    for _ in range(_TOP):
        if len(paras) < 2:
            break
        first = paras[0]
        if not seen_title and (repeats_title(first, titles) or _title_then_date(first, titles, tz)):
            seen_title = True
        elif not seen_site and len(first) <= _SITE_NAME_MAX and _key(first) in (
                site_keys := site_keys if site_keys is not None else _site_keys(titles, site_names or [])):
            seen_site = True  # the masthead's name, in the same container as the text
        elif is_date_line(first, tz):
            pass
        elif (names := _byline(first)) is not None:
            out.authors.extend(n for n in names if n not in out.authors)
        else:
            break
        out.dropped.append(paras.pop(0))
    return out
