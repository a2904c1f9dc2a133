"""URL canonicalisation: one spelling per article, and nothing merged that is not the same."""
from __future__ import annotations

import pytest

from newsmon.crawler.urls import Domains, absolute, canonicalize_url, choose_canonical, host_of, is_amp_url


@pytest.mark.parametrize("raw, canonical", [
    ("HTTP://Example.COM/a", "http://example.com/a"),
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    ("http://example.com", "http://example.com/"),
    ("http://example.com/a#comments", "http://example.com/a"),
    ("http://example.com/a?utm_source=rss&utm_medium=feed&utm_campaign=x", "http://example.com/a"),
    ("http://example.com/a?fbclid=1&gclid=2&mc_cid=3&mc_eid=4", "http://example.com/a"),
    ("http://example.com/a?ref=home&cmpid=abc&ncid=rss", "http://example.com/a"),
    ("http://example.com/a?b=2&a=1&utm_term=z", "http://example.com/a?a=1&b=2"),
    ("http://example.com/a?amp", "http://example.com/a"),
    ("http://example.com/a/./b/../c", "http://example.com/a/c"),
    ("http://example.com/%7euser", "http://example.com/~user"),
    ("http://example.com/a?q=a+b", "http://example.com/a?q=a%20b"),
])
def test_canonical_forms(raw: str, canonical: str) -> None:
    assert canonicalize_url(raw) == canonical


@pytest.mark.parametrize("url", [
    "http://example.com/story/",  # trailing slash kept: some sites serve another page without
    "http://example.com/index.html",  # not folded into "/"
    "http://www.example.com/a",  # www. kept
    "http://example.com/Story/A",  # path case kept
    "http://example.com/article.php?id=42",  # a parameter that selects the article
    "http://example.com/a?cid=7&from=top&src=x",  # short generic names may select content
])
def test_meaningful_parts_are_kept(url: str) -> None:
    assert canonicalize_url(url) == url


def test_japanese_paths_and_legacy_escapes_survive() -> None:
    assert canonicalize_url("http://例え.jp/記事/1") == \
        "http://例え.jp/%E8%A8%98%E4%BA%8B/1"
    # a Shift_JIS-escaped query (old Japanese CGI sites) is not decoded into mojibake
    assert canonicalize_url("http://x.jp/s?q=%82%A0") == "http://x.jp/s?q=%82%A0"
    # an escaped slash stays escaped: decoding it would change the path
    assert canonicalize_url("http://x.jp/a%2fb") == "http://x.jp/a%2Fb"


def test_canonicalize_is_idempotent() -> None:
    for url in ("HTTP://A.example:80/x/../y?b=1&a=2&utm_x=1#f", "http://x.jp/%E8%A8%98?q=%82%A0"):
        once = canonicalize_url(url)
        assert canonicalize_url(once) == once


@pytest.mark.parametrize("url, amp", [
    ("http://example.com/amp/world/story/", True),
    ("http://example.com/world/story.amp.html", True),
    ("http://example.com/world/story?amp", True),
    ("http://example.com/world/story?outputType=amp", True),
    ("http://amp.example.com/world/story", True),
    ("http://example.com/world/story/", False),
    ("http://example.com/campaign/example/", False),
])
def test_amp_urls(url: str, amp: bool) -> None:
    assert is_amp_url(url) is amp


def test_absolute_and_host() -> None:
    assert absolute("http://x.jp/news/", "../a.html#p2") == "http://x.jp/a.html"
    assert absolute("http://x.jp/", "javascript:void(0)") is None
    assert absolute("http://x.jp/", "mailto:a@x.jp") is None
    assert absolute("http://x.jp/", "ftp://x.jp/f") is None
    assert host_of("http://X.JP:8080/a") == "x.jp"


def test_choose_canonical_one_rule_on_the_source_domains() -> None:
    site = Domains(domains=("paper.co.jp",), hosts=("cdn.feeds.example",))
    page = "https://amp.paper.co.jp/a/1234567?utm_source=x#top"
    # the first declared URL on the source's domains wins, canonicalised
    assert choose_canonical(page, ["https://www.paper.co.jp/a/1234567#x"], site) == "https://www.paper.co.jp/a/1234567"
    # another paper on the same public suffix is another site: the fetched URL is kept
    assert choose_canonical(page, ["https://www.other.co.jp/a/1", None], site) == "https://amp.paper.co.jp/a/1234567"
    # og:url stands in when rel=canonical is off-site; relative references resolve
    assert choose_canonical(page, ["https://syndicator.example/a", "/a/1234567"], site) == "https://amp.paper.co.jp/a/1234567"
    # a canonical at the home page is a template error
    assert choose_canonical(page, ["https://www.paper.co.jp/"], site) == "https://amp.paper.co.jp/a/1234567"
    # an exact feed host is the source's, but not its subdomains
    assert choose_canonical(page, ["https://cdn.feeds.example/a/1"], site) == "https://cdn.feeds.example/a/1"
    assert choose_canonical(page, ["https://x.cdn.feeds.example/a/1"], site) == "https://amp.paper.co.jp/a/1234567"
    # a page known by itself: its own host and subdomains
    assert Domains.of_page(page).allows("https://x.amp.paper.co.jp/") and not Domains.of_page(page).allows("https://www.paper.co.jp/")
