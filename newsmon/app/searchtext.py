"""The text both search backends rank, computed once per article version and kept in the store
(``search_text``): NFKC-normalised title and body, and their tokens from enrich's tokenizer
(Sudachi split mode A normalised forms for Japanese, Snowball stems for English; Latin words in
Japanese text get the English treatment, so "GCAP" is one token in both languages).

Queries go through the same ``query_tokens`` so that a query and a document meet on the same
tokens in both backends."""
from __future__ import annotations

import hashlib
import re

from newsmon.enrich.text import normalize, tokenize
from newsmon.index.core.article import Article
from newsmon.index.store.repos.changes import SearchText

TOKENIZER = "sudachi-core-A-normalized+snowball-en/1"
# kana, CJK ideographs, half/full-width forms: a query holding any of them is read as Japanese
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
MAX_QUERY_CHARS = 2000


def text_lang(text: str, hint: str | None = None) -> str:
    if hint in ("en", "ja"):
        return hint
    return "ja" if _JAPANESE.search(text) else "en"


def text_hash(article: Article) -> str:
    """What the search text depends on: the tokenizer, the language, the raw title and text."""
    parts = (TOKENIZER, article.lang or "", article.title, article.text)
    return hashlib.sha1("\x00".join(parts).encode()).hexdigest()


def search_text(article: Article) -> SearchText:
    lang = text_lang(article.title + article.text[:200], article.lang)
    title, body = normalize(article.title), normalize(article.text)
    return SearchText(article.id, article.lang, title, body,
                      " ".join(tokenize(title, lang)), " ".join(tokenize(body, lang)),
                      TOKENIZER, text_hash(article))


def query_tokens(query: str) -> tuple[str, ...]:
    """Tokens of a user's query (any text; a long paste is cut to its first 2000 characters).

    Japanese text is tokenised by Sudachi, anything else the English way."""
    text = normalize(query[:MAX_QUERY_CHARS])
    return tuple(tokenize(text, text_lang(text))) if text else ()


__all__ = ["TOKENIZER", "search_text", "text_hash", "query_tokens", "text_lang"]
