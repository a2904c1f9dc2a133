"""What the top of a body repeats from the page's header, taken out of the text.

Where the ``<h1>`` sits in the same container as the text (a ``<div class="article">``, a main
column with no ``<article>``, the article cell of a table layout), trafilatura keeps the
headline, the date line (``掲載日：2026年11月13日``, ``13 November 2026 10:30 GMT``) and the
byline (``By Jane Doe``) as the first paragraphs. They push a dateline such as
``【北京＝NAME】`` out of the first paragraph of prose, and every snippet and lead would open
with the headline. ``strip_lead`` drops, from the top only and while they come:

- a paragraph that repeats the title (the same normalisation as titles: NFKC, spacing, case;
  the title with or without a site-name segment);
- a short date line: a date plus at most a label (掲載日, 更新, Published, Updated…);
- a short English byline ("By Jane Doe"), whose names are returned as printed authors.

Japanese bylines and datelines are ``ja_byline``'s, which runs after this.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from newsmon.crawler.dates import find_dates
from newsmon.crawler.extract.visible import fold
from newsmon.crawler.text import normalize

__all__ = ["Lead", "strip_lead"]

_TOP = 5  # paragraphs from the top looked at
_HEADLINE_MAX = 300  # a headline paragraph is at most this long (characters)
_DATE_LINE_MAX = 80
# what may stand beside the date on a date line once the date is taken out
_DATE_LABEL = re.compile(
    r"^[\s\W]*(?:(?:掲載日|掲載|公開日|公開|更新日|更新|配信日|配信|投稿日|発行日|日付|最終更新|"
    r"published|posted|updated|last updated|first published|modified|on|at|date|"
    r"gmt|bst|utc|jst|edt|est|cet|am|pm|午前|午後)[\s\W]*)*$",
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
        if SequenceMatcher(None, key, tkey, autojunk=False).ratio() >= 0.92:
            return True
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
    m = _BYLINE.match(normalize(par))
    if not m:
        return None
    names = m.group(1).strip(" .")
    if not _BYLINE_NAME.match(names) or len(names.split()) > 8:
        return None
    return [n.strip() for n in re.split(r"\s*(?:,|\band\b|&)\s*", names) if n.strip()]


def strip_lead(paragraphs: list[str], titles: list[str], tz: str) -> Lead:
    """``paragraphs`` without the headline, date lines and bylines that open them (a new
    list; at least one paragraph is always kept)."""
    paras = list(paragraphs)
    out = Lead(paras)
    seen_title = False
    for _ in range(_TOP):
        if len(paras) < 2:
            break
        first = paras[0]
        if not seen_title and repeats_title(first, titles):
            seen_title = True
        elif is_date_line(first, tz):
            pass
        elif (names := _byline(first)) is not None:
            out.authors.extend(n for n in names if n not in out.authors)
        else:
            break
        out.dropped.append(paras.pop(0))
    return out
