"""Whitespace and Unicode normalisation of page text, one definition each.

- ``normalize``: NFKC (full-width digits, letters and colons to ASCII) with every run of
  whitespace folded to one space; how dates are searched and how titles and names are compared
  (crawler, tests and benchmarks alike).
- ``clean_space``: ASCII whitespace folded, nothing else touched; what is stored and displayed
  (the ideographic space U+3000 inside Japanese headlines is part of the headline).
"""
from __future__ import annotations

import re
import unicodedata

__all__ = ["ASCII_SPACE", "clean_space", "normalize"]

_SPACE = re.compile(r"\s+")
ASCII_SPACE = re.compile(r"[ \t\r\n\f\v\u00a0]+")  # not U+3000: Japanese headlines keep it


def normalize(text: str | None) -> str:
    """NFKC with whitespace collapsed to single spaces and stripped."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text or "")).strip()


def clean_space(text: str | None) -> str:
    """ASCII whitespace (and no-break spaces) collapsed to one space and stripped."""
    return ASCII_SPACE.sub(" ", text or "").strip(" ")
