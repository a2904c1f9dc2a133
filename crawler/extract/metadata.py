"""Machine-readable metadata of an article page: JSON-LD, OpenGraph / ``article:*`` meta tags,
``itemprop`` microdata, ``<time datetime>``, ``<link rel=canonical>`` and ``<html lang>``.

These are what publishers declare on purpose, so extraction prefers them to heuristics read from
the visible page; this module only collects them (as raw strings) and leaves the choosing to
the rest of ``crawler.extract``. ``page_lang`` reads the declared language.
"""
from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml.html import HtmlElement

log = logging.getLogger(__name__)

ARTICLE_TYPES = frozenset(
    {
        "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle",
        "opinionnewsarticle", "backgroundnewsarticle", "reviewnewsarticle", "askpublicnewsarticle",
        "satiricalarticle", "scholarlyarticle", "techarticle", "blogposting", "liveblogposting",
        "socialmediaposting", "report", "advertisercontentarticle",
    }
)
_PERSONISH = frozenset({"person"})


@dataclass(slots=True)
class PageMetadata:
    """Raw metadata strings as the page declares them (None / empty where absent)."""

    html_lang: str | None = None
    canonical: str | None = None
    amphtml: str | None = None
    # JSON-LD article object (the first one of an article type)
    ld_type: str | None = None
    ld_headline: str | None = None
    ld_published: str | None = None
    ld_modified: str | None = None
    ld_authors: list[str] = field(default_factory=list)
    ld_author_orgs: list[str] = field(default_factory=list)  # authors typed Organization
    ld_image: str | None = None
    ld_description: str | None = None
    ld_section: str | None = None
    ld_publisher: str | None = None
    ld_language: str | None = None
    ld_url: str | None = None
    ld_body: str | None = None
    ld_free: bool | None = None  # isAccessibleForFree, anywhere on the article or its parts
    ld_types: list[str] = field(default_factory=list)  # every @type seen, lowercased
    # meta tags
    og_title: str | None = None
    og_type: str | None = None
    og_url: str | None = None
    og_site_name: str | None = None
    og_image: str | None = None
    og_description: str | None = None
    og_locale: str | None = None
    meta_description: str | None = None
    meta_authors: list[str] = field(default_factory=list)
    meta_published: list[str] = field(default_factory=list)
    meta_modified: list[str] = field(default_factory=list)
    meta_section: str | None = None
    itemprop_published: list[str] = field(default_factory=list)
    itemprop_modified: list[str] = field(default_factory=list)
    itemprop_authors: list[str] = field(default_factory=list)


# meta names (lowercased) that carry publication / modification dates
_PUBLISHED_META = (
    "article:published_time", "og:article:published_time", "article:published",
    "datepublished", "pubdate", "publishdate", "publish-date", "publish_date", "date",
    "dc.date", "dc.date.issued", "dcterms.created", "dcterms.issued", "sailthru.date",
    "parsely-pub-date", "cxenseparse:recs:publishtime", "original-publish-date",
    "article.published", "published_time", "rnews:datepublished",
)
_MODIFIED_META = (
    "article:modified_time", "og:updated_time", "og:article:modified_time", "datemodified",
    "last-modified", "lastmod", "dcterms.modified", "article.updated", "modified_time",
)
_AUTHOR_META = ("author", "article:author", "dc.creator", "byl", "sailthru.author", "parsely-author",
                "cxenseparse:author")


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        for item in value:
            got = _text(item)
            if got:
                return got
    if isinstance(value, dict):
        for key in ("@value", "name", "url", "@id", "contentUrl"):
            got = _text(value.get(key))
            if got:
                return got
    return None


def _unescape(value: str | None) -> str | None:
    # JSON-LD strings are often HTML-escaped a second time by templates (&#039;, &amp;quot;)
    if value and "&" in value:
        for _ in range(2):
            value = html.unescape(value)
    return value


def _types(obj: dict[str, Any]) -> list[str]:
    raw = obj.get("@type")
    items = raw if isinstance(raw, list) else [raw]
    return [t.rsplit("/", 1)[-1].lower() for t in items if isinstance(t, str)]


