"""Bytes of a fetched page → an ``Article``: decode, run trafilatura for the body, then fill and
cross-check the metadata from what the page declares (JSON-LD, OpenGraph, ``<time>``) and from
the visible lines next to the headline.

``extract_article`` is a top-level, picklable function: the crawler runs it in worker processes.
A page that is not an article raises ``ExtractError`` with one of ``REASONS``:

- ``not_html``    binary or non-HTML bytes (PDF, images, archives, JSON) that reached extraction
- ``empty``       no bytes, or an HTML document with no visible text
- ``malformed``   the bytes cannot be parsed as HTML at all
- ``not_article`` a home, section, list or static page: too little main text and no article signals
- ``challenge``   a bot challenge or "access denied" interstitial with no article on it

A page that is an article but not all of it is returned with ``status`` PAYWALLED, TRUNCATED or
CHALLENGE and the evidence in ``flags`` (e.g. ``paywall:isAccessibleForFree``), so it is stored and
counted as incomplete rather than silently kept as if it were whole.
"""
from __future__ import annotations

import html
import logging
import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher
from datetime import datetime
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.etree
import lxml.html
import trafilatura
from lxml.html import HtmlElement
from trafilatura.external import SANITIZED_XPATH
from trafilatura.metadata import extract_author
from trafilatura.settings import Document
from trafilatura.utils import load_html

from newsmon.crawler.charset import decode_html
from newsmon.crawler.dates import find_dates, parse_date
from newsmon.crawler.metadata import ARTICLE_TYPES, PageMetadata, read_metadata
from newsmon.crawler.page import Page
from newsmon.index.article import Article, Status
from newsmon.index.errors import ExtractError

log = logging.getLogger(__name__)

REASONS: tuple[str, ...] = ("not_html", "empty", "malformed", "not_article", "challenge")

_BINARY_MAGIC: tuple[bytes, ...] = (
    b"%PDF", b"\x89PNG", b"GIF87a", b"GIF89a", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b",
    b"RIFF", b"ID3", b"OggS", b"%!PS", b"{\\rtf", b"\xd0\xcf\x11\xe0", b"BZh", b"7z\xbc\xaf",
    b"wOFF", b"wOF2", b"\x00\x00\x01\x00",
)
_HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml", "text/plain")
_HTML_SNIFF = re.compile(rb"<(?:!doctype\s+html|html|head|body|title|meta|div|p|article)[\s>/]", re.I)

# what separates a site's name from the headline in <title>
_TITLE_SEPARATORS = re.compile(r"\s+[|\-–—:•·»]\s+|\s*[｜|]\s*|\s+::\s+|\s*[:：]\s+")
_ASCII_SPACE = re.compile(r"[ \t\r\n\f\v\u00a0]+")  # not U+3000: Japanese headlines keep it

