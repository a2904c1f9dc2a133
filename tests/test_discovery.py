"""Feed, sitemap, robots.txt and section-page parsing, on the devset's real files and on
small hand-written documents for the odd cases."""
from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from newsmon.crawler.dates import parse_date
from newsmon.crawler.discovery import (
    maybe_gunzip,
    parse_feed,
    parse_listing,
    parse_sitemap,
    robots_sitemaps,
    section_links,
    sniff,
)
from newsmon.index.core.errors import FetchError
from tests.helpers.webserver import DEVSET

SITE = DEVSET / "site"
JST = timezone(timedelta(hours=9))
needs_devset = pytest.mark.shared("devset/site")


@needs_devset
def test_rss2_with_tracking_link_and_rfc822_dates() -> None:
    body = (SITE / "harbourline.example/phase1/rss.xml").read_bytes()
    listing = parse_feed(body, "http://harbourline.example/rss.xml")
    assert listing.kind == "rss" and len(listing.entries) == 8
    tracked = [e for e in listing.entries if "utm_source" in e.url]
    assert len(tracked) == 1  # <link> wins over <guid>; canonicalisation happens later
    first = listing.entries[0]
    assert first.published == datetime(2026, 11, 14, 9, 0, tzinfo=UTC)
    assert first.title.startswith("Hokusai meets Turner")


@needs_devset
def test_rss1_rdf_in_shift_jis() -> None:
    body = (SITE / "tohto-shimbun.example/phase1/rss/news.rdf").read_bytes()
    assert b'encoding="Shift_JIS"' in body[:100]
    listing = parse_feed(body, "http://tohto-shimbun.example/rss/news.rdf")
    assert listing.kind == "rdf" and len(listing.entries) == 7
    e = listing.entries[0]
    assert e.url == "http://tohto-shimbun.example/news/20261115/k10015521843000.html"
    assert e.title.startswith("重要鉱物で日英が枠組み")
    assert e.published == datetime(2026, 11, 15, 18, 30, tzinfo=JST)


@needs_devset
def test_atom_and_google_news_sitemap_agree() -> None:
    atom = parse_feed((SITE / "nichirin-news.example/phase1/atom.xml").read_bytes(),
                      "http://nichirin-news.example/atom.xml")
    news = parse_sitemap((SITE / "nichirin-news.example/phase1/sitemap_news.xml").read_bytes(),
                         "http://nichirin-news.example/sitemap_news.xml")
    assert atom.kind == "atom" and news.kind == "urlset"
    assert [e.url for e in atom.entries] and {e.url for e in atom.entries} == \
        {e.url for e in news.entries}
    # news:publication_date, not lastmod, is the publication time
    cyber = next(e for e in news.entries if e.url.endswith("nr20261114_0031.html"))
    assert cyber.published == datetime(2026, 11, 14, 11, 0, tzinfo=JST)
    assert cyber.title.startswith("日英「戦略的サイバーパートナーシップ」")


def test_sitemap_index_and_relative_locations() -> None:
    body = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>https://x.example/s1.xml</loc></sitemap>
      <sitemap><loc> /s2.xml.gz </loc></sitemap>
      <sitemap><loc>https://x.example/s1.xml</loc></sitemap></sitemapindex>"""
    listing = parse_listing(body, "https://x.example/index.xml")
    assert listing.kind == "sitemapindex"
    assert listing.sitemaps == ["https://x.example/s1.xml", "https://x.example/s2.xml.gz"]


def test_gzipped_sitemap_and_gzip_bomb_limit() -> None:
    urlset = (b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url>'
              b"<loc>https://x.example/a</loc><lastmod>2025-01-02</lastmod></url></urlset>")
    listing = parse_listing(gzip.compress(urlset), "https://x.example/s.xml.gz",
                            default_tz="Asia/Tokyo")
    assert [e.url for e in listing.entries] == ["https://x.example/a"]
    assert listing.entries[0].published == datetime(2025, 1, 2, tzinfo=ZoneInfo("Asia/Tokyo"))
    with pytest.raises(FetchError) as err:
        maybe_gunzip(gzip.compress(b"<a/>" * 100_000), max_bytes=10_000)
    assert err.value.reason == "too_large"


