"""Source boilerplate memory: the blocks a source repeats in many of its articles.

Extraction keeps what looks like article text, and a site's template can look like that: an
in-body advertisement (a line "広告" and a promotional sentence between paragraphs), a table
header of a legacy page, a copyright line, a date line. Paragraph alignment then matches those
identical blocks perfectly, and unrelated articles of one site end in one story (on the held-out
sites, nine unrelated articles of one site joined with margins of 0.02–0.11 before this).

Every line of an article's text is a block. Its key is the line NFKC-normalised, case-folded,
without whitespace; a short line (a date line, "Updated 3 hours ago") also has each run of
digits folded to 0 so that it recurs. Per source we count in how many distinct articles each key
appears. A key seen in at least ``min_articles`` articles and in at least ``min_share`` of the
source's articles is boilerplate; so are the marker lines (``markers``: "広告", "PR",
"Advertisement"…) from the first article on. trafilatura's ``deduplicate`` does a
cross-document version of this in one process; this memory lasts across runs (it is kept in
the store, ``newsmon.index.boilerplate``) and is per source.

Cleaning removes boilerplate lines and records them with their line positions, so the text as
extracted can always be rebuilt (``restore``) and cleaned again when the memory grows.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SHORT_LINE = 40  # characters (after normalisation) up to which digits are folded
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def block_key(line: str) -> str:
    """The normalised form under which a line is counted (empty for a blank line)."""
    key = _SPACE.sub("", unicodedata.normalize("NFKC", line)).casefold()
    if len(key) <= SHORT_LINE:
        key = _DIGITS.sub("0", key)
    return key


def article_keys(text: str) -> set[str]:
    """The distinct block keys of one article's text."""
    return {k for k in map(block_key, text.split("\n")) if k}


@dataclass(frozen=True, slots=True)
class BoilerplateRule:
    min_articles: int = 3
    min_share: float = 0.02
    markers: frozenset[str] = frozenset()

    @classmethod
    def build(cls, min_articles: int, min_share: float, markers: Iterable[str]
              ) -> BoilerplateRule:
        return cls(min_articles, min_share, frozenset(block_key(m) for m in markers if m))

    def is_boilerplate(self, key: str, articles: int, total: int) -> bool:
        if key in self.markers:
            return True
        return articles >= self.min_articles and articles >= self.min_share * total


def boilerplate_keys(counts: Mapping[str, int], total: int, rule: BoilerplateRule) -> set[str]:
    """The keys of one source that are boilerplate, given per-key article counts."""
    return {k for k, n in counts.items() if rule.is_boilerplate(k, n, total)} | set(rule.markers)


def restore(text: str, removed: list[dict[str, Any]]) -> str:
    """The text as extracted, from the cleaned text and the removed lines with positions."""
    if not removed:
        return text
    lines = text.split("\n")
    for item in sorted(removed, key=lambda r: r["line"]):
        lines.insert(min(item["line"], len(lines)), item["text"])
    return "\n".join(lines)


def clean(text: str, keys: set[str]) -> tuple[str, list[dict[str, Any]]]:
    """Drop the lines whose key is in ``keys``; returns the text and what was removed (each
    ``{"line": index in the original text, "text": the line}``). Blank lines left doubled by
    a removal are dropped too (and recorded), so paragraphs stay one blank line apart."""
    lines = text.split("\n")
    drop = {i for i, ln in enumerate(lines) if block_key(ln) in keys}
    if not drop:
        return text, []
    # a blank line next to a dropped one would leave two blank lines in a row (or a blank
    # line at an end): drop it too
    kept_idx = [i for i in range(len(lines)) if i not in drop]
    extra: set[int] = set()
    prev_blank = True  # at the start, a blank line is not needed
    for i in kept_idx:
        blank = not lines[i].strip()
        if blank and prev_blank:
            extra.add(i)
        prev_blank = blank if i not in extra else prev_blank
    remaining = [i for i in kept_idx if i not in extra]
    while remaining and not lines[remaining[-1]].strip() and lines[remaining[-1]] == "":
        extra.add(remaining.pop())
    removed_idx = sorted(drop | extra)
    removed = [{"line": i, "text": lines[i]} for i in removed_idx]
    return "\n".join(lines[i] for i in remaining), removed


__all__ = ["BoilerplateRule", "article_keys", "block_key", "boilerplate_keys", "clean",
           "restore"]