def _walk(node: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every dict in a JSON-LD document, including inside @graph, lists and nested objects."""
    if depth > 8:
        return
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, depth + 1)
    elif isinstance(node, dict):
        yield node
        for key, value in node.items():
            if key in ("@context",):
                continue
            if isinstance(value, (list, dict)):
                yield from _walk(value, depth + 1)


def _load_json(raw: str) -> Any:
    text = raw.strip()
    if text.startswith("<!--"):
        text = text[4:]
    if text.endswith("-->"):
        text = text[:-3]
    text = re.sub(r"^\s*//\s*<!\[CDATA\[|//\s*\]\]>\s*$", "", text.strip())
    text = text.strip().rstrip(";")
    try:
        return json.loads(text, strict=False)
    except ValueError:
        pass
    # Common breakage: several objects back to back, or raw newlines in strings.
    try:
        return json.loads("[" + re.sub(r"}\s*{", "},{", text) + "]", strict=False)
    except ValueError:
        log.debug("unparseable JSON-LD block (%d chars)", len(text))
        return None


def _names(value: Any) -> tuple[list[str], list[str]]:
    """(person names, organisation names) of a JSON-LD author value."""
    people: list[str] = []
    orgs: list[str] = []
    items = value if isinstance(value, list) else [value]
    name: str | None
    for item in items:
        if isinstance(item, str):
            name = item.strip()
            if name:
                people.append(name)
        elif isinstance(item, dict):
            name = _text(item.get("name"))
            if not name:
                continue
            if "organization" in _types(item) or "newsmediaorganization" in _types(item):
                orgs.append(name)
            else:
                people.append(name)
        elif isinstance(item, list):
            p, o = _names(item)
            people += p
            orgs += o
    return people, orgs


def _free(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _read_jsonld(tree: HtmlElement, meta: PageMetadata) -> None:
    article: dict[str, Any] | None = None
    for script in tree.iter("script"):
        kind = (script.get("type") or "").lower()
        if "ld+json" not in kind or not script.text:
            continue
        doc = _load_json(script.text)
        if doc is None:
            continue
        for obj in _walk(doc):
            types = _types(obj)
            meta.ld_types += types
            if article is None and ARTICLE_TYPES.intersection(types):
                article = obj
            free = _free(obj.get("isAccessibleForFree"))
            if free is False and (ARTICLE_TYPES.intersection(types) or "webpagelement" in types
                                  or "webpageelement" in types):
                meta.ld_free = False
            elif free is True and meta.ld_free is None and ARTICLE_TYPES.intersection(types):
                meta.ld_free = True
    if article is None:
        return
    meta.ld_type = _types(article)[0] if _types(article) else None
    meta.ld_headline = _unescape(_text(article.get("headline")) or _text(article.get("name")))
    meta.ld_published = _text(article.get("datePublished")) or _text(article.get("dateCreated"))
    meta.ld_modified = _text(article.get("dateModified"))
    people, orgs = _names(article.get("author") or article.get("creator"))
    meta.ld_authors, meta.ld_author_orgs = people, orgs
    meta.ld_image = _text(article.get("image")) or _text(article.get("thumbnailUrl"))
    meta.ld_description = _unescape(_text(article.get("description")))
    meta.ld_section = _text(article.get("articleSection"))
    meta.ld_publisher = _text(article.get("publisher"))
    meta.ld_language = _text(article.get("inLanguage"))
    meta.ld_url = _text(article.get("url")) or _text(article.get("mainEntityOfPage"))
    body = article.get("articleBody")
    meta.ld_body = body.strip() if isinstance(body, str) and body.strip() else None


def _read_meta(tree: HtmlElement, meta: PageMetadata) -> None:
    for el in tree.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        content = (el.get("content") or "").strip()
        if not key or not content:
            continue
        if key == "og:title" and not meta.og_title:
            meta.og_title = content
        elif key == "og:type" and not meta.og_type:
            meta.og_type = content.lower()
        elif key == "og:url" and not meta.og_url:
            meta.og_url = content
        elif key == "og:site_name" and not meta.og_site_name:
            meta.og_site_name = content
        elif key in ("og:image", "og:image:url", "og:image:secure_url", "twitter:image") and not meta.og_image:
            meta.og_image = content
        elif key == "og:description" and not meta.og_description:
            meta.og_description = content
        elif key == "og:locale" and not meta.og_locale:
            meta.og_locale = content
        elif key == "description" and not meta.meta_description:
            meta.meta_description = content
        elif key in ("article:section", "section") and not meta.meta_section:
            meta.meta_section = content
        elif key in _PUBLISHED_META:
            meta.meta_published.append(content)
        elif key in _MODIFIED_META:
            meta.meta_modified.append(content)
        elif key in _AUTHOR_META:
            meta.meta_authors.append(content)


def _read_microdata(tree: HtmlElement, meta: PageMetadata) -> None:
    for el in tree.xpath("//*[@itemprop='datePublished' or @itemprop='dateModified' or @itemprop='author']"):
        prop = el.get("itemprop")
        if el.tag == "meta":
            continue  # read with the meta tags
        if prop == "author":
            name_el = el.xpath(".//*[@itemprop='name']")
            value = (name_el[0].text_content() if name_el else el.text_content()).strip()
            if value:
                meta.itemprop_authors.append(value)
            continue
        value = (el.get("datetime") or el.get("content") or el.text_content() or "").strip()
        if value:
            (meta.itemprop_published if prop == "datePublished" else meta.itemprop_modified).append(value)


def read_metadata(tree: HtmlElement) -> PageMetadata:
    """Collect the declared metadata of a parsed page."""
    meta = PageMetadata()
    root = tree.getroottree().getroot()
    meta.html_lang = (root.get("lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang") or "").strip() or None
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        href = (link.get("href") or "").strip()
        if not href:
            continue
        if "canonical" in rel and not meta.canonical:
            meta.canonical = href
        elif "amphtml" in rel and not meta.amphtml:
            meta.amphtml = href
    if meta.html_lang is None:
        for el in tree.iter("meta"):
            if (el.get("http-equiv") or "").lower() == "content-language" and el.get("content"):
                meta.html_lang = el.get("content").strip()
                break
    _read_jsonld(tree, meta)
    _read_meta(tree, meta)
    _read_microdata(tree, meta)
    return meta


def page_lang(meta: PageMetadata, fallback: str) -> str:
    """The page's language as declared (``<html lang>``, JSON-LD, og:locale), else ``fallback``."""
    for value in (meta.html_lang, meta.ld_language, meta.og_locale):
        if value:
            primary = re.split(r"[-_]", value.strip().lower())[0]
            if re.fullmatch(r"[a-z]{2,3}", primary):
                return primary
    return fallback


__all__ = ["ARTICLE_TYPES", "PageMetadata", "page_lang", "read_metadata"]
