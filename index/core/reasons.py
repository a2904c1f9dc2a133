"""Why a URL was skipped, rejected or failed: the one registry of reason codes.

The crawler records these in the fetch log and its counters, ``newsmon status`` counts and
explains them, tests assert on them by name. A reason outside the registry is a bug
(``describe`` says so instead of inventing a meaning); HTTP statuses are ``http_<code>``.
"""
from __future__ import annotations

import re

__all__ = ["REASONS", "describe", "http", "is_known"]

# -- extraction: the page is not an article, or not all of one --------------------------------
NOT_HTML = "not_html"
EMPTY = "empty"
MALFORMED = "malformed"
NOT_ARTICLE = "not_article"
CHALLENGE = "challenge"
EXTRACT_CRASH = "extract_crash"
# -- stored, but flagged incomplete (the article's status)
PAYWALLED = "paywalled"
TRUNCATED = "truncated"
# -- fetching ----------------------------------------------------------------------------------
TIMEOUT = "timeout"
DNS = "dns"
CONNECTION = "connection"
DATA_LOSS = "data_loss"
TOO_LARGE = "too_large"
REDIRECT_LOOP = "redirect_loop"
ERROR = "error"
IGNORED = "ignored"
# -- listings ----------------------------------------------------------------------------------
BAD_FEED = "bad_feed"
BAD_SITEMAP = "bad_sitemap"
NOT_A_FEED = "not_a_feed"
NOT_A_SITEMAP = "not_a_sitemap"
# -- not fetched on purpose --------------------------------------------------------------------
ROBOTS = "robots"
OFFSITE = "offsite"
NOT_ARTICLE_URL = "not_article_url"
ARTICLE_LIMIT = "article_limit"
REDIRECT_KNOWN = "redirect_known"
DUPLICATE_CANONICAL = "duplicate_canonical"
KNOWN_CANONICAL = "known_canonical"
# -- bugs caught and recorded ------------------------------------------------------------------
SPIDER_ERROR = "spider_error"
PIPELINE_ERROR = "pipeline_error"

REASONS: dict[str, str] = {
    NOT_HTML: "not an HTML page (PDF, image, archive, JSON…): never fetched again",
    EMPTY: "no content, or no visible text (tried again)",
    MALFORMED: "bytes that do not parse as HTML",
    NOT_ARTICLE: "a home, section, list or static page, not an article",
    CHALLENGE: "a bot challenge instead of the article (tried again)",
    EXTRACT_CRASH: "extraction raised an error on this page (a bug; tried again)",
    PAYWALLED: "stored, but the text stops at a paywall",
    TRUNCATED: "stored, but the text is visibly cut short",
    TIMEOUT: "the server did not answer in time (tried again)",
    DNS: "the host name did not resolve (tried again)",
    CONNECTION: "connection refused or lost (tried again)",
    DATA_LOSS: "the response was cut short (tried again)",
    TOO_LARGE: "larger than [crawl] max_bytes (an article page is never fetched again; a feed, "
               "sitemap or section page is read again every run)",
    REDIRECT_LOOP: "too many redirects",
    ERROR: "another download error (tried again)",
    IGNORED: "dropped by a downloader middleware",
    BAD_FEED: "a feed that does not parse as RSS, RDF or Atom (read again next run)",
    BAD_SITEMAP: "a sitemap that does not parse (read again next run)",
    NOT_A_FEED: "a configured feed URL answered something else than RSS, RDF or Atom (an HTML "
                "page, often: the feed moved; read again next run)",
    NOT_A_SITEMAP: "a configured sitemap URL answered something else than a sitemap (an HTML "
                   "page, often; read again next run)",
    ROBOTS: "disallowed by the site's robots.txt",
    OFFSITE: "outside the source's domains",
    NOT_ARTICLE_URL: "a link the source's allow / deny rules exclude",
    ARTICLE_LIMIT: "over [crawl] max_articles_per_source this run (fetched next run)",
    REDIRECT_KNOWN: "redirects to an article already stored",
    DUPLICATE_CANONICAL: "another URL of an article stored in this run",
    KNOWN_CANONICAL: "a variant (e.g. AMP) of an article stored earlier",
    SPIDER_ERROR: "a crawler callback raised an error (a bug)",
    PIPELINE_ERROR: "the store pipeline raised an error (a bug)",
}
_HTTP = re.compile(r"^http_(\d{3})$")


def http(status: int) -> str:
    """The reason code of an HTTP error status: ``http_404``."""
    return f"http_{status}"


def is_known(code: str) -> bool:
    return code in REASONS or _HTTP.match(code) is not None


def describe(code: str) -> str:
    """What a reason code means, for status output."""
    if code in REASONS:
        return REASONS[code]
    m = _HTTP.match(code)
    if m:
        status = int(m.group(1))
        if status in (404, 410):
            # the same code for article pages and listings, which are treated differently
            return (f"HTTP {status}: not found (an article page is never fetched again; a "
                    f"feed, sitemap or section page is read again every run)")
        # an article page: tried again up to [crawl] max_attempts runs; a listing: every run
        return f"HTTP {status} (tried again)"
    return "unknown reason (not in newsmon.index.core.reasons)"
