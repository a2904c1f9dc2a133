"""The article's main text: trafilatura's passes, the publisher's JSON-LD ``articleBody`` when it
is much longer, and bodies split over sibling containers put back together."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import lxml.etree
import lxml.html
from lxml.html import HtmlElement

from newsmon.crawler.extract.engine import SANITIZED_XPATH, bare_document
from newsmon.crawler.extract.metadata import PageMetadata
from newsmon.crawler.extract.visible import paragraphs
from newsmon.crawler.text import clean_space, normalize

if TYPE_CHECKING:
    from trafilatura.settings import Document

__all__ = ["Body", "find_body", "prose"]

# precision-mode text shorter than this gets a second, recall-mode pass...
_RECHECK_BELOW = {"ja": 400, "en": 1000}
# ...whose text replaces it when precision mode kept less than this share of it
_DROPPED_SHARE = 0.5


@dataclass(slots=True)
class Body:
    """The body as first found: ``paragraphs`` decide whether the page is an article;
    ``complete`` then gives the full body of one that is."""

    paragraphs: list[str]
    wider: str | None  # recall mode's text, when precision mode clearly dropped part of the body
    from_ld: bool  # the paragraphs are the JSON-LD articleBody

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    def complete(self, tree: HtmlElement) -> list[str]:
        if self.from_ld:
            return self.paragraphs
        if self.wider is not None:
            return paragraphs(self.wider)
        return _split_body(tree, self.paragraphs)


def find_body(tree: HtmlElement, url: str, meta: PageMetadata, lang_key: str) -> Body:
    precise, wider = _run_trafilatura(tree, url, lang_key)
    ld_body = _ld_body_text(meta.ld_body) if meta.ld_body else None
    if ld_body and len(ld_body) > 1.3 * len(precise) + 200:
        # the publisher's own copy of the body is much longer than what the page layout yielded
        return Body(paragraphs(ld_body), wider, from_ld=True)
    return Body(paragraphs(precise), wider, from_ld=False)


def prose(paras: list[str]) -> int:
    """Characters of prose: list items (teasers, links) do not count."""
    return sum(len(p) for p in paras if not p.startswith(("- ", "* ", "• ")))


# -- trafilatura ------------------------------------------------------------------------------


def _text_of(doc: Document | None) -> str:
    return (doc.text or "") if doc is not None else ""


def _complete(doc: Document | None, lang_key: str) -> bool:
    """Whether trafilatura's fast pass already gave what its full pass would.

    The full pass differs only by comparing its text with readability's and jusText's, and
    takes theirs where its own is short, empty, structurally deficient (no paragraph text,
    more tables than paragraphs) or "unclean" (asides, figures, forms left in). A fast text
    that is long, made of several paragraphs and clean leaves readability only one way to win
    (twice as long), which on 527 corpus pages never happened to such a text; every page
    where the two passes differed was caught here."""
    if doc is None or doc.body is None or len(doc.text or "") < _RECHECK_BELOW[lang_key]:
        return False
    body = doc.body
    count = len(body.findall(".//p"))
    return (
        count >= 2
        and len(body.findall(".//table")) <= count
        and not body.xpath(SANITIZED_XPATH)
    )


def _run_trafilatura(tree: HtmlElement, url: str, lang_key: str) -> tuple[str, str | None]:
    """Main text by trafilatura: precision mode first (it keeps related-links lists, captions
    and teasers out), and only when that comes back short a recall pass, offered when precision
    mode clearly dropped part of the body. Returns (precision text, wider text or None); the
    caller decides whether the page is an article on the precision text, because recall mode
    falls back to the whole page's text on pages that have no article.

    The precision pass runs in trafilatura's fast mode first (without the readability and
    jusText comparison, a third of the extraction's time) and again in full only when the
    fast text does not look complete (``_complete``)."""
    fast = bare_document(tree, url, precision=True, fast=True)
    if _complete(fast, lang_key):
        return _text_of(fast), None
    text = _text_of(bare_document(tree, url, precision=True, fast=False))
    if len(text) >= _RECHECK_BELOW[lang_key]:
        return text, None
    wider = _text_of(bare_document(tree, url, precision=False, fast=False))
    if len(text) < _DROPPED_SHARE * len(wider):
        return text, wider
    return text, None


# -- JSON-LD articleBody ----------------------------------------------------------------------

_BLOCK_TAGS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "figcaption",
               "section", "pre", "ul", "ol", "table"}


def _ld_body_text(raw: str) -> str:
    """JSON-LD articleBody as plain paragraphs: some publishers put (escaped) HTML in it."""
    text = raw
    for _ in range(2):
        if "&lt;" in text or "&amp;" in text or "&quot;" in text:
            text = html.unescape(text)
    if not re.search(r"<(?:p|div|br|span|a|h\d|img|em|strong|iframe)\b", text, re.I):
        return text
    try:
        frag = lxml.html.fragment_fromstring(text, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return re.sub(r"<[^>]+>", " ", text)
    for el in list(frag.iter("script", "style", "iframe", "figure", "img", "noscript")):
        if el.getparent() is not None:
            el.drop_tree()
    for el in frag.iter():
        if isinstance(el.tag, str) and el.tag in _BLOCK_TAGS:
            el.tail = "\n" + (el.tail or "")
            el.text = "\n" + (el.text or "")
    return str(frag.text_content())


# -- bodies split over sibling containers -----------------------------------------------------

_NOT_BODY = ("figure", "aside", "figcaption", "script", "style", "noscript", "button", "form")
_NON_WORD = re.compile(r"\W+")


_KEY_CHARS = 60
# characters read for a key: it is called on every long <p> of the page, and NFKC over whole
# paragraphs was a tenth of the body's own CPU; a key shorter than _KEY_CHARS (a prefix
# mostly punctuation) is computed again from the whole text
_KEY_HEAD = 200


def _key(text: str) -> str:
    key = _NON_WORD.sub("", normalize(text[:_KEY_HEAD])).lower()[:_KEY_CHARS]
    if len(key) < _KEY_CHARS and len(text) > _KEY_HEAD:
        key = _NON_WORD.sub("", normalize(text)).lower()[:_KEY_CHARS]
    return key


def _container_paragraphs(el: HtmlElement) -> list[str]:
    out = []
    for p in el.iter("p"):
        if any(a.tag in _NOT_BODY for a in p.iterancestors()):
            continue
        text = clean_space(p.text_content())
        if text:
            out.append(text)
    return out


def _link_density(el: HtmlElement) -> float:
    total = len(el.text_content())
    links = sum(len(a.text_content()) for a in el.iter("a"))
    return links / total if total else 1.0


def _split_body(tree: HtmlElement, paras: list[str]) -> list[str]:
    """Paragraphs of an article body split over several same-classed sibling containers (e.g.
    around ad slots), of which trafilatura keeps only the first. Returns the body in document
    order. Only near relatives of the container trafilatura chose count, only their <p> text,
    and only when it is prose (few links) that the body does not already hold."""
    wanted = {_key(p) for p in paras if len(p) >= 60}
    if not wanted:
        return paras
    containers: dict[HtmlElement, int] = {}
    for p in tree.iter("p"):
        text = p.text_content()
        if len(text) >= 60 and _key(text) in wanted:
            parent = p.getparent()
            if parent is not None:
                containers[parent] = containers.get(parent, 0) + 1
    if not containers:
        return paras
    home = max(containers, key=containers.__getitem__)
    cls = home.get("class")
    if not cls or not cls.strip():
        return paras
    near = list(home.iterancestors())[:3]
    have = {_key(p)[:30] for p in paras}
    extra: list[tuple[HtmlElement, list[str]]] = []
    for twin in near[-1].iter(home.tag) if near else ():
        if twin is home or twin.get("class") != cls or twin in near:
            continue
        if any(a.tag in ("nav", "header", "footer", "aside") for a in twin.iterancestors()):
            continue
        if home in set(twin.iterancestors()) or _link_density(twin) > 0.25:
            continue
        new = _container_paragraphs(twin)
        if any(_key(t)[:30] in have for t in new) or sum(len(t) for t in new) < 150:
            continue
        extra.append((twin, new))
    if not extra:
        return paras
    order = {el: i for i, el in enumerate(tree.iter()) if el is home or any(el is e for e, _ in extra)}
    parts = sorted([(order[home], paras)] + [(order[el], new) for el, new in extra], key=lambda x: x[0])
    return [p for _, ps in parts for p in ps]
