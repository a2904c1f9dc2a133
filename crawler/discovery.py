"""Finding article candidates: plain functions over fetched bytes, no Scrapy.

- ``parse_feed``: RSS 2.0, RSS 1.0 (RDF) and Atom;
- ``parse_sitemap``: sitemap indexes, urlsets and Google News sitemaps (``news:publication_date``);
- ``robots_sitemaps``: the ``Sitemap:`` lines of a robots.txt;
- ``section_links``: the links of a section/list page, and which of them page through it;
- ``parse_listing``: sniffs which of the above a response is and returns one ``Listing``.

Feeds and sitemaps are parsed with a recovering XML parser (real feeds are often slightly
broken) that never resolves entities or touches the network.
"""
from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import SplitResult, parse_qsl, urlsplit

import lxml.etree as etree
import lxml.html

from newsmon.crawler.dates import parse_date
from newsmon.crawler.urls import absolute, host_of
from newsmon.index.core import reasons
from newsmon.index.core.errors import FetchError

__all__ = [
    "Entry",
    "Listing",
    "parse_feed",
    "parse_sitemap",
    "robots_sitemaps",
    "section_links",
    "sniff",
    "parse_listing",
    "maybe_gunzip",
    "describe_page",
]

# How a link that pages through a section looks, after the section's own path:
# /news/page/2/, /news/2/, /list?page=3, /p/4, /index_2.html, ?pg=5, ?offset=20
_PAGINATION_PATH = re.compile(
    r"^(?:(?:page|p|pg|seite|pagina)[/_=-]?\d+/?|\d{1,4}/?|index[_-]\d+\.html?)$", re.IGNORECASE
)
_PAGINATION_PARAMS = frozenset({"page", "p", "pg", "paged", "offset", "start", "pagenum"})
_XML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*|<!DOCTYPE[^>]*>\s*|<\?[^>]*>\s*)*<([\w:.-]+)",
    re.S | re.I,
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One article candidate and what the listing said about it."""

    url: str
    published: datetime | None = None
    title: str | None = None


@dataclass(slots=True)
class Listing:
    kind: str  # rss | rdf | atom | sitemapindex | urlset | html | robots
    entries: list[Entry] = field(default_factory=list)  # article candidates
    sitemaps: list[str] = field(default_factory=list)  # sitemaps to read next
    pages: list[str] = field(default_factory=list)  # further pages of the same section


# -- helpers --------------------------------------------------------------------------------------
def maybe_gunzip(body: bytes, max_bytes: int) -> bytes:
    """Gunzip a body that is still gzip (``sitemap.xml.gz`` served as a file, not as
    Content-Encoding), refusing to inflate past ``max_bytes`` (a gzip bomb)."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    out = io.BytesIO()
    decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    data = body
    while data:
        chunk = decomp.decompress(data, 65536)
        out.write(chunk)
        if out.tell() > max_bytes:
            raise FetchError(f"gzip body inflates past {max_bytes} bytes", reason=reasons.TOO_LARGE)
        data = decomp.unconsumed_tail
        if not chunk and not data:
            break
    return out.getvalue()


def _local(el: etree._Element) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def _children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if _local(c) == name]


def _child_text(el: etree._Element, *names: str) -> str | None:
    for name in names:
        for c in el:
            if _local(c) == name:
                text: str = (c.text or "").strip()
                if text:
                    return text
    return None


def _xml_root(body: bytes) -> etree._Element | None:
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True,
                             remove_comments=True, remove_pis=True, huge_tree=False)
    try:
        root = etree.fromstring(body.lstrip(), parser=parser)
    except (etree.XMLSyntaxError, ValueError):
        return None
    return root


