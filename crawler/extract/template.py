"""The page's template lines: short plain-text blocks outside the extracted body.

A footer line a site prints on every page (``無断転載・複製を禁じます``, "All rights reserved")
stays out of the body on long pages and leaks into it on short ones, where trafilatura keeps
more of the page. Counted only from the bodies, such a line is seen in the few short articles
and never reaches the boilerplate memory's threshold. The template lines give the memory what
every page shows, so the line is learned from all the source's pages (``Article.template``,
counted in ``newsmon.enrich.boilerplate``).

A template line is the text of a leaf block (a block element with no block inside it) that is
short (a notice, a label, not a paragraph of prose: a teaser's summary on another page must
never teach the memory an article's sentence), mostly not link text (menus and teaser lists
are links, and never leak into a body as lines of their own), and not a line of the body.
"""
from __future__ import annotations

from lxml.html import HtmlElement

from newsmon.crawler.text import clean_space, normalize

__all__ = ["template_lines"]

_BLOCKS = frozenset({"p", "div", "li", "td", "th", "dd", "dt", "h1", "h2", "h3", "h4", "h5", "h6",
                     "footer", "header", "section", "address", "blockquote", "center", "small",
                     "aside", "nav", "ul", "ol", "dl", "table", "tr", "form", "article", "main"})
_SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe", "button",
                   "select", "textarea", "option"})
MAX_CHARS = 80  # a template line is at most this long (after normalisation)
MAX_LINES = 60  # per page, in document order
_LINK_SHARE = 0.5


def template_lines(tree: HtmlElement, body: list[str]) -> list[str]:
    """The page's short, plain-text leaf blocks that are not lines of ``body`` (distinct, in
    document order, at most ``MAX_LINES``)."""
    in_body = {normalize(p) for p in body}
    out: list[str] = []
    seen: set[str] = set()

    def walk(el: HtmlElement) -> bool:
        """Collect under ``el``; returns whether ``el`` holds a block element."""
        holds_block = False
        for child in el:
            tag = child.tag if isinstance(child.tag, str) else ""
            if not tag or tag in _SKIP:
                continue
            inner = walk(child)
            if tag in _BLOCKS:
                holds_block = True
                if not inner and len(out) < MAX_LINES:
                    _take(child)
            elif inner:
                holds_block = True
        return holds_block

    def _take(el: HtmlElement) -> None:
        text = clean_space(el.text_content())
        # cheap tests before normalising: prose is long, menus and teasers are links
        if not text or len(text) > 2 * MAX_CHARS:
            return
        links = sum(len(clean_space(a.text_content())) for a in el.iter("a"))
        if links > _LINK_SHARE * len(text):
            return
        norm = normalize(text)
        if not norm or len(norm) > MAX_CHARS or norm in in_body or norm in seen:
            return
        seen.add(norm)
        out.append(text)

    root = tree.find("body")
    walk(root if root is not None else tree)
    return out