_CHALLENGE_TITLE = re.compile(
    r"^\s*(just a moment|attention required|access denied|please wait|security check|"
    r"are you a (?:robot|human)|verify(?:ing)? you are (?:a )?human|pardon our interruption|"
    r"one more step|robot check|ddos-guard|captcha|you have been blocked|"
    r"アクセスが拒否されました|ロボットではありません)",
    re.I,
)
_CHALLENGE_MARKERS: tuple[tuple[str, str], ...] = (
    ("cf_chl_opt", "cloudflare"),
    ("cf-browser-verification", "cloudflare"),
    ("challenges.cloudflare.com/turnstile", "cloudflare"),
    ("captcha-delivery.com", "datadome"),
    ("_incapsula_resource", "incapsula"),
    ("px-captcha", "perimeterx"),
    ("distil_r_captcha", "distil"),
    ("awswaf", "aws-waf"),
)
_CHALLENGE_MARKERS_BYTES = tuple((m.encode("ascii"), kind) for m, kind in _CHALLENGE_MARKERS)
_PAYWALL_TEXT = re.compile(
    r"(有料会員(?:限定|の方|登録)|会員限定(?:記事|です)|この記事は有料|続きは有料|"
    r"残り\s*\d[\d,]*\s*文字|有料プラン|プレミアム会員限定|"
    r"subscribe (?:now )?to (?:continue|read|keep reading)|subscribers? only|"
    r"this (?:article|story|content) is (?:only )?(?:available )?(?:exclusively )?for (?:paid )?subscribers|"
    r"already a subscriber\?|to continue reading,? (?:please )?(?:subscribe|log ?in|sign ?in)|"
    r"start your (?:free )?trial to (?:read|continue))",
    re.I,
)
_TRUNCATED_TEXT = re.compile(
    r"(continue reading|read the full (?:story|article)|read full (?:story|article)|"
    r"full story|続きを読む|全文を読む|全文はこちら|記事全文|続きはこちら|この記事の続き)",
    re.I,
)
# below these body lengths (characters) a "continue reading" marker means the text is cut short
_SHORT_BODY = {"ja": 800, "en": 2000}
# main text at least this long makes a page an article even with no article markup
_ARTICLE_MIN = {"ja": 150, "en": 400}
_LONG_TEXT = {"ja": 500, "en": 1500}
# precision-mode text shorter than this gets a second, recall-mode pass...
_RECHECK_BELOW = {"ja": 400, "en": 1000}
# ...whose text replaces it when precision mode kept less than this share of it
_DROPPED_SHARE = 0.5
# article URLs carry a date, a numeric id or a slug of words; section and static pages rarely do
_ARTICLE_URL = re.compile(r"/(?:19|20)\d\d[/-]?\d\d|\d{5,}|[^/]*[a-z0-9]+-[a-z0-9]+-[a-z0-9]+-[a-z0-9]+", re.I)

_BYLINE = re.compile(r"^\s*(?:by|written by|words by|story by)\s+(.{2,80})$", re.I)
_BRACKETED_AUTHOR = re.compile(r"^[（(【〔\[]\s*([^（）()【】〔〕\[\]]{2,30}?)\s*[）)】〕\]]$")
_AUTHOR_NOISE = re.compile(
    r"^(?:by|written by|story by|text by|文\s*[:：=＝/／]?|筆者\s*[:：]?|著者\s*[:：]?|記者\s*[:：]?)\s*", re.I
)
# bracketed labels and credits that sit where a Japanese byline would, but name no writer
_NOT_A_NAME = re.compile(
    r"(関連|記事|写真|動画|映像|広告|解説|速報|図解|特集|続き|更新|追記|訂正|提供|共同通信|時事通信|"
    r"ロイター|^共同$|^時事$|^AP$|^AFP|^PR$|^注$|copyright|all rights reserved)",
    re.I,
)
_UPDATED_MARK = re.compile(r"(更新|updated|modified|last updated)", re.I)


@dataclass(slots=True)
class _Visible:
    """The page's visible text as one stream, with where the headline sits in it."""

    text: str
    h1: str | None
    h1_end: int | None  # offset just after the headline in ``text``
    time_after_h1: list[str]  # datetime attributes of <time> elements soon after the headline


_SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "head", "iframe", "button", "select", "textarea"}


def _visible(tree: HtmlElement) -> _Visible:
    chunks: list[str] = []
    h1_el = None
    for el in tree.iter("h1"):
        if _clean_space(el.text_content()):
            h1_el = el
            break
    h1_end: int | None = None
    times: list[str] = []
    length = 0

    def walk(el: HtmlElement) -> None:
        nonlocal length, h1_end
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in _SKIP_TAGS:
            return
        if tag == "time" and h1_end is not None and length - h1_end < 600 and el.get("datetime"):
            times.append(el.get("datetime"))
        if el.text and tag:
            t = _clean_space(el.text)
            if t:
                chunks.append(t)
                length += len(t) + 1
        for child in el:
            walk(child)
            if child.tail:
                t = _clean_space(child.tail)
                if t:
                    chunks.append(t)
                    length += len(t) + 1
        if el is h1_el:
            h1_end = length

    body = tree.find("body")
    walk(body if body is not None else tree)
    h1 = _clean_space(h1_el.text_content()) if h1_el is not None else None
    return _Visible("\n".join(chunks), h1, h1_end, times)


def _clean_space(text: str | None) -> str:
    return _ASCII_SPACE.sub(" ", text or "").strip(" ")


