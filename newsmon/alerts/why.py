"""The words an alert's "why" names: what the article matched of the query, as whole words and
phrases of the article ("重要鉱物", "critical minerals"), not the index's pieces of words
(重要, 鉱物, 機 of 戦闘機) that the search marks one by one."""
from __future__ import annotations

import html
import re
from collections.abc import Sequence

MARK = re.compile(r"<mark>(.*?)</mark>", re.S)
# what may stand between two marked pieces of one phrase: nothing, a space, a hyphen
JOINER = re.compile(r"^[\s\-‐・]*$")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
# a "term" written only in hiragana is a particle or an inflection (の, は, する), not a reason
HIRAGANA_ONLY = re.compile(r"^[\u3041-\u309f]+$")
WORD_CHAR = re.compile(r"[\w'’]")


def _marked(snippet: str) -> tuple[str, list[tuple[int, int]]]:
    """The snippet's plain text and the spans of its marked pieces in it."""
    text: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = used = 0
    for m in MARK.finditer(snippet):
        before = html.unescape(snippet[pos:m.start()])
        inner = html.unescape(m.group(1))
        text += [before, inner]
        used += len(before)
        spans.append((used, used + len(inner)))
        used += len(inner)
        pos = m.end()
    text.append(html.unescape(snippet[pos:]))
    return "".join(text), spans


def _joined(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if out and JOINER.match(text[out[-1][1]:start]):
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def _widened(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Each span grown to the whole words it touches: Sudachi's long units in Japanese text,
    runs of word characters elsewhere."""
    if CJK.search(text):
        from newsmon.enrich.text import word_spans

        words = word_spans(text)
        out = []
        for start, end in spans:
            inside = [(s, e) for s, e in words if s < end and e > start]
            out.append((min([start, *(s for s, _ in inside)]),
                        max([end, *(e for _, e in inside)])))
        return out
    out = []
    for start, end in spans:
        while start > 0 and WORD_CHAR.match(text[start - 1]):
            start -= 1
        while end < len(text) and WORD_CHAR.match(text[end]):
            end += 1
        out.append((start, end))
    return out


def why_terms(snippet: str, matched: Sequence[str], limit: int = 12) -> list[str]:
    """The matched words and phrases of a search hit's snippet (HTML-escaped, matches in
    <mark>), each once, in reading order; the hit's ``matched`` pieces when nothing is marked."""
    text, spans = _marked(snippet or "")
    if not spans:
        terms = list(matched)
    else:
        terms = [text[s:e].strip() for s, e in _joined(text, _widened(text, _joined(text, spans)))]
    seen: set[str] = set()
    out = []
    for term in terms:
        if term and not HIRAGANA_ONLY.match(term) and term.casefold() not in seen:
            seen.add(term.casefold())
            out.append(term)
    return out[:limit]


__all__ = ["why_terms"]