def test_broken_feed_is_recovered_or_reported() -> None:
    # an unescaped & and an unclosed tag: the recovering parser still finds the items
    body = (b"<rss version='2.0'><channel><item><title>A & B</title>"
            b"<link>http://x.example/1</link></item><item><link>http://x.example/2</link>")
    assert [e.url for e in parse_feed(body, "http://x.example/f").entries] == \
        ["http://x.example/1", "http://x.example/2"]
    with pytest.raises(FetchError) as err:
        parse_feed(b"<html><body>not a feed</body></html>", "http://x.example/f")
    assert err.value.reason == "bad_feed"


def test_robots_sitemap_lines() -> None:
    text = ("User-agent: *\nDisallow: /private/\nsitemap: https://x.example/a.xml\n"
            "SITEMAP:/b.xml # relative\nSitemap: https://x.example/a.xml\n")
    assert robots_sitemaps(text, "https://x.example/robots.txt") == \
        ["https://x.example/a.xml", "https://x.example/b.xml"]


@needs_devset
def test_section_page_links_and_pagination() -> None:
    body = (SITE / "nichirin-news.example/phase1/news/index.html").read_bytes()
    listing = section_links(body, "http://nichirin-news.example/news/")
    assert listing.pages == ["http://nichirin-news.example/news/page/2/"]
    urls = [e.url for e in listing.entries]
    assert "http://nichirin-news.example/news/2026/11/16/nr20261116_0231.html" in urls
    assert len(urls) == len(set(urls))
    assert "http://nichirin-news.example/news/" not in urls  # itself
    assert "http://nichirin-news.example/news/page/2/" not in urls


def test_pagination_shapes() -> None:
    html = """<html><body>
      <a href="/world/">World</a> <a href="/world/2025/01/02/story.html">story</a>
      <a href="/world/page/3">3</a> <a href="/world/?page=4">4</a>
      <a href="/sport/page/2/">other section</a> <a href="https://y.example/world/page/2/">off</a>
      <a rel="next" href="/world/older">older</a> <link rel="stylesheet" href="/s.css">
      <a href="javascript:void(0)">x</a></body></html>"""
    listing = section_links(html, "https://x.example/world/")
    assert listing.pages == ["https://x.example/world/page/3", "https://x.example/world/?page=4",
                             "https://x.example/world/older"]
    assert [e.url for e in listing.entries] == [
        "https://x.example/world/2025/01/02/story.html", "https://x.example/sport/page/2/",
        "https://y.example/world/page/2/"]


def test_sniff_by_root_element_not_content_type() -> None:
    assert sniff(b'<?xml version="1.0"?>\n<rss version="2.0">', "text/html") == "feed"
    assert sniff(b"\xef\xbb\xbf<?xml version='1.0'?><!-- c --><feed xmlns='x'>") == "feed"
    assert sniff(b"<rdf:RDF xmlns:rdf='x'>") == "feed"
    assert sniff(b"<urlset>", "text/xml") == "sitemap"
    assert sniff(b"<!doctype html><html>", "application/rss+xml") == "html"
    assert sniff(b"garbage", "application/atom+xml") == "feed"


@pytest.mark.parametrize("text, expected", [
    ("Fri, 13 Nov 2026 10:45:00 +0000", datetime(2026, 11, 13, 10, 45, tzinfo=UTC)),
    ("Fri, 13 Nov 2026 10:45:00 GMT", datetime(2026, 11, 13, 10, 45, tzinfo=UTC)),
    ("2026-11-13T19:20:00+09:00", datetime(2026, 11, 13, 19, 20, tzinfo=JST)),
    ("2026-11-13T10:20:00Z", datetime(2026, 11, 13, 10, 20, tzinfo=UTC)),
    ("2026-11-13T19:20+09", datetime(2026, 11, 13, 19, 20, tzinfo=JST)),
    ("2026-11-13", datetime(2026, 11, 13, tzinfo=JST)),  # no zone: the source's zone
    ("yesterday", None),
    ("", None),
])
def test_listing_dates_read_by_the_one_date_parser(text: str, expected: datetime | None) -> None:
    assert parse_date(text, "Asia/Tokyo") == expected
