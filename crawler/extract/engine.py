"""Everything extraction takes from trafilatura, in one place.

Public API: ``bare_extraction`` and ``load_html``. A few internals are used as well, because the
public API offers no equivalent: ``SANITIZED_XPATH`` (the elements trafilatura itself counts as
"unclean" when it compares its text with readability's; ``body.complete`` asks the same question
of a fast pass), ``metadata.extract_author`` (its byline search, without the whole metadata
pass), and ``load_html``'s parser and repairs (``parse_html``: the same tree without its one
costly step). pyproject pins trafilatura below 3, and tests/test_extract.py checks both internals
(``test_trafilatura_internals``), so an upgrade that moves them fails there, not mid-crawl.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, cast

import lxml.html
import trafilatura
from lxml import etree
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HtmlProcessingInstruction
from trafilatura import load_html
from trafilatura.external import SANITIZED_XPATH
from trafilatura.metadata import extract_author
from trafilatura.utils import DOCTYPE_TAG, FAULTY_HTML, fromstring_bytes, is_dubious_html

if TYPE_CHECKING:
    from trafilatura.settings import Document

__all__ = ["SANITIZED_XPATH", "bare_document", "extract_author", "load_html", "parse_html"]

# the characters trafilatura's load_html deletes before parsing (utils.INVALID_XML_CHARS)
_XML_INVALID = (*(chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32))), "\ufffe", "\uffff")

# trafilatura's HTML_PARSER (the same options), but every element an ``HtmlElement``, chosen in C:
# lxml.html's parser asks a Python method for the class of each element proxy it makes, over a
# million calls for 323 pages (trafilatura's passes, our walks), about 6% of the extraction's CPU
# (BENCHMARKS.md, issue 17 fourth round). What is lost are lxml.html's form classes
# (FormElement, InputElement…: form field values), which neither trafilatura nor newsmon reads.
HTML_PARSER = lxml.html.HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8",
                                   remove_comments=True, remove_pis=True)
HTML_PARSER.set_element_class_lookup(etree.ElementDefaultClassLookup(
    element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity))


def bare_document(tree: HtmlElement, url: str, *, precision: bool, fast: bool) -> Document | None:
    """trafilatura's main-text pass without metadata: precision or recall mode, fast (no
    readability / jusText comparison) or full."""
    # a dict only with as_dict=True, which trafilatura's annotation does not tell apart
    return cast("Document | None", trafilatura.bare_extraction(
        tree, url=url, include_comments=False, favor_precision=precision,
        favor_recall=not precision, with_metadata=False, fast=fast,
    ))


def parse_html(text: str) -> HtmlElement | None:
    """``load_html`` of a decoded page, the same tree, without its costliest step: it deletes
    the characters XML forbids with a regular expression run over the whole page, a millisecond
    a page (a thirtieth of our extraction's CPU) for a page that almost never holds one. Here
    the page is searched for each of them first (substring search in C, a third of the time) and
    handed to ``load_html`` whole when one is there; otherwise its other repairs and parse run
    as in ``load_html`` (trafilatura 2.x, pinned; tests/test_extract.py compares the trees)."""
    if any(c in text for c in _XML_INVALID):
        return load_html(text)
    beginning = text[:50].lower()
    if "doctype" in beginning:
        firstline, _, rest = text.partition("\n")
        text = DOCTYPE_TAG.sub("", firstline, count=1) + "\n" + rest
    for line in text[:4096].splitlines()[:4]:
        if "<html" in line and line.endswith("/>"):
            text = FAULTY_HTML.sub(r"\1>", text, count=1)
            break
    tree: HtmlElement | None = None
    fallback = False
    try:
        tree = lxml.html.fromstring(text, parser=HTML_PARSER)
    except ValueError:  # a string with an encoding declaration
        tree, fallback = fromstring_bytes(text), True
    if (tree is None or len(tree) < 1) and not fallback:
        tree = fromstring_bytes(text)
    if tree is not None and is_dubious_html(beginning) and len(tree) < 2:
        return None  # not HTML, as load_html decides
    return tree
