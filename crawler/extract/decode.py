"""Bytes and charset: refuse what is not HTML, decode with the right charset, parse."""
from __future__ import annotations

import re

from lxml.html import HtmlElement

from newsmon.crawler.extract.charset import decode_html
from newsmon.crawler.extract.engine import parse_html
from newsmon.crawler.page import Page
from newsmon.crawler.sniff import HTML_TYPES, binary_kind, looks_like_html
from newsmon.index.core import reasons
from newsmon.index.core.errors import ExtractError

__all__ = ["check_bytes", "read_page"]

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def check_bytes(page: Page) -> None:
    """Raise ``ExtractError`` (empty / not_html) for bytes that cannot hold an HTML article."""
    body = page.body
    if not body or not body.strip():
        raise ExtractError(f"empty body: {page.url}", reason=reasons.EMPTY)
    if binary_kind(body):
        raise ExtractError(f"binary content ({body[:16].lstrip()[:8]!r}): {page.url}", reason=reasons.NOT_HTML)
    ctype = (page.content_type or "").split(";")[0].strip().lower()
    sniffed = looks_like_html(body)
    if ctype and not ctype.startswith(HTML_TYPES) and not sniffed:
        raise ExtractError(f"content type {ctype}: {page.url}", reason=reasons.NOT_HTML)
    if not sniffed:
        sample = body[:2048]
        controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
        if controls > len(sample) // 20 or b"<" not in sample:
            raise ExtractError(f"no HTML markup: {page.url}", reason=reasons.NOT_HTML)


def read_page(page: Page) -> tuple[str, HtmlElement, str]:
    """(decoded text, parsed tree, codec used); raises ``ExtractError`` for bytes that are not
    HTML (``check_bytes``) or do not parse (malformed)."""
    check_bytes(page)
    text, charset = decode_html(page.body, page.content_type)
    text = _XML_DECLARATION.sub("", text)
    try:
        tree = parse_html(text)
    except (ValueError, TypeError) as err:
        raise ExtractError(f"cannot parse HTML ({err}): {page.url}", reason=reasons.MALFORMED) from err
    if tree is None:
        raise ExtractError(f"cannot parse HTML: {page.url}", reason=reasons.MALFORMED)
    return text, tree, charset
