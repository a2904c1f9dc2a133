"""Text utilities shared by language detection, topic tagging, entities and search.

Japanese and English go through the same four steps — normalise, split into sentences,
tokenise, match phrases — but each language has its own tokeniser:

- Japanese: Sudachi (dictionary from the ``sudachidict-core`` package), split mode A so that a
  term such as 防衛 also matches inside 防衛費 and 防衛省, and each token's *normalised form* so
  that spelling variants meet (希土類/稀土類, 三原則/3原則). Latin-script runs inside Japanese
  text (GCAP, NATO, ＶＰＮ after NFKC) get the English treatment, so "GCAP" is the same token in
  both languages.
- English: lower case, split on non-letters (keeping ``2+2`` whole), Snowball (Porter 2)
  stemming so that "minerals", "mineral" and "mineral's" meet.

Whitespace splitting is never used for Japanese.
"""
from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import snowballstemmer
from sudachipy import Dictionary, Tokenizer

__all__ = [
    "Token",
    "Sentence",
    "PhraseMatcher",
    "Match",
    "normalize",
    "tokenize",
    "char_ngrams",
    "sentences",
    "analyze",
    "stem",
    "word_spans",
]

# Characters that NFKC leaves alone but that only get in the way of matching.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*")
_LINE_BREAK = re.compile(r"[ ]*\n[ ]*")


def normalize(text: str) -> str:
    """NFKC, invisible characters removed, runs of spaces folded to one space.

    Line structure survives: a single line break stays, any blank-line gap becomes exactly one
    empty line (a paragraph break), because sentence splitting and the "lead" of an article
    depend on paragraphs. Japanese is untouched apart from NFKC (ＧＣＡＰ → GCAP, ２＋２ → 2+2,
    the ideographic space → a plain space, half-width katakana → full-width).
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n\n", text)
    text = _LINE_BREAK.sub(lambda m: "\n", text)
    return text.strip()


# --- English -------------------------------------------------------------------------------

_STEMMER_LOCAL = threading.local()
# "2+2" (the foreign/defence ministers' format) stays one token; words keep an inner apostrophe
# so that the possessive can be dropped rather than left behind as a stray "s".
_EN_TOKEN = re.compile(r"\d+(?:\+\d+)+|[^\W_]+(?:'[^\W_]+)*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})


def _stemmer() -> snowballstemmer.stemmer:
    # Snowball stemmers keep state between calls, so one per thread.
    st = getattr(_STEMMER_LOCAL, "stemmer", None)
    if st is None:
        st = _STEMMER_LOCAL.stemmer = snowballstemmer.stemmer("english")
    return st


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Snowball English stem of one lower-case word; possessive 's dropped first."""
    if word.endswith("'s"):
        word = word[:-2]
    word = word.replace("'", "")
    if not word or not word.isascii() or not word.isalpha():
        return word
    stemmed: str = _stemmer().stemWord(word)  # snowballstemmer has no type information
    return stemmed


def _en_tokens(text: str, offset: int = 0) -> list[Token]:
    out: list[Token] = []
    for m in _EN_TOKEN.finditer(text.translate(_APOSTROPHES)):
        surface = text[m.start() : m.end()]
        norm = stem(m.group().lower())
        if norm:
            out.append(Token(norm, surface, offset + m.start(), offset + m.end()))
    return out


# --- Japanese ------------------------------------------------------------------------------

_SUDACHI_LOCAL = threading.local()
# Sudachi refuses inputs above ~49 KB; sentences are far shorter, but a text without
# punctuation is cut into pieces of this many characters.
_SUDACHI_CHUNK = 4000
_SKIP_POS = {"補助記号", "空白"}


@functools.lru_cache(maxsize=1)
def _sudachi_dictionary() -> Dictionary:
    return Dictionary(dict="core")


