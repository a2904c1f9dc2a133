"""The headline as displayed, and the site's name kept out of it."""
from __future__ import annotations

import html
import re

from newsmon.crawler.extract.metadata import PageMetadata
from newsmon.crawler.extract.visible import Visible, fold, similar
from newsmon.crawler.text import clean_space

__all__ = ["pick_title", "same_name", "strip_site_name"]

# what separates a site's name from the headline in <title>
_TITLE_SEPARATORS = re.compile(r"\s+[|\-–—:•·»]\s+|\s*[｜|]\s*|\s+::\s+|\s*[:：]\s+")


def same_name(name: str, names: list[str]) -> bool:
    """Whether ``name`` is one of ``names`` up to width, case and spacing."""
    return fold(name) in {fold(n) for n in names if n}


def strip_site_name(title: str, site_names: list[str]) -> str:
    title = clean_space(title)
    if not title:
        return title
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title
    names = {fold(n) for n in site_names if n}

    def names_site(part: str) -> bool:
        folded = fold(part)
        return folded in names or any(folded.startswith(n) or n.startswith(folded)
                                      for n in names if len(n) > 3)

    # drop leading and trailing segments that are the site's name (or a section name before it)
    while len(parts) > 1 and names_site(parts[-1]):
        parts = parts[:-1]
    while len(parts) > 1 and fold(parts[0]) in names:
        parts = parts[1:]
    if len(parts) == len(_TITLE_SEPARATORS.split(title)):
        # no segment named the site: keep the longest segment only if the rest are short labels
        return title
    # rebuild from the original string so separators inside the headline survive
    kept = parts
    start = title.find(kept[0])
    end = title.rfind(kept[-1]) + len(kept[-1])
    return title[start:end].strip() if start >= 0 and end > start else " ".join(kept)


def pick_title(meta: PageMetadata, vis: Visible, html_title: str | None, site_names: list[str]) -> str:
    """The headline as displayed: the page's <h1> when the declared titles (JSON-LD headline,
    og:title, <title>) confirm it is the headline and not a logo or section name; otherwise
    JSON-LD headline > og:title > <title>, each without a site-name suffix. Whitespace is
    collapsed but the ideographic space U+3000 is kept."""
    declared = [
        clean_space(html.unescape(t)) for t in (meta.ld_headline, meta.og_title, html_title) if t
    ]
    declared = [strip_site_name(t, site_names) for t in declared]
    h1 = vis.h1
    if h1 and (not declared or any(similar(h1, t) for t in declared)):
        return h1
    return declared[0] if declared else (h1 or "")
