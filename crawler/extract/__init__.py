"""Bytes of a fetched page → an ``Article``: decode, run trafilatura for the body, then fill and
cross-check the metadata from what the page declares (JSON-LD, OpenGraph, ``<time>``) and from
the visible lines next to the headline.

One module a step: ``decode`` (bytes and charset, with ``charset``), ``metadata`` (what the page
declares), ``visible`` (the visible text around the headline), ``body`` (main text), ``title``
and ``byline``, ``dates``, ``status`` (article or not, whole or not); ``engine`` holds what is
taken from trafilatura. The canonical URL is ``crawler.urls.choose_canonical``'s.

``extract_article`` is a top-level, picklable function: the crawler runs it in worker processes.
A page that is not an article raises ``ExtractError`` with one of ``REASONS``:

- ``not_html``    binary or non-HTML bytes (PDF, images, archives, JSON) that reached extraction
- ``empty``       no bytes, or an HTML document with no visible text
- ``malformed``   the bytes cannot be parsed as HTML at all
- ``not_article`` a home, section, list or static page: too little main text and no article signals
- ``challenge``   a bot challenge or "access denied" interstitial with no article on it

A page that is an article but not all of it is returned with ``status`` PAYWALLED, TRUNCATED or
CHALLENGE and the evidence in ``flags`` (e.g. ``paywall:isAccessibleForFree``), so it is stored and
counted as incomplete rather than silently kept as if it were whole. A page that gives its
date without a time is flagged ``date_only`` (the crawl then takes the time from the feed or
sitemap entry that led to it, see ``crawler.pipelines.settle_article``).
"""
from __future__ import annotations

from urllib.parse import urljoin

from newsmon.crawler.extract.body import find_body
from newsmon.crawler.extract.byline import find_authors
from newsmon.crawler.extract.dates import DATE_ONLY, page_dates
from newsmon.crawler.extract.decode import read_page
from newsmon.crawler.extract.ja_byline import JaByline, header_byline, split_byline
from newsmon.crawler.extract.layout import unwrap_layout_tables
from newsmon.crawler.extract.lead import strip_lead
from newsmon.crawler.extract.metadata import page_lang, read_metadata
from newsmon.crawler.extract.status import challenge_kind, page_status, require_article
from newsmon.crawler.extract.template import template_lines
from newsmon.crawler.extract.title import pick_title
from newsmon.crawler.extract.visible import body_end, similar, title_tag, visible
from newsmon.crawler.page import Page
from newsmon.crawler.text import clean_space
from newsmon.crawler.urls import Domains, choose_canonical
from newsmon.index.core import reasons
from newsmon.index.core.article import Article
from newsmon.index.core.errors import ExtractError

__all__ = ["REASONS", "extract_article"]

REASONS: tuple[str, ...] = (reasons.NOT_HTML, reasons.EMPTY, reasons.MALFORMED, reasons.NOT_ARTICLE,
                            reasons.CHALLENGE)


def extract_article(page: Page) -> Article:
    """Extract one article from a fetched page; raises ``ExtractError`` (see ``REASONS``)."""
    text, tree, charset = read_page(page)
    meta = read_metadata(tree)
    # before anything reads the body: an article in a layout table's cell is a column of
    # blocks, not a table row
    unwrap_layout_tables(tree)
    html_title = title_tag(tree)
    declared = [t for t in (meta.ld_headline, meta.og_title, html_title) if t]
    vis = visible(tree, declared)
    lang = page_lang(meta, page.lang)
    lang_key = "ja" if lang in ("ja", "zh", "ko") else "en"
    challenge = challenge_kind(html_title, text)
    body = find_body(tree, page.url, meta, lang_key)
    published, updated, date_origin, precise = page_dates(meta, vis, page.tz)
    require_article(page.url, tree, vis, body, challenge, meta, published, date_origin, lang_key,
                    headline=bool(vis.h1) and any(similar(vis.h1 or "", t) for t in declared))

    paragraphs = body.complete(tree)
    if not paragraphs:
        raise ExtractError(f"no main text: {page.url}", reason=reasons.NOT_ARTICLE)
    end = body_end(vis, paragraphs)
    status, flags = page_status(paragraphs, vis, end, challenge, meta, lang_key)
    if published is not None and not precise:
        flags = [*flags, DATE_ONLY]
    site_names = [n for n in (meta.og_site_name, meta.ld_publisher) if n]
    title = pick_title(meta, vis, html_title, site_names)
    # the headline, date line and byline that open the body repeat the page's header; the
    # dateline (【北京＝…】) is then looked for in the first paragraph after them
    lead = strip_lead(paragraphs, [title, *(t for t in (vis.h1, meta.og_title, html_title) if t)],
                      page.tz, site_names)
    byline = split_byline(lead.paragraphs) if lang_key == "ja" else JaByline(lead.paragraphs)
    paragraphs = byline.paragraphs
    if lang_key == "ja" and not byline.authors:
        # the byline line under the headline, where the body left it out
        byline.authors = header_byline(vis.after_h1(300))
    return Article(
        url=page.url,
        canonical_url=choose_canonical(page.url, (meta.canonical, meta.og_url),
                                       page.site or Domains.of_page(page.url)),
        source=page.source,
        title=title,
        text="\n\n".join(paragraphs),
        lang=lang,
        published=published,
        updated=updated,
        authors=find_authors(tree, meta, vis, site_names, end,
                             [*lead.authors, *byline.authors]),
        dateline=byline.dateline,
        section=clean_space(meta.ld_section or meta.meta_section) or None,
        image=_resolve(page.url, meta.ld_image or meta.og_image),
        description=clean_space(meta.og_description or meta.meta_description or meta.ld_description) or None,
        site_name=clean_space(meta.og_site_name or meta.ld_publisher) or None,
        status=status,
        flags=flags,
        fetched_at=page.fetched_at,
        http_etag=page.etag,
        http_last_modified=page.last_modified,
        charset=charset,
        template=template_lines(tree, paragraphs),
    )


def _resolve(url: str, ref: str | None) -> str | None:
    if not ref:
        return None
    try:
        return urljoin(url, ref.strip())
    except ValueError:
        return None
