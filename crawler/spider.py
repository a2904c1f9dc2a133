"""The one spider: every source's feeds, sitemaps, robots.txt Sitemap: lines and section pages.

Discovery (what a listing links to) is in ``crawler.discovery``; what is an article URL of which
source is data on ``Source`` (domains, allow, deny). The spider only wires them to requests:
listings are fetched conditionally, article candidates are canonicalised and looked up in the
store before anything is requested, and every answer ends in a recorded outcome.
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from newsmon.crawler.context import CrawlContext
from newsmon.crawler.discovery import (
    Entry,
    Listing,
    describe_page,
    parse_listing,
    robots_sitemaps,
)
from newsmon.crawler.middlewares import classify_failure, response_validators
from newsmon.crawler.page import Page
from newsmon.crawler.recorder import CrawlRecorder
from newsmon.crawler.signals import url_variant
from newsmon.crawler.sniff import non_html_reason
from newsmon.crawler.sources import Source
from newsmon.crawler.urls import canonicalize_url
from newsmon.index.core import reasons
from newsmon.index.core.errors import FetchError
from newsmon.index.core.times import utcnow
from newsmon.index.store import DISCOVERED, NOT_MODIFIED

log = logging.getLogger(__name__)

__all__ = ["NewsSpider", "PageItem", "MAX_SECTION_PAGES", "MAX_SITEMAP_DEPTH"]

# Pages of one section followed through its pagination links (the first page included).
MAX_SECTION_PAGES = 3
# Sitemap indexes nested this deep are followed (index → index → urlset).
MAX_SITEMAP_DEPTH = 3
# Listings are fetched before articles so discovery is complete early and article limits apply
# to the newest-first order of feeds.
LISTING_PRIORITY = 10
# what a configured feed or sitemap URL must answer: its reason code when it answers HTML
_EXPECTED = {"feed": (reasons.NOT_A_FEED, "a feed (RSS, RDF or Atom)"),
             "sitemap": (reasons.NOT_A_SITEMAP, "a sitemap")}


@dataclass(slots=True)
class PageItem:
    """A fetched article page on its way to extraction and the store."""

    page: Page
    discovered_url: str
    aliases: tuple[str, ...] = ()  # further URLs that led here (before redirects, variants)
    listed_published: datetime | None = None
    listed_title: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    canonical: str = ""  # the canonicalised discovered URL: the key of the URLs that name it

    def __repr__(self) -> str:
        # Scrapy logs every scraped item at DEBUG level with its repr: the page's bytes would
        # put whole HTML documents (hundreds of MB per crawl) into the log
        return (f"PageItem(url={self.page.url!r}, bytes={len(self.page.body)}, "
                f"source={self.page.source!r}, discovered_url={self.discovered_url!r})")


class NewsSpider(scrapy.Spider):
    name = "newsmon"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listings_seen: set[tuple[str, str]] = set()
        self._articles_seen: set[str] = set()  # raw and canonical URLs queued this run
        # the first listing date met for a URL, whichever listing (section page, feed, sitemap)
        # queued it: a date-only page takes its time from the feed even when a section page
        # without dates linked it first
        self._listed_published: dict[str, datetime] = {}
        self._queued_per_source: dict[str, int] = {}
        self._offsite_seen: set[str] = set()

    @cached_property
    def ctx(self) -> CrawlContext:
        """The crawl's context, reached through the crawler (built with its extensions)."""
        return CrawlContext.of(self.crawler)

    @cached_property
    def recorder(self) -> CrawlRecorder:
        return self.ctx.recorder

    # -- start ------------------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        for request in self.start_requests_list():
            yield request

    def start_requests_list(self) -> list[scrapy.Request]:
        out: list[scrapy.Request] = []
        for source in self.ctx.sources.values():
            for url in source.feeds:
                out.extend(self._listing(source, url, "feed"))
            for url in source.sitemaps:
                out.extend(self._listing(source, url, "sitemap"))
            for url in source.sections:
                out.extend(self._listing(source, url, "section", section_url=url))
            if source.robots_sitemaps:
                hosts = dict.fromkeys(
                    f"{p.scheme}://{p.netloc}" for p in map(urlsplit, source.start_urls))
                for root in hosts:
                    out.extend(self._listing(source, f"{root}/robots.txt", "robots"))
            # articles that failed in earlier runs are tried again even when nothing links
            # to them any more (their feed may answer 304)
            retry = self.ctx.store.frontier.retry_urls(source.id, max_attempts=self.ctx.crawl.max_attempts)
            out.extend(self._articles(source, [Entry(u) for u in retry], kind="retry"))
        return out

    # -- requests ---------------------------------------------------------------------------------
    def _listing(self, source: Source, url: str, kind: str, *, depth: int = 0,
                 section_url: str | None = None) -> Iterator[scrapy.Request]:
        # per source: two sources may share a listing and each reads it with its own rules
        if (source.id, url) in self._listings_seen:
            return
        self._listings_seen.add((source.id, url))
        meta = {
            "newsmon_source": source.id,
            "newsmon_kind": kind,
            "newsmon_listing": kind != "robots",
            "newsmon_depth": depth,
            "newsmon_section": section_url,
            "handle_httpstatus_list": [304],
        }
        if kind == "robots":
            meta["dont_obey_robotstxt"] = True
        yield scrapy.Request(url, callback=self.parse_listing, errback=self.listing_error,
                             meta=meta, dont_filter=True, priority=LISTING_PRIORITY)

    def _articles(self, source: Source, entries: Iterable[Entry], *,
                  kind: str) -> list[scrapy.Request]:
        """Requests for the new article candidates among ``entries`` (filtering recorded)."""
        stats = self.ctx.stats
        fresh: list[tuple[Entry, str]] = []
        for entry in entries:
            if not source.allows_domain(entry.url):
                if entry.url in self._offsite_seen:
                    continue
                self._offsite_seen.add(entry.url)
                # off-site links of section pages are navigation and share buttons: counted,
                # not logged one by one; off-site entries of feeds and sitemaps are logged
                self.recorder.skipped(entry.url, reasons.OFFSITE, counter="offsite_blocked",
                                 source=source.id, kind=kind, log_it=kind not in ("section",))
                continue
            canonical = canonicalize_url(entry.url)
            # allow/deny are written for clean URLs: match them without tracking parameters
            if not source.is_article_url(canonical):
                # counted, not logged: a shared sitemap lists thousands of other pages
                self.recorder.skipped(entry.url, reasons.NOT_ARTICLE_URL, counter=None, source=source.id,
                                 kind=kind, log_it=False)
                continue
            if entry.published is not None:
                for key in (entry.url, canonical):
                    self._listed_published.setdefault(key, entry.published)
            if entry.url in self._articles_seen or canonical in self._articles_seen:
                if entry.url not in self._articles_seen:
                    # e.g. the feed's tracking-parameter link after the section's clean one
                    self._articles_seen.add(entry.url)
                    self.crawler.signals.send_catch_log(url_variant, canonical=canonical,
                                                        url=entry.url)
                continue
            self._articles_seen.update((entry.url, canonical))
            fresh.append((entry, canonical))
        if not fresh:
            return []
        known = self.ctx.store.frontier.known_urls(
            [u for e, c in fresh for u in (e.url, c)], max_attempts=self.ctx.crawl.max_attempts)
        requests = []
        limit = self.ctx.crawl.max_articles_per_source
        for entry, canonical in fresh:
            stats.count("discovered")
            if entry.url in known or canonical in known:
                stats.count("skipped_known")
                continue
            queued = self._queued_per_source.get(source.id, 0)
            if limit and queued >= limit:
                self.ctx.limited_sources.add(source.id)
                self.recorder.skipped(entry.url, reasons.ARTICLE_LIMIT, counter=None, source=source.id,
                                 kind="article", log_it=False)
                continue
            self._queued_per_source[source.id] = queued + 1
            requests.append(scrapy.Request(
                entry.url, callback=self.parse_article, errback=self.article_error,
                # undated links wait behind dated ones and listings, so a feed's date for the
                # same URL is usually known before its page is fetched
                dont_filter=True, priority=0 if entry.published is not None else -1,
                meta={
                    "newsmon_source": source.id,
                    "newsmon_kind": "article",
                    "newsmon_canonical": canonical,
                    "newsmon_published": entry.published,
                    "newsmon_title": entry.title,
                    "newsmon_via": kind,
                },
            ))
        return requests

    # -- listings ---------------------------------------------------------------------------------
    def parse_listing(self, response: Response) -> Iterator[scrapy.Request]:
        meta = response.meta
        source = self.ctx.sources[meta["newsmon_source"]]
        kind = meta["newsmon_kind"]
        url = response.request.url if response.request else response.url
        if response.status == 304:
            self.ctx.stats.count("not_modified")
            self.recorder.not_modified(url, source.id)
            self.recorder.log(url, NOT_MODIFIED, source=source.id, kind=kind, http_status=304)
            return
        self.ctx.stats.count("feeds_fetched")
        try:
            if kind == "robots":
                text = response.text if isinstance(response, TextResponse) else \
                    response.body.decode("utf-8", "replace")
                listing = Listing("robots", sitemaps=robots_sitemaps(text, response.url))
            else:
                listing = parse_listing(
                    response.body, response.url,
                    content_type=_header(response, b"Content-Type"),
                    text=response.text if isinstance(response, TextResponse) else None,
                    section_url=meta.get("newsmon_section"), default_tz=source.default_tz(),
                    max_bytes=self.ctx.crawl.max_bytes,
                )
        except FetchError as exc:
            self.recorder.listing_failed(url, exc.reason, source=source.id, kind=kind,
                                    http_status=response.status, detail=str(exc))
            return
        expected = _EXPECTED.get(kind)
        if expected is not None and listing.kind == "html":
            # a configured feed or sitemap that answers an HTML page (a moved feed, a site
            # redesign): its links are a home page's, not the feed's items — say so, loudly
            reason, what = expected
            looks = describe_page(response.text if isinstance(response, TextResponse)
                                  else response.body, response.url, len(listing.entries))
            self.recorder.listing_failed(url, reason, source=source.id, kind=kind,
                                         http_status=response.status,
                                         detail=f"not {what}: {looks}")
            return
        if kind != "robots":
            etag, last_modified = response_validators(response)
            self.recorder.remember_validators(url, source.id, response.status, etag, last_modified,
                                         listing.kind)
        depth = meta.get("newsmon_depth", 0)
        for sitemap in listing.sitemaps:
            if not source.allows_domain(sitemap):
                self.recorder.skipped(sitemap, reasons.OFFSITE, counter="offsite_blocked",
                                 source=source.id, kind="sitemap")
            elif depth < MAX_SITEMAP_DEPTH:
                yield from self._listing(source, sitemap, "sitemap", depth=depth + 1)
        if listing.kind == "html" and depth + 1 < MAX_SECTION_PAGES:
            for page in listing.pages:
                if source.allows_domain(page):
                    yield from self._listing(source, page, "section", depth=depth + 1,
                                             section_url=meta.get("newsmon_section") or url)
        # a section page's links include the other listings of the source (home ↔ sections)
        start = {u.rstrip("/") for u in source.start_urls}
        entries = [e for e in listing.entries
                   if e.url.rstrip("/") not in start
                   and (source.id, e.url) not in self._listings_seen]
        requests = self._articles(source, entries, kind="section" if kind == "section" else kind)
        self.recorder.log(url, DISCOVERED, source=source.id, kind=kind, http_status=response.status,
                     detail=f"{listing.kind}: {len(listing.entries)} links, "
                            f"{len(listing.sitemaps)} sitemaps, {len(listing.pages)} pages, "
                            f"{len(requests)} to fetch")
        yield from requests

    def listing_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        meta = request.meta
        info = classify_failure(failure)
        source, kind = meta["newsmon_source"], meta["newsmon_kind"]
        if info.reason == reasons.ROBOTS:
            self.recorder.skipped(request.url, reasons.ROBOTS, counter="robots_blocked", source=source,
                             kind=kind, detail=info.detail)
        elif info.reason == reasons.OFFSITE:
            self.recorder.skipped(request.url, reasons.OFFSITE, counter="offsite_blocked", source=source,
                             kind=kind, detail=info.detail)
        elif kind == "robots" and info.http_status == 404:
            # no robots.txt: nothing to read, nothing missed
            self.recorder.log(request.url, DISCOVERED, source=source, kind=kind, http_status=404,
                         detail="no robots.txt")
        else:
            self.recorder.listing_failed(request.url, info.reason, source=source, kind=kind,
                                    http_status=info.http_status, detail=info.detail)

    # -- articles ---------------------------------------------------------------------------------
    def parse_article(self, response: Response) -> Iterator[PageItem]:
        meta = response.meta
        source = self.ctx.sources[meta["newsmon_source"]]
        requested = response.request.url if response.request else response.url
        discovered = (meta.get("redirect_urls") or [requested])[0]
        self.ctx.stats.count("fetched_articles")
        aliases = tuple(dict.fromkeys(
            u for u in (discovered, meta["newsmon_canonical"], *meta.get("redirect_urls", ()))
            if u != response.url))
        if response.url != discovered:
            final_canonical = canonicalize_url(response.url)
            if final_canonical != meta["newsmon_canonical"] and (
                    final_canonical in self._articles_seen
                    or self.ctx.store.frontier.is_known(final_canonical,
                                               max_attempts=self.ctx.crawl.max_attempts)):
                # a redirect to an article this run or an earlier one already has
                self.recorder.skipped(discovered, reasons.REDIRECT_KNOWN, counter="skipped_known",
                                 source=source.id, kind="article", detail=response.url)
                return
            self._articles_seen.add(final_canonical)
        ctype = _header(response, b"Content-Type")
        what = non_html_reason(ctype, response.body)
        if what:
            self.recorder.article_rejected(response.url, reasons.NOT_HTML, source=source.id,
                                      http_status=response.status, detail=what, also=aliases)
            return
        etag, last_modified = response_validators(response)
        page = Page(
            url=response.url,
            body=response.body,
            source=source.id,
            lang=source.lang,
            tz=source.default_tz(),
            fetched_at=utcnow(),
            content_type=ctype,
            requested_url=discovered,
            etag=etag,
            last_modified=last_modified,
            http_status=response.status,
            site=source.site,
        )
        yield PageItem(page=page, discovered_url=discovered, aliases=aliases,
                       listed_published=meta.get("newsmon_published")
                       or self._listed_published.get(discovered)
                       or self._listed_published.get(meta["newsmon_canonical"]),
                       listed_title=meta.get("newsmon_title"),
                       canonical=meta["newsmon_canonical"])

    def article_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        meta = request.meta
        source = meta["newsmon_source"]
        url = (meta.get("redirect_urls") or [request.url])[0]
        info = classify_failure(failure)
        if info.reason == reasons.ROBOTS:
            self.recorder.skipped(url, reasons.ROBOTS, counter="robots_blocked", source=source,
                             kind="article", detail=info.detail)
        elif info.reason == reasons.OFFSITE:
            self.recorder.skipped(url, reasons.OFFSITE, counter="offsite_blocked", source=source,
                             kind="article", detail=info.detail)
        elif info.outcome == "rejected":
            self.recorder.article_rejected(url, info.reason, source=source,
                                      http_status=info.http_status, detail=info.detail,
                                      also=(meta["newsmon_canonical"],))
        else:
            self.recorder.article_failed(url, info.reason, source=source,
                                    http_status=info.http_status, detail=info.detail)


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