def _strip_site_name(title: str, site_names: list[str]) -> str:
    title = _clean_space(title)
    if not title:
        return title
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title
    names = {_norm(n) for n in site_names if n}
    # drop leading and trailing segments that are the site's name (or a section name before it)
    while len(parts) > 1 and (_norm(parts[-1]) in names or (names and any(_norm(parts[-1]).startswith(n) or n.startswith(_norm(parts[-1])) for n in names if len(n) > 3))):
        parts = parts[:-1]
    while len(parts) > 1 and _norm(parts[0]) in names:
        parts = parts[1:]
    if len(parts) == len(_TITLE_SEPARATORS.split(title)):
        # no segment named the site: keep the longest segment only if the rest are short labels
        return title
    # rebuild from the original string so separators inside the headline survive
    kept = parts
    start = title.find(kept[0])
    end = title.rfind(kept[-1]) + len(kept[-1])
    return title[start:end].strip() if start >= 0 and end > start else " ".join(kept)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text or "")).strip().lower()


def _similar(a: str, b: str) -> bool:
    x, y = _norm(a), _norm(b)
    if not x or not y:
        return False
    if x in y or y in x:
        return min(len(x), len(y)) >= 0.5 * max(len(x), len(y))
    return SequenceMatcher(None, x, y, autojunk=False).ratio() >= 0.6


def _pick_title(meta: PageMetadata, vis: _Visible, html_title: str | None, site_names: list[str]) -> str:
    """The headline as displayed: the page's <h1> when the declared titles (JSON-LD headline,
    og:title, <title>) confirm it is the headline and not a logo or section name; otherwise
    JSON-LD headline > og:title > <title>, each without a site-name suffix. Whitespace is
    collapsed but the ideographic space U+3000 is kept."""
    declared = [
        _clean_space(html.unescape(t)) for t in (meta.ld_headline, meta.og_title, html_title) if t
    ]
    declared = [_strip_site_name(t, site_names) for t in declared]
    h1 = vis.h1
    if h1 and (not declared or any(_similar(h1, t) for t in declared)):
        return h1
    return declared[0] if declared else (h1 or "")


def _resolve(url: str, ref: str | None) -> str | None:
    if not ref:
        return None
    try:
        return urljoin(url, ref.strip())
    except ValueError:
        return None


def _strip_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


_SECOND_LEVEL = {"co", "ne", "or", "go", "ac", "ad", "ed", "gr", "lg", "com", "net", "org", "gov", "edu", "ltd", "plc"}


def _site(host: str) -> str:
    labels = host.lower().rstrip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _canonical(page_url: str, meta: PageMetadata) -> str:
    page = urlsplit(page_url)
    for ref in (meta.canonical, meta.og_url):
        url = _resolve(page_url, ref)
        if not url:
            continue
        cand = urlsplit(url)
        if cand.scheme not in ("http", "https") or not cand.hostname or not page.hostname:
            continue
        if _site(cand.hostname) != _site(page.hostname):
            continue
        # a canonical that points at the home page is a template error, not a statement that
        # this article is the home page: following it would merge every article into one
        if cand.path in ("", "/") and page.path not in ("", "/"):
            continue
        return _strip_fragment(url)
    return _strip_fragment(page_url)


def _lang(meta: PageMetadata, fallback: str) -> str:
    for value in (meta.html_lang, meta.ld_language, meta.og_locale):
        if value:
            primary = re.split(r"[-_]", value.strip().lower())[0]
            if re.fullmatch(r"[a-z]{2,3}", primary):
                return primary
    return fallback


def _clean_author(name: str, site_names: list[str]) -> str | None:
    text = unicodedata.normalize("NFKC", name)  # full-width brackets and spaces to ASCII
    text = _ASCII_SPACE.sub(" ", text).strip()
    if not text or "://" in text or text.startswith("www.") or "@" in text and " " not in text:
        return None
    for _ in range(3):
        before = text
        text = _AUTHOR_NOISE.sub("", text).strip()
        m = re.fullmatch(r"[(\[【〔「《]\s*(.+?)\s*[)\]】〕」》]?", text) or re.fullmatch(r"(.+?)\s*[)\]】〕」》]", text)
        if m and (text[0] in "([【〔「《" or text[-1] in ")]】〕」》"):
            text = m.group(1).strip()
        text = text.strip(" ,;|・/-=·•–—")
        if text == before:
            break
    text = re.sub(r"\s*(記者|特派員|編集委員|論説委員|撮影)$", "", text).strip()
    if not text or len(text) > 80 or re.search(r"\d", text) or _NOT_A_NAME.search(text):
        return None
    if _norm(text) in {_norm(s) for s in site_names if s}:
        return None
    return text