def _sudachi() -> Tokenizer:
    # Building a tokenizer is slow and one instance must not be used by two threads at once:
    # the dictionary is shared, each thread gets its own tokenizer, built on first use.
    tok: Tokenizer | None = getattr(_SUDACHI_LOCAL, "tokenizer", None)
    if tok is None:
        tok = _SUDACHI_LOCAL.tokenizer = _sudachi_dictionary().tokenizer(mode="A")
    return tok


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each word of a Japanese text as a reader sees words: Sudachi's long
    units (split mode C: 戦闘機, not 戦闘 + 機), for showing whole words where matching works on
    short ones."""
    tok: Tokenizer | None = getattr(_SUDACHI_LOCAL, "long_units", None)
    if tok is None:
        tok = _SUDACHI_LOCAL.long_units = _sudachi_dictionary().tokenizer(mode="C")
    spans: list[tuple[int, int]] = []
    for start in range(0, len(text), _SUDACHI_CHUNK):
        spans += [(start + m.begin(), start + m.end())
                  for m in tok.tokenize(text[start:start + _SUDACHI_CHUNK])]
    return spans


def _is_latin_or_digit(s: str) -> bool:
    return s.isascii() and any(c.isalnum() for c in s)


def _ja_tokens(text: str, offset: int = 0) -> list[Token]:
    out: list[Token] = []
    tok = _sudachi()
    for start in range(0, len(text), _SUDACHI_CHUNK):
        chunk = text[start : start + _SUDACHI_CHUNK]
        morphemes = tok.tokenize(chunk)
        pending_plus = False
        for m in morphemes:
            surface = m.surface()
            begin, end = offset + start + m.begin(), offset + start + m.end()
            if surface == "+" and out and out[-1].norm.isdigit() and out[-1].end == begin:
                pending_plus = True
                continue
            if pending_plus:
                pending_plus = False
                prev = out[-1]
                if surface.isdigit() and prev.end + 1 == begin:
                    # 2 + 2 from Sudachi becomes the same "2+2" token English produces
                    out[-1] = Token(f"{prev.norm}+{surface}", prev.surface + "+" + surface, prev.start, end)
                    continue
            if m.part_of_speech()[0] in _SKIP_POS:
                continue
            if _is_latin_or_digit(surface):
                out.extend(_en_tokens(surface, begin))
                continue
            norm = m.normalized_form().lower()
            if norm and any(c.isalnum() for c in norm):
                out.append(Token(norm, surface, begin, end))
    return out


# --- shared --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    """A token: ``norm`` is what matching and search compare, ``surface`` what the text says."""

    norm: str
    surface: str
    start: int  # character offsets into the normalised text the token came from
    end: int


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    paragraph: int  # 0-based paragraph index (paragraphs are separated by blank lines)
    tokens: tuple[Token, ...]


def _tokens(text: str, lang: str) -> list[Token]:
    return _ja_tokens(text) if lang == "ja" else _en_tokens(text)


def tokenize(text: str, lang: str) -> list[str]:
    """Normalised tokens for matching and keyword search; punctuation is dropped.

    ``lang`` is "ja" for Sudachi; anything else is tokenised the English way (lower case and
    Snowball stem), which is also what Latin words inside Japanese text get.
    """
    return [t.norm for s in analyze(text, lang) for t in s.tokens]


def char_ngrams(text: str, n: int = 3) -> list[str]:
    """Overlapping character n-grams of the normalised, lower-cased text, for fingerprints.

    Punctuation is removed and whitespace folded to one space, so that layout and full-width
    variants of the same text give the same n-grams; Japanese needs no word boundaries here.
    A text shorter than ``n`` (but not empty) is its own single gram.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    cleaned = "".join(c if c.isalnum() else " " for c in normalize(text).lower())
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        return []
    if len(cleaned) <= n:
        return [cleaned]
    return [cleaned[i : i + n] for i in range(len(cleaned) - n + 1)]


# Japanese: a sentence ends at 。！？ (NFKC turns ！？ into !?), plus any closing brackets.
_JA_END = re.compile(r"[。!?]+[」』）)\]】\"']*")
# English: .!? plus closing quotes/brackets, then space, then something that can start a
# sentence. Abbreviations and initials are checked separately.
_EN_END = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s+[\"'\u201c\u2018(\[]?[A-Z0-9])")
_EN_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "st", "gen", "lt", "col", "sgt", "capt", "cmdr", "adm",
    "rep", "sen", "gov", "rev", "no", "vs", "v", "inc", "ltd", "co", "corp", "jr", "sr", "fig",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "e.g", "i.e", "u.s", "u.k", "u.n", "etc", "approx", "est",
}


