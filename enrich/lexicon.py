"""A bilingual lexicon of the monitored fields (``config/lexicon.yaml``).

General domain terms, English <-> Japanese (経済安全保障 <-> economic security), so that a query's
keyword evidence exists in an article of the other language (newsmon.app.search). Named things
are the gazetteer's (``enrich.entities``); this holds the vocabulary around them.

A phrase is kept as its normalised tokens, the way queries and the search text are tokenised
(``newsmon.app.searchtext.query_tokens``: Snowball stems for English, Sudachi normalised forms
for Japanese), and is matched as a bag of those tokens, like the gazetteer's names in evidence.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsmon.index.core.errors import ConfigError
from newsmon.index.core.yamlfile import load_yaml

__all__ = ["LexiconEntry", "Lexicon", "load_lexicon", "LEXICON_FIELDS"]

LEXICON_FIELDS = ("cyber", "economic-security", "defence", "diplomacy")
LANGS = ("en", "ja")


@dataclass(frozen=True, slots=True)
class LexiconEntry:
    field: str
    phrases: dict[str, tuple[str, ...]]  # lang -> phrases as written


@dataclass(frozen=True, slots=True)
class Lexicon:
    entries: tuple[LexiconEntry, ...]
    version: str   # hash of the definition
    source: str = ""

    def translations(self, tokenize: Any) -> dict[str, list[tuple[frozenset[str],
                                                                   tuple[frozenset[str], ...]]]]:
        """Per source language: [(a phrase's tokens, the tokens of each of its translations)],
        with ``tokenize`` (text -> tokens) the tokeniser of queries and the search text."""
        out: dict[str, list[tuple[frozenset[str], tuple[frozenset[str], ...]]]] = {
            lang: [] for lang in LANGS}
        for entry in self.entries:
            toks = {lang: [frozenset(tokenize(p)) for p in entry.phrases[lang]] for lang in LANGS}
            for src in LANGS:
                dst = tuple(t for t in toks["ja" if src == "en" else "en"] if t)
                out[src].extend((t, dst) for t in toks[src] if t)
        return out


def _fail(path: Path, where: str, message: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {message}", reason="lexicon")


def _phrases(raw: Any, path: Path, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        raise _fail(path, where, f"must be a non-empty list of phrases, got {raw!r}")
    out = []
    for item in raw:
        if not isinstance(item, str) or not item.strip():
            raise _fail(path, where, f"a phrase must be a non-empty string, got {item!r}")
        out.append(item.strip())
    return tuple(out)


def load_lexicon(path: str | Path, tokenize: Any = None) -> Lexicon:
    """Read and validate a lexicon; any problem raises ConfigError naming file, entry and key.
    With ``tokenize`` (text -> tokens), a phrase with no word in it is an error too."""
    path = Path(path)
    doc = load_yaml(path, "lexicon", reason="lexicon")
    if not isinstance(doc, dict) or set(doc) != {"terms"}:
        raise _fail(path, "top level", "must be a mapping with exactly one key, 'terms'")
    if not isinstance(doc["terms"], list) or not doc["terms"]:
        raise _fail(path, "terms", "must be a non-empty list")
    entries: list[LexiconEntry] = []
    for i, raw in enumerate(doc["terms"]):
        where = f"term #{i + 1}"
        if not isinstance(raw, dict):
            raise _fail(path, where, f"must be a mapping, got {type(raw).__name__}")
        unknown = set(raw) - {"field", *LANGS}
        if unknown:
            raise _fail(path, where, f"unknown key(s) {sorted(unknown)}; allowed: en, field, ja")
        for key in ("field", *LANGS):
            if key not in raw:
                raise _fail(path, where, f"missing key {key!r}")
        if raw["field"] not in LEXICON_FIELDS:
            raise _fail(path, where, f"key 'field' must be one of {', '.join(LEXICON_FIELDS)}, "
                                     f"got {raw['field']!r}")
        phrases = {lang: _phrases(raw[lang], path, f"{where}: key {lang!r}") for lang in LANGS}
        if tokenize is not None:
            for lang, items in phrases.items():
                for p in items:
                    if not tokenize(p):
                        raise _fail(path, where, f"key {lang!r}: {p!r} has no word in it")
        entries.append(LexiconEntry(raw["field"], phrases))
    canonical = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    version = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
    return Lexicon(tuple(entries), version, str(path))

