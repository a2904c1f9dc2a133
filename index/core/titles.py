"""How a title is shown everywhere (search results, "also covered" lists, alerts, the demo
table, the page): NFKC (ＧＣＡＰ → GCAP, the ideographic space → a space), invisible characters
removed, whitespace folded to one space. The search index stores titles in this form, so what
a result shows and what an alert or a coverage list shows agree."""
from __future__ import annotations

import re
import unicodedata

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SPACE = re.compile(r"\s+")


def display_title(title: str | None) -> str:
    if not title:
        return ""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", title).translate(_INVISIBLE)).strip()


__all__ = ["display_title"]