def _split_authors(raw: str) -> list[str]:
    parts = re.split(r"\s*(?:,|;|\band\b|&|、|／|\|)\s*", raw)
    return [p for p in parts if p]


def _authors(meta: PageMetadata, vis: _Visible, site_names: list[str], body_end: int | None, traf_author: str | None) -> list[str]:
    sources: list[list[str]] = [meta.ld_authors, [a for a in meta.meta_authors if "://" not in a], meta.itemprop_authors]
    for names in sources:
        out: list[str] = []
        for raw in names:
            for part in _split_authors(raw) if "、" in raw or " and " in raw or "," in raw else [raw]:
                cleaned = _clean_author(part, site_names)
                if cleaned and cleaned not in out:
                    out.append(cleaned)
        if out:
            return out
    # a byline printed right after the headline ("By Jane Doe")
    if vis.h1_end is not None:
        for line in vis.text[vis.h1_end : vis.h1_end + 400].split("\n")[:8]:
            m = _BYLINE.match(line)
            if m:
                names = [_clean_author(p, site_names) for p in _split_authors(m.group(1))]
                names = [n for n in names if n]
                if names:
                    return names
    # Japanese papers print the writer in brackets after the body: （経済部・高橋直樹）
    if body_end is not None:
        for line in vis.text[body_end : body_end + 120].split("\n")[:3]:
            m = _BRACKETED_AUTHOR.match(line.strip())
            if m:
                cleaned = _clean_author(m.group(1), site_names)
                if cleaned:
                    return [cleaned]
    if traf_author:
        out = []
        for part in re.split(r"\s*;\s*", traf_author):
            cleaned = _clean_author(part, site_names)
            if cleaned and cleaned not in out:
                out.append(cleaned)
        return out
    return []


def _dates(meta: PageMetadata, vis: _Visible, tz: str) -> tuple[datetime | None, datetime | None, str | None]:
    """(published, updated, where published came from)."""
    published: datetime | None = None
    origin: str | None = None
    for origin_name, values in (
        ("jsonld", [meta.ld_published]),
        ("meta", meta.meta_published),
        ("itemprop", meta.itemprop_published),
        ("time", vis.time_after_h1),
    ):
        for raw in values:
            value = parse_date(raw, tz)
            if value is not None:
                published, origin = value, origin_name
                break
        if published is not None:
            break
    window = vis.text[vis.h1_end : vis.h1_end + 300] if vis.h1_end is not None else ""
    seen = find_dates(window, tz) if window else []
    if published is None and seen:
        published, origin = seen[0].value, "visible"
    updated: datetime | None = None
    for raw in [meta.ld_modified, *meta.meta_modified, *meta.itemprop_modified]:
        updated = parse_date(raw, tz)
        if updated is not None:
            break
    if updated is None and seen:
        norm_window = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", window))
        for found in seen:
            if _UPDATED_MARK.search(norm_window[max(0, found.start - 12) : found.start]) and (
                published is None or found.value >= published
            ):
                updated = found.value
                break
    return published, updated, origin


_BLOCK_TAGS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "figcaption", "section", "pre", "ul", "ol", "table"}