def sniff(body: bytes, content_type: str | None = None) -> str:
    """'feed', 'sitemap' or 'html' by the root element (the Content-Type is often wrong)."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf")
    match = _XML_START.match(head)
    if match:
        root = match.group(1).decode("ascii", "replace").rsplit(":", 1)[-1].lower()
        if root in ("rss", "rdf", "feed"):
            return "feed"
        if root in ("urlset", "sitemapindex"):
            return "sitemap"
        if root == "html":
            return "html"
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    if ctype in ("application/rss+xml", "application/atom+xml", "application/rdf+xml"):
        return "feed"
    return "html"


# -- feeds ----------------------------------------------------------------------------------------
def parse_feed(body: bytes, base_url: str, *, default_tz: str | None = None) -> Listing:
    """Entries of an RSS 2.0, RSS 1.0/RDF or Atom feed, in feed order, without duplicates."""
    root = _xml_root(body)
    if root is None:
        raise FetchError(f"{base_url}: not a parseable feed", reason=reasons.BAD_FEED)
    kind = _local(root)
    entries: list[Entry] = []
    if kind == "feed":
        for entry in _children(root, "entry"):
            href = None
            for link in _children(entry, "link"):
                rel = (link.get("rel") or "alternate").lower()
                if rel == "alternate" and link.get("href"):
                    href = link.get("href")
                    break
            href = href or _child_text(entry, "id")
            _add(entries, base_url, href, _child_text(entry, "published", "issued", "updated"),
                 _child_text(entry, "title"), default_tz)
        return Listing("atom", _dedupe(entries))
    if kind == "rss":
        channels = _children(root, "channel") or [root]
        items = [i for ch in channels for i in _children(ch, "item")]
        kind = "rss"
    elif kind == "rdf":
        items = _children(root, "item")
    else:
        raise FetchError(f"{base_url}: root <{kind}> is not RSS, RDF or Atom", reason=reasons.BAD_FEED)
    for item in items:
        href = _child_text(item, "link")
        if not href:
            for guid in _children(item, "guid"):
                if (guid.get("isPermaLink") or "true").lower() == "true":
                    href = (guid.text or "").strip()
        if not href:  # RSS 1.0 names the item by rdf:about
            href = next((v for k, v in item.attrib.items() if k.endswith("}about")), None)
        _add(entries, base_url, href, _child_text(item, "pubdate", "date", "published"),
             _child_text(item, "title"), default_tz)
    return Listing(kind, _dedupe(entries))


def _add(entries: list[Entry], base: str, href: str | None, date: str | None,
         title: str | None, default_tz: str | None) -> None:
    url = absolute(base, href or "")
    if url:
        entries.append(Entry(url, parse_date(date, default_tz), title))


def _dedupe(entries: list[Entry]) -> list[Entry]:
    seen: set[str] = set()
    out = []
    for e in entries:
        if e.url not in seen:
            seen.add(e.url)
            out.append(e)
    return out


# -- sitemaps -------------------------------------------------------------------------------------
def parse_sitemap(body: bytes, base_url: str, *, default_tz: str | None = None) -> Listing:
    """A sitemap index (→ ``sitemaps``) or a urlset (→ ``entries``; for Google News sitemaps
    the date is ``news:publication_date``, else ``lastmod``)."""
    root = _xml_root(body)
    if root is None:
        raise FetchError(f"{base_url}: not a parseable sitemap", reason=reasons.BAD_SITEMAP)
    kind = _local(root)
    if kind == "sitemapindex":
        locs = [absolute(base_url, _child_text(s, "loc") or "") for s in _children(root, "sitemap")]
        return Listing("sitemapindex", sitemaps=list(dict.fromkeys(u for u in locs if u)))
    if kind != "urlset":
        raise FetchError(f"{base_url}: root <{kind}> is not a sitemap", reason=reasons.BAD_SITEMAP)
    entries: list[Entry] = []
    for node in _children(root, "url"):
        date = _child_text(node, "lastmod")
        title = None
        for news in _children(node, "news"):
            date = _child_text(news, "publication_date") or date
            title = _child_text(news, "title")
        _add(entries, base_url, _child_text(node, "loc"), date, title, default_tz)
    return Listing("urlset", _dedupe(entries))


def robots_sitemaps(text: str, base_url: str) -> list[str]:
    """URLs of the ``Sitemap:`` lines of a robots.txt (any case, any position)."""
    out = []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "sitemap":
            url = absolute(base_url, value.split("#", 1)[0].strip())
            if url:
                out.append(url)
    return list(dict.fromkeys(out))


# -- section pages --------------------------------------------------------------------------------
def section_links(html: str | bytes, page_url: str, section_url: str | None = None) -> Listing:
    """All links of a section page (``entries``, document order, no duplicates), and the links
    that page through the same section (``pages``): ``rel=next``, or links on the same host
    under the section's path that look like page numbers."""
    section_url = section_url or page_url
    if not (html.strip() if isinstance(html, str) else html.strip()):
        return Listing("html")
    try:
        doc = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return Listing("html")
    base = page_url
    for b in doc.iter("base"):
        if b.get("href"):
            base = absolute(page_url, b.get("href")) or page_url
            break
    links: list[str] = []
    pages: list[str] = []
    section = urlsplit(section_url)
    section_path = section.path if section.path.endswith("/") else section.path.rsplit("/", 1)[0] + "/"
    for el in doc.iter("a", "link", "area"):
        url = absolute(base, el.get("href") or "")
        if not url:
            continue
        rel = (el.get("rel") or "").lower().split()
        if el.tag == "link" and "next" not in rel:
            continue  # stylesheets, alternates, icons
        if "next" in rel and host_of(url) == (section.hostname or "").lower():
            pages.append(url)
            continue
        if _is_pagination(url, section, section_path):
            pages.append(url)
            continue
        links.append(url)
    section_self = {section_url.rstrip("/"), page_url.rstrip("/")}
    links = [u for u in dict.fromkeys(links) if u.rstrip("/") not in section_self]
    pages = [u for u in dict.fromkeys(pages) if u.rstrip("/") not in section_self]
    return Listing("html", [Entry(u) for u in links], pages=pages)


