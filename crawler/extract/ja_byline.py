"""Japanese newspaper bylines printed inside the body, out of the text and into fields.

Forms (the name without role words; a dateline's place kept as ``dateline``):

- ``文／小川正樹`` (also 文・写真／, 取材・文：) on its own line near the top;
- ``記者　佐藤健一``, ``政治部　記者　佐藤健一``, ``佐藤健一記者``, ``社会部　佐藤健一`` on its own
  line near the top;
- ``【北京＝伊藤和也】`` opening the first paragraph (a dateline: place ＝ writer), or
  ``【ロンドン】`` alone (a place, no writer);
- ``（田中美咲）``, ``（経済部・高橋直樹）``, ``（記者　田中美咲）`` or ``（写真と文・田中美咲）``
  closing the body (only short template lines, such as a copyright notice, may follow it).

Only short lines are candidates, and a name is two to twelve kanji/kana with at most one space:
an age ``（３３）`` or a bracketed remark is never taken for a writer.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from newsmon.crawler.extract.byline import NOT_A_NAME

__all__ = ["JaByline", "header_byline", "split_byline"]

_NAME = r"[一-龥々〆ヵヶぁ-んァ-ヴー]{1,6}(?: ?[一-龥々〆ヵヶぁ-んァ-ヴー]{1,6})?"
_DESK = r"(?:[一-龥ァ-ヴー]{1,8}(?:部|局|室|班|支局|総局)[ ・]?)"
_LINE_FORMS = (
    re.compile(rf"^(?:文|写真と文|文と写真|文・写真|写真・文|取材・文|筆者)\s*[/:・=]\s*({_NAME})$"),
    re.compile(rf"^{_DESK}?\s*(?:記者|特派員|編集委員)\s*({_NAME})$"),
    re.compile(rf"^{_DESK}?\s*({_NAME})\s*(?:記者|特派員|編集委員)$"),
    re.compile(rf"^{_DESK}\s*({_NAME})$"),  # the desk alone names a writer: 社会部　佐藤健一
)
_DATELINE = re.compile(rf"^【([^【】=\s]{{1,12}})(?:=({_NAME})(?:記者|特派員)?)?】\s*")
_CREDIT = r"(?:文|写真と文|文と写真|文・写真|写真・文|取材・文|筆者)\s*[/:・=]\s*"
_ROLE = r"(?:記者|特派員|編集委員)"
_CLOSING = re.compile(rf"^\(\s*(?:{_CREDIT})?{_DESK}?\s*{_ROLE}?\s*({_NAME})\s*{_ROLE}?\s*\)$")
_TOP_LINES = 6  # paragraphs from the top searched for a byline line
_SHORT = 30  # a byline line is at most this long (characters)
_TAIL_LINE = 80  # lines after a closing byline are short template lines, not prose
_TAIL_LINES = 40  # lines from the end searched for a closing byline


@dataclass(slots=True)
class JaByline:
    paragraphs: list[str]
    authors: list[str] = field(default_factory=list)
    dateline: str | None = None


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace("\u3000", " ").strip()


def _name(raw: str) -> str | None:
    name = re.sub(r"\s+", "", raw)
    return None if NOT_A_NAME.search(name) else name


def _line_byline(text: str) -> str | None:
    """The writer a byline line names (``文／NAME``, ``記者　NAME``, ``NAME記者``…), else None."""
    if len(text) > _SHORT:
        return None
    for form in _LINE_FORMS:
        m = form.match(text)
        if m and (name := _name(m.group(1))):
            return name
    return None


def header_byline(after_headline: str) -> list[str]:
    """The writer of a byline line printed under the headline, for a page whose extracted body
    left that line out (``after_headline``: the visible text after the headline)."""
    for line in after_headline.split("\n")[:_TOP_LINES]:
        name = _line_byline(_norm(line))
        if name:
            return [name]
    return []


def split_byline(paragraphs: list[str]) -> JaByline:
    """Take the byline forms above out of ``paragraphs`` (a new list; the input is unchanged)."""
    paras = list(paragraphs)
    out = JaByline(paras)
    # a byline line near the top
    for i, par in enumerate(paras[:_TOP_LINES]):
        name = _line_byline(_norm(par))
        if name:
            out.authors.append(name)
            del paras[i]
            break
    # a dateline opening the first paragraph of prose
    for i, par in enumerate(paras[:_TOP_LINES]):
        text = _norm(par)
        m = _DATELINE.match(text)
        if m and len(text) > m.end():
            out.dateline = m.group(1)
            name = _name(m.group(2)) if m.group(2) else None
            if name and name not in out.authors:
                out.authors.append(name)
            paras[i] = _strip_prefix(par, m.end(), text)
            break
        if len(text) > _SHORT:
            break  # the dateline opens the body or is not there
    # the writer in brackets closing the body (a template line such as a copyright notice may
    # still follow it: the boilerplate memory removes those at enrichment)
    for i in range(len(paras) - 1, max(len(paras) - _TAIL_LINES, -1), -1):
        m = _CLOSING.match(_norm(paras[i]))
        name = _name(m.group(1)) if m else None
        if name:
            if name not in out.authors:
                out.authors.append(name)
            # the byline closes the article: what follows it is the page's (the menu and
            # lists of a body taken from the whole page), and goes where there is much of it
            del paras[i : len(paras) if len(paras) - i > 4 else i + 1]
            break
        if len(_norm(paras[i])) > _TAIL_LINE:
            break  # prose: the closing byline would have come after it
    return out


def _strip_prefix(original: str, norm_end: int, normalised: str) -> str:
    """``original`` without the characters that normalise to ``normalised[:norm_end]``."""
    for cut in range(len(original) + 1):
        if len(_norm(original[:cut])) >= norm_end and _norm(original[:cut]) == normalised[:norm_end].strip():
            return original[cut:].lstrip(" \u3000")
    return normalised[norm_end:]