def _split_en(par: str) -> Iterable[str]:
    start = 0
    for m in _EN_END.finditer(par):
        before = par[start : m.start()]
        word = before.rsplit(None, 1)[-1] if before.strip() else ""
        bare = word.lower().lstrip("\"'(")
        if m.group().startswith(".") and (bare in _EN_ABBREV or (len(bare) == 1 and bare.isalpha())):
            continue
        yield par[start : m.end()]
        start = m.end()
    yield par[start:]


_JA_CLOSERS = "」』）)]】\"'"


def _split_ja(par: str) -> Iterable[str]:
    start = 0
    for m in _JA_END.finditer(par):
        if m.group()[-1] in _JA_CLOSERS and m.end() < len(par):
            # 「…加速する。」と語った。 — a quotation ending in 。 is inside the sentence
            continue
        yield par[start : m.end()]
        start = m.end()
    yield par[start:]


def _sentence_texts(text: str, lang: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    split = _split_ja if lang == "ja" else _split_en
    for p, par in enumerate(normalize(text).split("\n\n")):
        # a single line break inside a paragraph also ends a sentence (lists, headings)
        for line in par.split("\n"):
            for s in split(line):
                s = s.strip()
                if s:
                    out.append((s, p))
    return out


def sentences(text: str, lang: str) -> list[str]:
    """Sentences of the normalised text: 。！？ end one in Japanese, .!? in English.

    Paragraph and line breaks always end a sentence, so headings and list items stand alone.
    """
    return [s for s, _ in _sentence_texts(text, lang)]


@functools.lru_cache(maxsize=256)
def analyze(text: str, lang: str) -> tuple[Sentence, ...]:
    """Sentences with their tokens: the one pass that topics, entities and search share.

    Cached per (text, lang) so that an article is tokenised once however many enrichers look
    at it; callers must treat the result as read-only (it is made of frozen objects).
    """
    lang = "ja" if lang == "ja" else "en"
    return tuple(Sentence(s, p, tuple(_tokens(s, lang))) for s, p in _sentence_texts(text, lang))


# --- phrase matching -----------------------------------------------------------------------


K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class Match(Generic[K]):
    key: K  # what the phrase was registered with (a term, an entity id…)
    phrase: str  # the phrase as written in the configuration
    start: int  # token index of the first matched token
    end: int  # token index after the last matched token


class PhraseMatcher(Generic[K]):
    """Finds phrases in token sequences: longest match first, matches never overlap.

    Phrases are tokenised with the same tokeniser as the text (``tokenize``), so a phrase
    matches exactly when its normalised tokens appear consecutively. A phrase registered with
    ``case_sensitive=True`` must also match the tokens' surface forms exactly — acronyms such as
    "US" or "MOD" that are ordinary words in lower case.
    """

    def __init__(self) -> None:
        self._by_first: dict[str, list[tuple[tuple[str, ...], tuple[str, ...] | None, K, str]]] = {}

    def add(self, phrase: str, lang: str, key: K, *, case_sensitive: bool = False) -> bool:
        """Register ``phrase``; returns False when it has no tokens (all punctuation)."""
        toks = _tokens(normalize(phrase), "ja" if lang == "ja" else "en")
        if not toks:
            return False
        norms = tuple(t.norm for t in toks)
        surfaces = tuple(t.surface for t in toks) if case_sensitive else None
        entries = self._by_first.setdefault(norms[0], [])
        entries.append((norms, surfaces, key, phrase))
        entries.sort(key=lambda e: -len(e[0]))
        return True

    def find(self, tokens: Sequence[Token]) -> list[Match[K]]:
        out: list[Match[K]] = []
        i, n = 0, len(tokens)
        while i < n:
            entries = self._by_first.get(tokens[i].norm)
            hit = None
            if entries:
                for norms, surfaces, key, phrase in entries:
                    k = len(norms)
                    if i + k > n:
                        continue
                    window = tokens[i : i + k]
                    if any(t.norm != w for t, w in zip(window, norms)):
                        continue
                    if surfaces is not None and any(t.surface != s for t, s in zip(window, surfaces)):
                        continue
                    hit = Match(key, phrase, i, i + k)
                    break
            if hit is None:
                i += 1
            else:
                out.append(hit)
                i = hit.end
        return out

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_first.values())