def _ld_body_text(raw: str) -> str:
    """JSON-LD articleBody as plain paragraphs: some publishers put (escaped) HTML in it."""
    text = raw
    for _ in range(2):
        if "&lt;" in text or "&amp;" in text or "&quot;" in text:
            text = html.unescape(text)
    if not re.search(r"<(?:p|div|br|span|a|h\d|img|em|strong|iframe)\b", text, re.I):
        return text
    try:
        frag = lxml.html.fragment_fromstring(text, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return re.sub(r"<[^>]+>", " ", text)
    for el in list(frag.iter("script", "style", "iframe", "figure", "img", "noscript")):
        if el.getparent() is not None:
            el.drop_tree()
    for el in frag.iter():
        if isinstance(el.tag, str) and el.tag in _BLOCK_TAGS:
            el.tail = "\n" + (el.tail or "")
            el.text = "\n" + (el.text or "")
    return frag.text_content()


def _key(text: str) -> str:
    return re.sub(r"\W+", "", unicodedata.normalize("NFKC", text)).lower()[:60]


_NOT_BODY = ("figure", "aside", "figcaption", "script", "style", "noscript", "button", "form")


def _container_paragraphs(el: HtmlElement) -> list[str]:
    out = []
    for p in el.iter("p"):
        if any(a.tag in _NOT_BODY for a in p.iterancestors()):
            continue
        text = _clean_space(p.text_content())
        if text:
            out.append(text)
    return out


def _link_density(el: HtmlElement) -> float:
    total = len(el.text_content())
    links = sum(len(a.text_content()) for a in el.iter("a"))
    return links / total if total else 1.0


def _split_body(tree: HtmlElement, paragraphs: list[str]) -> list[str]:
    """Paragraphs of an article body split over several same-classed sibling containers (e.g.
    around ad slots), of which trafilatura keeps only the first. Returns the body in document
    order. Only near relatives of the container trafilatura chose count, only their <p> text,
    and only when it is prose (few links) that the body does not already hold."""
    wanted = {_key(p) for p in paragraphs if len(p) >= 60}
    if not wanted:
        return paragraphs
    containers: dict[HtmlElement, int] = {}
    for p in tree.iter("p"):
        text = p.text_content()
        if len(text) >= 60 and _key(text) in wanted:
            parent = p.getparent()
            if parent is not None:
                containers[parent] = containers.get(parent, 0) + 1
    if not containers:
        return paragraphs
    home = max(containers, key=containers.__getitem__)
    cls = home.get("class")
    if not cls or not cls.strip():
        return paragraphs
    near = list(home.iterancestors())[:3]
    have = {_key(p)[:30] for p in paragraphs}
    extra: list[tuple[HtmlElement, list[str]]] = []
    for twin in near[-1].iter(home.tag) if near else ():
        if twin is home or twin.get("class") != cls or twin in near:
            continue
        if any(a.tag in ("nav", "header", "footer", "aside") for a in twin.iterancestors()):
            continue
        if home in set(twin.iterancestors()) or _link_density(twin) > 0.25:
            continue
        new = _container_paragraphs(twin)
        if any(_key(t)[:30] in have for t in new) or sum(len(t) for t in new) < 150:
            continue
        extra.append((twin, new))
    if not extra:
        return paragraphs
    order = {el: i for i, el in enumerate(tree.iter()) if el is home or any(el is e for e, _ in extra)}
    parts = sorted([(order[home], paragraphs)] + [(order[el], new) for el, new in extra], key=lambda x: x[0])
    return [p for _, ps in parts for p in ps]


def _prose(paragraphs: list[str]) -> int:
    return sum(len(p) for p in paragraphs if not p.startswith(("- ", "* ", "• ")))


def _paragraphs(text: str) -> list[str]:
    return [p for p in (_clean_space(line) for line in text.split("\n")) if p]


def _body_end(vis: _Visible, paragraphs: list[str]) -> int | None:
    """Offset in the visible stream just after the last body paragraph."""
    if not paragraphs:
        return None
    probe = paragraphs[-1][-40:]
    at = vis.text.rfind(probe)
    return at + len(probe) if at >= 0 else None


def _challenge(html_title: str | None, text: str) -> str | None:
    if html_title and _CHALLENGE_TITLE.match(html_title):
        return "title"
    # the markers are ASCII: lowering UTF-8 bytes is several times cheaper than lowering a
    # str that holds any non-ASCII character, and finds the same markers
    low = text[:200_000].encode("utf-8", "surrogatepass").lower()
    for marker, kind in _CHALLENGE_MARKERS_BYTES:
        if marker in low:
            return kind
    return None


def _check_bytes(page: Page) -> None:
    body = page.body
    if not body or not body.strip():
        raise ExtractError(f"empty body: {page.url}", reason="empty")
    head = body[:16].lstrip()
    if any(head.startswith(m) for m in _BINARY_MAGIC) or body[4:8] == b"ftyp":
        raise ExtractError(f"binary content ({head[:8]!r}): {page.url}", reason="not_html")
    ctype = (page.content_type or "").split(";")[0].strip().lower()
    sniffed = _HTML_SNIFF.search(body[:4096]) is not None
    if ctype and not ctype.startswith(_HTML_TYPES) and not sniffed:
        raise ExtractError(f"content type {ctype}: {page.url}", reason="not_html")
    if not sniffed:
        sample = body[:2048]
        controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
        if controls > len(sample) // 20 or b"<" not in sample:
            raise ExtractError(f"no HTML markup: {page.url}", reason="not_html")


def _trafilatura_doc(tree: HtmlElement, url: str, precision: bool, fast: bool) -> Document | None:
    return trafilatura.bare_extraction(
        tree, url=url, include_comments=False, favor_precision=precision,
        favor_recall=not precision, with_metadata=False, fast=fast,
    )


def _text_of(doc: Document | None) -> str:
    return (doc.text or "") if doc is not None else ""


def _complete(doc: Document | None, lang_key: str) -> bool:
    """Whether trafilatura's fast pass already gave what its full pass would.

    The full pass differs only by comparing its text with readability's and jusText's, and
    takes theirs where its own is short, empty, structurally deficient (no paragraph text,
    more tables than paragraphs) or "unclean" (asides, figures, forms left in). A fast text
    that is long, made of several paragraphs and clean leaves readability only one way to win
    (twice as long), which on 527 corpus pages never happened to such a text; every page
    where the two passes differed was caught here."""
    if doc is None or doc.body is None or len(doc.text or "") < _RECHECK_BELOW[lang_key]:
        return False
    body = doc.body
    paragraphs = len(body.findall(".//p"))
    return (
        paragraphs >= 2
        and len(body.findall(".//table")) <= paragraphs
        and not body.xpath(SANITIZED_XPATH)
    )


def _run_trafilatura(tree: HtmlElement, url: str, lang_key: str) -> tuple[str, str | None]:
    """Main text by trafilatura: precision mode first (it keeps related-links lists, captions
    and teasers out), and only when that comes back short a recall pass, offered when precision
    mode clearly dropped part of the body. Returns (precision text, wider text or None); the
    caller decides whether the page is an article on the precision text, because recall mode
    falls back to the whole page's text on pages that have no article.

    The precision pass runs in trafilatura's fast mode first (without the readability and
    jusText comparison, a third of the extraction's time) and again in full only when the
    fast text does not look complete (``_complete``)."""
    fast = _trafilatura_doc(tree, url, precision=True, fast=True)
    if _complete(fast, lang_key):
        return _text_of(fast), None
    text = _text_of(_trafilatura_doc(tree, url, precision=True, fast=False))
    if len(text) >= _RECHECK_BELOW[lang_key]:
        return text, None
    wider = _text_of(_trafilatura_doc(tree, url, precision=False, fast=False))
    if len(text) < _DROPPED_SHARE * len(wider):
        return text, wider
    return text, None


def _title_tag(tree: HtmlElement) -> str | None:
    el = tree.find(".//title")
    return _clean_space(el.text_content()) if el is not None else None


def extract_article(page: Page) -> Article:
    """Extract one article from a fetched page; raises ``ExtractError`` (see ``REASONS``)."""
    _check_bytes(page)
    text, charset = decode_html(page.body, page.content_type)
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    try:
        tree = load_html(text)
    except (ValueError, TypeError) as err:
        raise ExtractError(f"cannot parse HTML ({err}): {page.url}", reason="malformed") from err
    if tree is None:
        raise ExtractError(f"cannot parse HTML: {page.url}", reason="malformed")

    meta = read_metadata(tree)
    vis = _visible(tree)
    html_title = _title_tag(tree)
    lang = _lang(meta, page.lang)
    lang_key = "ja" if lang in ("ja", "zh", "ko") else "en"

    challenge = _challenge(html_title, text)
    precise, wider = _run_trafilatura(tree, page.url, lang_key)
    precise_paragraphs = _paragraphs(precise)
    body_text = precise
    ld_body = _ld_body_text(meta.ld_body) if meta.ld_body else None
    if ld_body and len(ld_body) > 1.3 * len(body_text) + 200:
        # the publisher's own copy of the body is much longer than what the page layout yielded
        body_text = ld_body
    paragraphs = _paragraphs(body_text)
    body = "\n\n".join(paragraphs)

    if challenge and len(body) < 200:
        raise ExtractError(f"bot challenge ({challenge}): {page.url}", reason="challenge")
    if not vis.text.strip():
        raise ExtractError(f"no visible text: {page.url}", reason="empty")

    site_names = [n for n in (meta.og_site_name, meta.ld_publisher) if n]
    published, updated, date_origin = _dates(meta, vis, page.tz)
    strong = bool(
        (meta.ld_type and meta.ld_type in ARTICLE_TYPES)
        or meta.og_type == "article"
        or date_origin in ("jsonld", "meta", "itemprop")
    )
    article_url = _ARTICLE_URL.search(urlsplit(page.url).path) is not None
    weak = published is not None or tree.find(".//article") is not None or article_url
    # Lists of teasers are what section and home pages are made of; prose is what articles are.
    prose = _prose(paragraphs if body_text is ld_body else precise_paragraphs)
    wide_prose = _prose(_paragraphs(wider)) if wider is not None else 0
    is_article = (
        strong
        or (weak and prose >= _ARTICLE_MIN[lang_key])
        or prose >= _LONG_TEXT[lang_key]
        # recall mode's text only counts where the URL itself looks like an article's: on other
        # pages it is the whole page's text (navigation, teaser lists) and proves nothing
        or (article_url and wide_prose >= _ARTICLE_MIN[lang_key])
    )
    if not is_article:
        raise ExtractError(f"no article signals, {prose} chars of prose: {page.url}", reason="not_article")
    if wider is not None and body_text is precise:
        paragraphs = _paragraphs(wider)
    elif body_text is precise:
        paragraphs = _split_body(tree, paragraphs)
    body = "\n\n".join(paragraphs)
    if not body:
        raise ExtractError(f"no main text: {page.url}", reason="not_article")

    status, flags = Status.OK, []
    end = _body_end(vis, paragraphs)
    # the paywall / "continue reading" notice sits at the end of the body or right after it
    after = (paragraphs[-1] if paragraphs else "") + "\n" + (vis.text[end : end + 400] if end is not None else "")
    if challenge:
        status, flags = Status.CHALLENGE, [f"challenge:{challenge}"]
    elif meta.ld_free is False:
        status, flags = Status.PAYWALLED, ["paywall:isAccessibleForFree"]
    elif _PAYWALL_TEXT.search(after) and len(body) < 2 * _SHORT_BODY[lang_key]:
        status, flags = Status.PAYWALLED, ["paywall:marker"]
    elif _TRUNCATED_TEXT.search(after) and len(body) < _SHORT_BODY[lang_key]:
        status, flags = Status.TRUNCATED, ["truncated:continue-reading"]

    title = _pick_title(meta, vis, html_title, site_names)
    authors = _authors(meta, vis, site_names, end, None)
    if not authors:
        # trafilatura's byline search (class/rel/itemprop="author" elements), only when the
        # declared metadata and the byline lines named nobody: it copies the tree
        authors = _authors(PageMetadata(), _Visible("", None, None, []), site_names, None, extract_author(tree))
    return Article(
        url=page.url,
        canonical_url=_canonical(page.url, meta),
        source=page.source,
        title=title,
        text=body,
        lang=lang,
        published=published,
        updated=updated,
        authors=authors,
        section=_clean_space(meta.ld_section or meta.meta_section) or None,
        image=_resolve(page.url, meta.ld_image or meta.og_image),
        description=_clean_space(meta.og_description or meta.meta_description or meta.ld_description) or None,
        site_name=_clean_space(meta.og_site_name or meta.ld_publisher) or None,
        status=status,
        flags=flags,
        fetched_at=page.fetched_at,
        http_etag=page.etag,
        http_last_modified=page.last_modified,
        charset=charset,
    )


__all__ = ["REASONS", "extract_article"]
