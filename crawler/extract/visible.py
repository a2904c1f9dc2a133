"""The page's visible text as one stream, with where the headline sits in it: the byline, the
dates printed under the headline and the notices after the body are all looked for there."""
from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from lxml.html import HtmlElement

from newsmon.crawler.text import clean_space, normalize

__all__ = ["Visible", "body_end", "fold", "paragraphs", "similar", "title_tag", "visible"]

_SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "head", "iframe", "button", "select", "textarea"}


@dataclass(slots=True)
class Visible:
    text: str
    h1: str | None
    h1_end: int | None  # offset just after the headline in ``text``
    time_after_h1: list[str]  # datetime attributes of <time> elements soon after the headline

    def after_h1(self, chars: int) -> str:
        """The ``chars`` characters after the headline ('' when there is none)."""
        return self.text[self.h1_end : self.h1_end + chars] if self.h1_end is not None else ""



def fold(text: str) -> str:
    """How headlines are compared: NFKC, whitespace collapsed, case-folded."""
    return normalize(text).lower()


def similar(a: str, b: str) -> bool:
    """Whether two headlines are the same up to a site name or a small edit."""
    x, y = fold(a), fold(b)
    if not x or not y:
        return False
    if x in y or y in x:
        return min(len(x), len(y)) >= 0.5 * max(len(x), len(y))
    # the cheap upper bounds first: most headings are nothing like the title
    matcher = SequenceMatcher(None, x, y, autojunk=False)
    return (matcher.real_quick_ratio() >= 0.6 and matcher.quick_ratio() >= 0.6
            and matcher.ratio() >= 0.6)


def _headline(tree: HtmlElement, titles: list[str]) -> HtmlElement | None:
    """The element that shows the headline: the first <h1> that agrees with a declared title
    (``titles``), else an <h2>/<h3> that does (table-layout and older pages put the headline
    there and the site's logo in the <h1>, or have no <h1>), else the first <h1>."""
    first = None
    for el in tree.iter("h1"):
        text = clean_space(el.text_content())
        if not text:
            continue
        if first is None:
            first = el
            if not titles:
                return el
        if any(similar(text, t) for t in titles):
            return el
    if titles:
        for el in tree.iter("h2", "h3"):
            text = clean_space(el.text_content())
            if len(fold(text)) >= 6 and any(similar(text, t) for t in titles):
                return el
        if first is None:
            return _styled_headline(tree, titles)
    return first


_STYLED = ("b", "strong", "font", "big", "span", "div", "td", "p")
_LINKED = {"a", "li", "nav", "option", "title", "head"}


_TITLE_PARTS = re.compile(r"\s+[|\-–—:•·»]+\s+|\s*[｜|]\s*|\s*[:：]{1,2}\s+")


def _headline_part(title: str) -> str:
    """A declared title's headline: its longest segment ("Site :: Headline" → Headline)."""
    return fold(max(_TITLE_PARTS.split(title), key=len))


def _styled_headline(tree: HtmlElement, titles: list[str]) -> HtmlElement | None:
    """On pages with no heading element at all (older and table-layout pages set the headline
    in bold or a large font), the first block of its own, not a link, that is a declared
    title's headline segment: nearly equal to it, because without a heading's markup a loose
    likeness would take the masthead (the site's name and motto) for the headline."""
    heads = {h for h in map(_headline_part, titles) if len(h) >= 6}
    if not heads:
        return None
    longest = max(map(len, heads))
    for el in tree.iter(*_STYLED):
        text = fold(el.text_content())
        if not 6 <= len(text) <= longest + 20 or el.find(".//a") is not None:
            continue
        if any(a.tag in _LINKED for a in el.iterancestors()):
            continue
        for head in heads:
            matcher = SequenceMatcher(None, text, head, autojunk=False)
            if text == head or (matcher.real_quick_ratio() >= 0.85 and matcher.quick_ratio() >= 0.85
                                and matcher.ratio() >= 0.85):
                return el
    return None


def visible(tree: HtmlElement, titles: list[str] | None = None) -> Visible:
    """The page's visible text; ``titles`` (declared headlines: JSON-LD, og:title, <title>)
    tell which heading is the headline."""
    chunks: list[str] = []
    h1_el = _headline(tree, [t for t in titles or [] if t])
    h1_end: int | None = None
    times: list[str] = []
    length = 0

    def walk(el: HtmlElement) -> None:
        nonlocal length, h1_end
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in _SKIP_TAGS:
            return
        if tag == "time" and h1_end is not None and length - h1_end < 600 and el.get("datetime"):
            times.append(el.get("datetime"))
        if el.text and tag:
            t = clean_space(el.text)
            if t:
                chunks.append(t)
                length += len(t) + 1
        for child in el:
            walk(child)
            if child.tail:
                t = clean_space(child.tail)
                if t:
                    chunks.append(t)
                    length += len(t) + 1
        if el is h1_el:
            h1_end = length

    body = tree.find("body")
    walk(body if body is not None else tree)
    h1 = clean_space(h1_el.text_content()) if h1_el is not None else None
    return Visible("\n".join(chunks), h1, h1_end, times)


def title_tag(tree: HtmlElement) -> str | None:
    el = tree.find(".//title")
    return clean_space(el.text_content()) if el is not None else None


def paragraphs(text: str | None) -> list[str]:
    """Non-empty lines of an extracted text, whitespace cleaned."""
    return [p for p in (clean_space(line) for line in (text or "").split("\n")) if p]


def body_end(vis: Visible, paras: list[str]) -> int | None:
    """Offset in the visible stream just after the last body paragraph."""
    if not paras:
        return None
    probe = paras[-1][-40:]
    at = vis.text.rfind(probe)
    return at + len(probe) if at >= 0 else None
