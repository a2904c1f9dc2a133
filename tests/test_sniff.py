"""One list of binary signatures and HTML types for the download guard, the spider and extraction."""
from __future__ import annotations

import pytest

from newsmon.crawler.sniff import binary_kind, looks_like_html, non_html_reason


@pytest.mark.parametrize("body, kind", [
    (b"%PDF-1.7\n", "pdf"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF89a", "gif"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"), (b"RIFF\x00\x00\x00\x00WAVEfmt ", "riff"),
    (b"\x00\x00\x00\x18ftypmp42", "mp4"), (b"  \n%PDF-1.4", "pdf"),
    (b"<!doctype html><html>", None), (b"", None),
])
def test_binary_kind(body: bytes, kind: str | None) -> None:
    assert binary_kind(body) == kind


def test_non_html_reason_trusts_binary_types_and_checks_text_types_against_the_bytes() -> None:
    assert non_html_reason("application/pdf") == "application/pdf"
    assert non_html_reason("text/html; charset=utf-8", b"%PDF-1.7") == "pdf (magic bytes)"
    assert non_html_reason("application/xhtml+xml", b"<html>") is None
    assert non_html_reason(None, b"<html><body>") is None


def test_looks_like_html() -> None:
    assert looks_like_html(b"\n\n<HTML lang=en><head>")
    assert not looks_like_html(b'{"json": true}')