def _is_pagination(url: str, section: SplitResult, section_path: str) -> bool:
    parts = urlsplit(url)
    if (parts.hostname or "").lower() != (section.hostname or "").lower():
        return False
    if not parts.path.startswith(section_path):
        return False
    rest = parts.path[len(section_path):]
    if rest and _PAGINATION_PATH.match(rest):
        return True
    if parts.path == section.path or not rest:
        return any(k.lower() in _PAGINATION_PARAMS and v.isdigit()
                   for k, v in parse_qsl(parts.query))
    return False


def describe_page(body: bytes | str, url: str, links: int) -> str:
    """What an HTML page that came where a feed or sitemap was expected looks like, for the
    warning: its title, its number of links, and the feeds it announces (where the feed went)."""
    title = ""
    feeds: list[str] = []
    try:
        doc = lxml.html.document_fromstring(body) if body.strip() else None
    except (etree.ParserError, ValueError):
        doc = None
    if doc is not None:
        title = " ".join((doc.findtext(".//title") or "").split())[:80]
        for el in doc.iter("link"):
            rel = (el.get("rel") or "").lower().split()
            kind = (el.get("type") or "").lower()
            if "alternate" in rel and kind in ("application/rss+xml", "application/atom+xml",
                                                "application/rdf+xml") and el.get("href"):
                feed = absolute(url, el.get("href") or "")
                if feed and feed not in feeds:
                    feeds.append(feed)
    out = "an HTML page" + (f" titled {title!r}" if title else "") + f" with {links} links"
    if feeds:
        out += "; it announces the feed(s) " + ", ".join(feeds[:3])
    return out


# -- any listing ----------------------------------------------------------------------------------
def parse_listing(body: bytes, url: str, *, content_type: str | None = None,
                  text: str | None = None, section_url: str | None = None,
                  default_tz: str | None = "UTC", max_bytes: int = 50_000_000) -> Listing:
    """Whatever ``url`` turned out to be: a feed, a sitemap, or an HTML section page (``text``
    is its decoded HTML when the caller has it)."""
    body = maybe_gunzip(body, max_bytes)
    kind = sniff(body, content_type)
    if kind == "feed":
        return parse_feed(body, url, default_tz=default_tz)
    if kind == "sitemap":
        return parse_sitemap(body, url, default_tz=default_tz)
    return section_links(text if text is not None else body, url, section_url)
