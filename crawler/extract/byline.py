"""Who wrote the article: declared authors first, then the byline printed under the headline,
then the bracketed writer Japanese papers print after the body, then trafilatura's search."""
from __future__ import annotations

import re
import unicodedata

from lxml.html import HtmlElement

from newsmon.crawler.extract.engine import extract_author
from newsmon.crawler.extract.metadata import PageMetadata
from newsmon.crawler.extract.title import same_name
from newsmon.crawler.extract.visible import Visible
from newsmon.crawler.text import ASCII_SPACE

__all__ = ["NOT_A_NAME", "byline_names", "find_authors", "role_byline"]

_BYLINE = re.compile(r"^\s*(?:by|written by|words by|story by)\s+(.{2,80})$", re.I)
_BRACKETED_AUTHOR = re.compile(r"^[（(【〔\[]\s*([^（）()【】〔〕\[\]]{2,30}?)\s*[）)】〕\]]$")
_AUTHOR_NOISE = re.compile(
    r"^(?:by|written by|story by|text by|文\s*[:：=＝/／]?|筆者\s*[:：]?|著者\s*[:：]?|記者\s*[:：]?)\s*", re.I
)
# bracketed labels and credits that sit where a Japanese byline would, but name no writer
NOT_A_NAME = re.compile(
    r"(関連|記事|写真|動画|映像|広告|解説|速報|図解|特集|続き|更新|追記|訂正|提供|共同通信|時事通信|"
    r"ロイター|^共同$|^時事$|^AP$|^AFP|^PR$|^注$|copyright|all rights reserved)",
    re.I,
)


def _clean_author(name: str, site_names: list[str]) -> str | None:
    text = unicodedata.normalize("NFKC", name)  # full-width brackets and spaces to ASCII
    text = ASCII_SPACE.sub(" ", text).strip()
    if not text or "://" in text or text.startswith("www.") or "@" in text and " " not in text:
        return None
    for _ in range(3):
        before = text
        text = _AUTHOR_NOISE.sub("", text).strip()
        m = (re.fullmatch(r"[(\[【〔「《]\s*(.+?)\s*[)\]】〕」》]?", text)
             or re.fullmatch(r"(.+?)\s*[)\]】〕」》]", text))
        if m and (text[0] in "([【〔「《" or text[-1] in ")]】〕」》"):
            text = m.group(1).strip()
        text = text.strip(" ,;|・/-=·•–—")
        if text == before:
            break
    text = re.sub(r"\s*(記者|特派員|編集委員|論説委員|撮影)$", "", text).strip()
    if not text or len(text) > 80 or re.search(r"\d", text) or NOT_A_NAME.search(text):
        return None
    if same_name(text, site_names):
        return None
    return text


def _split_authors(raw: str) -> list[str]:
    parts = re.split(r"\s*(?:,|;|\band\b|&|、|／|\|)\s*", raw)
    return [p for p in parts if p]


# what a byline says after the writer's name: the job ("Tokyo correspondent", "Defence editor",
# "Business Reporters") or where it was filed from ("in Seoul")
_ROLE = re.compile(
    r"\b(?:correspondents?|editors?|reporters?|writers?|columnists?|staff|bureau|analysts?|"
    r"contributors?|journalists?|photographers?|producers?|desk|commentators?|critics?|"
    r"contributing|senior|deputy|associate|political|diplomatic|economics)\b",
    re.I,
)
_FILED_FROM = re.compile(r"\s+(?:in|at|from|reporting from)\s+[A-Z][\w.'’\- ]*$")
_BYLINE_PARTS = re.compile(r"\s*(?:,|;|\band\b|&|\||\s[-–—]\s)\s*")
_NAME_WORD = re.compile(r"^(?:[A-Z][\w.'’\-]*|de|da|van|von|der|den|bin|al|le|la|du)$")


def _looks_like_name(part: str) -> bool:
    words = part.split()
    return 1 <= len(words) <= 5 and words[0][:1].isupper() and all(_NAME_WORD.match(w) for w in words)


def byline_names(raw: str) -> list[str]:
    """The writers a byline's text names (after "By"): its parts split at commas, "and" and
    bars, without the role and place that follow a name ("Jane Doe, Tokyo correspondent",
    "Jane Doe in Seoul", "Jane Doe | Defence editor" → Jane Doe)."""
    names = []
    for part in _BYLINE_PARTS.split(raw.strip(" .")):
        part = _FILED_FROM.sub("", part.strip())
        if part and not _ROLE.search(part):
            names.append(part)
    return names


def role_byline(line: str) -> list[str] | None:
    """The writers of a byline printed without "By" but with a role: "Jane Doe, Tokyo
    correspondent", "Jane Doe | Defence editor"; None for anything else (prose, a name alone)."""
    text = line.strip()
    if len(text) > 80 or not _ROLE.search(text):
        return None
    parts = [p.strip() for p in _BYLINE_PARTS.split(text) if p.strip()]
    roles = [p for p in parts if _ROLE.search(p)]
    names = [p for p in parts if not _ROLE.search(p)]
    # the name(s) first, then the role: prose ("Reporters said on Monday...") has no name part
    if not names or not roles or parts.index(roles[0]) < parts.index(names[-1]):
        return None
    if any(len(r.split()) > 4 for r in roles) or not all(_looks_like_name(n) for n in names):
        return None
    return names


def _cleaned(names: list[str], site_names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        cleaned = _clean_author(name, site_names)
        if cleaned and cleaned not in out:
            out.append(cleaned)
    return out


def _declared(meta: PageMetadata, vis: Visible, site_names: list[str], body_end: int | None) -> list[str]:
    sources: list[list[str]] = [meta.ld_authors, [a for a in meta.meta_authors if "://" not in a],
                                meta.itemprop_authors]
    for names in sources:
        parts = [p for raw in names
                 for p in (_split_authors(raw) if "、" in raw or " and " in raw or "," in raw else [raw])]
        out = _cleaned(parts, site_names)
        if out:
            return out
    # a byline printed right after the headline ("By Jane Doe")
    for line in vis.after_h1(400).split("\n")[:8]:
        m = _BYLINE.match(line)
        raw = byline_names(m.group(1)) if m else role_byline(line)
        if raw:
            found = [n for n in (_clean_author(p, site_names) for p in raw) if n]
            if found:
                return found
    # Japanese papers print the writer in brackets after the body: （経済部・高橋直樹）
    if body_end is not None:
        for line in vis.text[body_end : body_end + 120].split("\n")[:3]:
            m = _BRACKETED_AUTHOR.match(line.strip())
            if m:
                cleaned = _clean_author(m.group(1), site_names)
                if cleaned:
                    return [cleaned]
    return []


def find_authors(tree: HtmlElement, meta: PageMetadata, vis: Visible, site_names: list[str],
                 body_end: int | None, printed: list[str] | None = None) -> list[str]:
    """Declared authors and bylines next to the headline or after the body; then ``printed``
    (a byline found inside the body text, ``ja_byline``); then trafilatura's search."""
    authors = _declared(meta, vis, site_names, body_end)
    if authors:
        return authors
    if printed:
        cleaned = _cleaned(printed, site_names)
        if cleaned:
            return cleaned
    # trafilatura's byline search (class/rel/itemprop="author" elements), only when the declared
    # metadata and the byline lines named nobody: it copies the tree
    found = extract_author(tree)
    return _cleaned(re.split(r"\s*;\s*", found), site_names) if found else []
