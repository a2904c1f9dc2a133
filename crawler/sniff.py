"""What a response's bytes and Content-Type say it is: one list of binary signatures and HTML
types, used by the downloader guard (stop a PDF before it downloads), the spider (skip a binary
body) and extraction (refuse bytes that are not HTML). Light on purpose: no parser is imported.
"""
from __future__ import annotations

import re

__all__ = ["HTML_TYPES", "MAGIC", "binary_kind", "looks_like_html", "non_html_reason"]

# Content-Types an HTML page is served under in the wild (text/plain and XML types included:
# misconfigured servers use them for real pages)
HTML_TYPES: tuple[str, ...] = ("text/html", "application/xhtml+xml", "application/xml", "text/xml",
                               "text/plain")
# leading bytes of binary formats that reach article URLs
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "pdf"), (b"\x89PNG", "png"), (b"\xff\xd8\xff", "jpeg"), (b"GIF8", "gif"),
    (b"PK\x03\x04", "zip"), (b"\x1f\x8b", "gzip"), (b"%!PS", "postscript"), (b"OggS", "ogg"),
    (b"ID3", "mp3"), (b"\xd0\xcf\x11\xe0", "ms-office"), (b"\x00\x00\x01\x00", "icon"),
    (b"wOFF", "font"), (b"wOF2", "font"), (b"RIFF", "riff"), (b"{\\rtf", "rtf"),
    (b"BZh", "bzip2"), (b"7z\xbc\xaf", "7z"),
)
_HTML_SNIFF = re.compile(rb"<(?:!doctype\s+html|html|head|body|title|meta|div|p|article)[\s>/]", re.I)


def binary_kind(body: bytes | None) -> str | None:
    """The binary format the first bytes announce ('pdf', 'webp', 'mp4', …), else None."""
    if not body:
        return None
    head = body[:16].lstrip()
    for magic, name in MAGIC:
        if head.startswith(magic):
            return "webp" if name == "riff" and body[8:12] == b"WEBP" else name
    if body[4:8] == b"ftyp":
        return "mp4"
    return None


def looks_like_html(body: bytes) -> bool:
    """Whether an HTML tag shows in the first 4 KiB."""
    return _HTML_SNIFF.search(body[:4096]) is not None


def non_html_reason(content_type: str | None, body: bytes | None = None) -> str | None:
    """What the page is when it is not HTML ('application/pdf', 'pdf (magic bytes)'), else None.

    The Content-Type decides when it names a binary type; a text type, or none, is checked
    against the first bytes, because servers label PDFs as text/html and HTML as nothing."""
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    if ctype and not (ctype in HTML_TYPES or ctype.startswith("text/") or ctype.endswith("+xml")):
        return ctype
    kind = binary_kind(body)
    return f"{kind} (magic bytes)" if kind else None
