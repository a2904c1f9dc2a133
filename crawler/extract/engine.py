"""Everything extraction takes from trafilatura, in one place.

Public API: ``bare_extraction`` and ``load_html``. Two internals are used as well, because the
public API offers no equivalent: ``SANITIZED_XPATH`` (the elements trafilatura itself counts as
"unclean" when it compares its text with readability's; ``body.complete`` asks the same question
of a fast pass) and ``metadata.extract_author`` (its byline search, without the whole metadata
pass). pyproject pins trafilatura below 3, and tests/test_extract.py checks both internals
(``test_trafilatura_internals``), so an upgrade that moves them fails there, not mid-crawl.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, cast

import trafilatura
from lxml.html import HtmlElement
from trafilatura import load_html
from trafilatura.external import SANITIZED_XPATH
from trafilatura.metadata import extract_author

if TYPE_CHECKING:
    from trafilatura.settings import Document

__all__ = ["SANITIZED_XPATH", "bare_document", "extract_author", "load_html"]


def bare_document(tree: HtmlElement, url: str, *, precision: bool, fast: bool) -> Document | None:
    """trafilatura's main-text pass without metadata: precision or recall mode, fast (no
    readability / jusText comparison) or full."""
    # a dict only with as_dict=True, which trafilatura's annotation does not tell apart
    return cast("Document | None", trafilatura.bare_extraction(
        tree, url=url, include_comments=False, favor_precision=precision,
        favor_recall=not precision, with_metadata=False, fast=fast,
    ))
