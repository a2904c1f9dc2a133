"""Source title affixes: the segments a source puts around every headline in its titles.

Extraction strips a site's name from ``<title>`` / og:title when the page names the site
(og:site_name, the JSON-LD publisher) and prefers the ``<h1>`` when it agrees. A site that
names itself nowhere else and has no clean ``<h1>`` keeps "Harbour Digest｜Headline" or
"Headline - World - The Daily Thing". Those affixes are learned here per source, from the
titles of its stored articles.

A title is split into segments at separators (｜ | – - : ・ » … with the spacing that marks
them as separators, see ``SEPARATORS``). Per side (prefix, suffix) and level (outermost
segment first, then the one inside it):

- level 1 (the site's name): one segment key that is the outermost segment of at least
  ``min_titles`` titles, of at least ``min_share`` of the source's titles that have a
  separator, and of at least ``min_cover`` of all its titles;
- further levels (a section name between the headline and the site's name), looked at only in
  the titles that carry the learned level before: the keys that recur there in at least
  ``min_titles`` titles, when such recurring keys fill that slot in at least ``min_share`` of
  those titles (a kicker a few headlines share is not a section).

Keys are NFKC-normalised, case-folded, without whitespace. Stripping removes learned
segments from the outside in, never the last segment (a title that is only the affix stays as
is), and returns what was removed as the exact leading and trailing text, so ``restore``
rebuilds the title as extracted and a grown memory can strip it again.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# separators around a title's segments: a spaced ASCII/typographic one, a bar or a full-width
# colon spaced or not, an ASCII colon followed by a space (not 10:30), a spaced ・ (unspaced,
# ・ joins words: 日英・重要鉱物)
SEPARATORS = re.compile(
    r"\s+[|\-–—:•·»/]\s+|\s*[｜|：]\s*|\s+::\s+|\s*:\s+|\s+・\s+")
_SPACE = re.compile(r"\s+")
SIDES = ("prefix", "suffix")


def segment_key(segment: str) -> str:
    """The normalised form under which a segment is counted."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", segment)).casefold()


def segments(title: str) -> list[tuple[int, int]]:
    """The (start, end) spans of a title's non-empty segments, in order."""
    spans, at = [], 0
    for m in SEPARATORS.finditer(title):
        spans.append((at, m.start()))
        at = m.end()
    spans.append((at, len(title)))
    return [(s, e) for s, e in spans if title[s:e].strip()]


@dataclass(frozen=True, slots=True)
class TitleAffixRule:
    min_titles: int = 3
    min_share: float = 0.6
    min_cover: float = 0.4
    max_levels: int = 2


@dataclass(frozen=True, slots=True)
class TitleAffixes:
    """Learned keys per side, outermost level first."""

    prefix: tuple[frozenset[str], ...] = ()
    suffix: tuple[frozenset[str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.prefix or self.suffix)

    def as_dict(self) -> dict[str, list[list[str]]]:
        return {side: [sorted(level) for level in getattr(self, side)] for side in SIDES}


def _learn_side(keyed: list[list[str]], total: int, rule: TitleAffixRule, outer: int
                ) -> tuple[frozenset[str], ...]:
    """``outer`` is 0 (prefix: the first segment is outermost) or -1 (suffix)."""
    levels: list[frozenset[str]] = []
    current = keyed
    for level in range(rule.max_levels):
        slot = [k for k in current if len(k) >= 2]
        if len(slot) < rule.min_titles:
            break
        counts = Counter(k[outer] for k in slot)
        if level == 0:
            keys = frozenset(
                k for k, n in counts.items()
                if n >= rule.min_titles and n >= rule.min_share * len(slot)
                and n >= rule.min_cover * total)
        else:
            recurring = frozenset(k for k, n in counts.items() if n >= rule.min_titles)
            filled = sum(counts[k] for k in recurring)
            keys = recurring if filled >= rule.min_share * len(slot) else frozenset()
        if not keys:
            break
        levels.append(keys)
        current = [k[1:] if outer == 0 else k[:-1] for k in slot if k[outer] in keys]
    return tuple(levels)


def learn(titles: Iterable[str], rule: TitleAffixRule = TitleAffixRule()) -> TitleAffixes:
    """The affixes of one source, from the titles of its articles (as extracted)."""
    titles = [t for t in titles if t and t.strip()]
    keyed = [[segment_key(title[s:e]) for s, e in segments(title)] for title in titles]
    keyed = [k for k in keyed if len(k) >= 2]
    return TitleAffixes(prefix=_learn_side(keyed, len(titles), rule, 0),
                        suffix=_learn_side(keyed, len(titles), rule, -1))


def strip(title: str, affixes: TitleAffixes) -> tuple[str, dict[str, str]]:
    """The title without the learned affixes, and what was removed (``{"prefix": the exact
    leading text, "suffix": the exact trailing text}``, only the sides that had one). At least
    one segment always stays, so a title that is only the affix is kept as is."""
    if not title or not affixes:
        return title, {}
    spans = segments(title)
    first, last = 0, len(spans) - 1
    for level in affixes.prefix:
        if last > first and segment_key(title[slice(*spans[first])]) in level:
            first += 1
        else:
            break
    for level in affixes.suffix:
        if last > first and segment_key(title[slice(*spans[last])]) in level:
            last -= 1
        else:
            break
    if (first, last) == (0, len(spans) - 1):
        return title, {}
    start, end = spans[first][0], spans[last][1]
    removed = {"prefix": title[:start], "suffix": title[end:]}
    return title[start:end], {k: v for k, v in removed.items() if v}


def restore(title: str, removed: Mapping[str, str] | None) -> str:
    """The title as extracted, from the stripped title and what was removed."""
    if not removed:
        return title
    return f"{removed.get('prefix', '')}{title}{removed.get('suffix', '')}"


__all__ = ["SEPARATORS", "TitleAffixRule", "TitleAffixes", "learn", "restore", "segment_key",
           "segments", "strip"]
