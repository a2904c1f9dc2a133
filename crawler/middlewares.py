"""Downloader-side pieces of the crawl, each small and built from the crawler in ``from_crawler``.

- ``SourceOffsiteMiddleware``: a request made for a source (or a redirect of one) may only go
  to that source's domains; anything else is refused before it leaves, and counted.
- ``ConditionalGetMiddleware``: listings (feeds, sitemaps, section pages) carry the ETag /
  Last-Modified of the last complete run as If-None-Match / If-Modified-Since.
- ``HeadMetaRefreshMiddleware``: Scrapy's meta-refresh redirects, looked for only in a page whose
  first bytes name a refresh at all.
- ``NonHtmlGuard``: stops downloading an article candidate as soon as its headers say it is a
  PDF, an image or other binary, instead of pulling megabytes to throw them away.

``classify_failure`` is the plain function behind the errbacks (``crawler.sniff`` says what
a response is).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy import Request, signals
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
    StopDownload,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import (
    ConnectError,
    ConnectionDone,
    ConnectionLost,
    DNSLookupError,
    TCPTimedOutError,
)
from twisted.internet.error import (
    TimeoutError as TxTimeoutError,
)
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed

from newsmon.crawler.context import GONE, CrawlContext
from newsmon.crawler.sniff import non_html_reason
from newsmon.index.core import reasons

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response


log = logging.getLogger(__name__)

__all__ = [
    "SourceOffsiteMiddleware",
    "ConditionalGetMiddleware",
    "HeadMetaRefreshMiddleware",
    "NonHtmlGuard",
    "FailureInfo",
    "classify_failure",
]


@dataclass(frozen=True, slots=True)
class FailureInfo:
    outcome: str  # "failed" (try again next run), "rejected" (never again) or "skipped"
    reason: str  # http_404, timeout, dns, connection, too_large, redirect_loop, robots, offsite…
    http_status: int | None = None
    detail: str = ""


def classify_failure(failure: Failure) -> FailureInfo:
    """Turn what reached an errback into an outcome and a reason code."""
    exc = failure.value
    detail = f"{type(exc).__name__}: {exc}"[:500]
    if isinstance(exc, HttpError):
        status = exc.response.status
        return FailureInfo("rejected" if status in GONE else "failed", reasons.http(status), status,
                           detail)
    if isinstance(exc, StopDownload):
        response = getattr(exc, "response", None)
        ctype = response.headers.get(b"Content-Type", b"").decode("latin-1") if response else ""
        return FailureInfo("rejected", reasons.NOT_HTML, getattr(response, "status", None),
                           non_html_reason(ctype) or ctype or detail)
    if isinstance(exc, IgnoreRequest):
        text = str(exc).lower()
        if "robots.txt" in text:
            return FailureInfo("skipped", reasons.ROBOTS, None, detail)
        if "redirection" in text or "redirect" in text:
            return FailureInfo("failed", reasons.REDIRECT_LOOP, None, detail)
        if "offsite" in text:
            return FailureInfo("skipped", reasons.OFFSITE, None, detail)
        return FailureInfo("skipped", reasons.IGNORED, None, detail)
    if isinstance(exc, (DownloadTimeoutError, TxTimeoutError, TCPTimedOutError)):
        return FailureInfo("failed", reasons.TIMEOUT, None, detail)
    if isinstance(exc, (CannotResolveHostError, DNSLookupError)):
        return FailureInfo("failed", reasons.DNS, None, detail)
    if isinstance(exc, DownloadCancelledError):
        # the download handler cancels only when DOWNLOAD_MAXSIZE is passed: permanent (the
        # page will be as large next run), so the URL is rejected, not retried every run
        return FailureInfo("rejected", reasons.TOO_LARGE, None, detail)
    if isinstance(exc, ResponseDataLossError):
        return FailureInfo("failed", reasons.DATA_LOSS, None, detail)
    if isinstance(exc, (DownloadConnectionRefusedError, DownloadFailedError, ConnectError,
                        ConnectionLost, ConnectionDone, ResponseFailed, ConnectionError)):
        return FailureInfo("failed", reasons.CONNECTION, None, detail)
    return FailureInfo("failed", reasons.ERROR, None, detail)


class SourceOffsiteMiddleware:
    """Refuse requests (including redirects) to hosts outside their source's ``domains``.

    Scrapy's own OffsiteMiddleware checks one domain list for the whole spider; here each
    source has its own, and a redirect from one source's site to another's is offsite too."""

    def __init__(self, ctx: CrawlContext) -> None:
        self.ctx = ctx

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SourceOffsiteMiddleware:
        return cls(CrawlContext.of(crawler))

    def process_request(self, request: Request) -> None:
        sid = request.meta.get("newsmon_source")
        if sid is None or request.meta.get("newsmon_kind") == "robots":
            return
        source = self.ctx.sources[sid]
        if not source.allows_domain(request.url):
            raise IgnoreRequest(f"offsite request to {request.url} for source {sid}")


class ConditionalGetMiddleware:
    """Add the saved validators to listing requests (Scrapy's HTTP cache is not used: what a
    304 means here is "nothing new in this feed", which only the crawl itself can act on)."""

    def __init__(self, ctx: CrawlContext) -> None:
        self.ctx = ctx

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalGetMiddleware:
        return cls(CrawlContext.of(crawler))

    def process_request(self, request: Request) -> None:
        if not request.meta.get("newsmon_listing") or request.meta.get("newsmon_conditional"):
            return
        request.meta["newsmon_conditional"] = True
        store = self.ctx.store
        if store.frontier.feed_kind(request.url) == "sitemapindex":
            # an index often stays the same while the sitemaps it names change: read it
            # every time, and let each child sitemap answer 304 for itself
            return
        etag, last_modified = store.frontier.feed_validators(request.url)
        if etag and b"If-None-Match" not in request.headers:
            request.headers[b"If-None-Match"] = etag
        if last_modified and b"If-Modified-Since" not in request.headers:
            request.headers[b"If-Modified-Since"] = last_modified


# Scrapy reads a meta refresh in the first 4096 characters of the decoded page; a character
# is at most 4 bytes in any ASCII-compatible charset
_REFRESH_SPAN = 4 * 4096
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff")


class HeadMetaRefreshMiddleware(MetaRefreshMiddleware):
    """Scrapy's ``MetaRefreshMiddleware`` (same settings, same redirects), skipped for a page
    whose first bytes hold no "refresh": Scrapy decodes every whole HTML body to look (its
    ``response.text``, cached on a response our spider never reads as text: 0.2 ms a page of
    the main process, which otherwise never decodes an article). UTF-16/32 bodies (a BOM or NUL bytes)
    spell "refresh" with other bytes, so they always take Scrapy's path."""

    def process_response(  # type: ignore[override]  # Scrapy 2.13+: no spider argument
            self, request: Request, response: Response) -> Request | Response:
        head = response.body[:_REFRESH_SPAN]
        if b"refresh" not in head.lower() and not head.startswith(_WIDE_BOMS) and b"\0" not in head:
            return response
        return super().process_response(request, response)


class NonHtmlGuard:
    """Extension: stop an article download when its headers already say it is not HTML."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NonHtmlGuard:
        ext = cls(crawler)
        crawler.signals.connect(ext.headers_received, signal=signals.headers_received)
        return ext

    def headers_received(self, headers: Any, body_length: int, request: Request,
                         spider: Any = None) -> None:
        if request.meta.get("newsmon_kind") != "article":
            return
        raw = headers.get(b"Content-Type") or b""
        ctype = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
        if non_html_reason(ctype):
            raise StopDownload(fail=True)


def response_validators(response: Response) -> tuple[str | None, str | None]:
    etag = response.headers.get(b"ETag")
    last_modified = response.headers.get(b"Last-Modified")
    return (etag.decode("latin-1") if etag else None,
            last_modified.decode("latin-1") if last_modified else None)
