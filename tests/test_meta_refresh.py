"""The crawl's meta-refresh middleware: Scrapy's redirects, without decoding a page that has no
refresh (crawler.middlewares.HeadMetaRefreshMiddleware)."""
from __future__ import annotations

import gzip

import pytest
from scrapy import Request
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from newsmon.crawler.middlewares import HeadMetaRefreshMiddleware
from tests.helpers.webserver import CORPORA

REFRESH = '<meta http-equiv="Refresh" content="0; url=/moved.html">'


def _mw(cls: type[MetaRefreshMiddleware]) -> MetaRefreshMiddleware:
    return cls.from_crawler(get_crawler(settings_dict={"METAREFRESH_ENABLED": True}))


def _page(body: bytes, ctype: str = "text/html; charset=utf-8") -> tuple[Request, HtmlResponse]:
    url = "http://news.example/a/1.html"
    return Request(url), HtmlResponse(url, body=body, headers={"Content-Type": ctype})


@pytest.mark.parametrize(("body", "ctype"), [
    (f"<html><head>{REFRESH}</head><body>x</body></html>".encode(), "text/html"),
    (f"<html><head>{REFRESH.upper()}</head><body>x</body></html>".encode(), "text/html"),
    (f"<html><head><title>東京</title>{REFRESH}</head><body>本文</body></html>".encode("shift_jis"),
     "text/html; charset=shift_jis"),
    (f"<html><head>{REFRESH}</head><body>x</body></html>".encode("utf-16"), "text/html; charset=utf-16"),
    ("\ufeff<html><head><title>t</title></head><body>x</body></html>".encode("utf-16-le"), "text/html"),
])
def test_refresh_pages_redirect_as_scrapys(body, ctype):
    request, response = _page(body, ctype)
    ours = _mw(HeadMetaRefreshMiddleware).process_response(request, response)
    request, response = _page(body, ctype)
    theirs = _mw(MetaRefreshMiddleware).process_response(request, response)
    assert type(ours) is type(theirs)
    if isinstance(theirs, Request):
        assert ours.url == theirs.url
    else:
        assert ours is response or ours.body == theirs.body


def test_page_without_refresh_is_passed_on_undecoded():
    body = ("<html><head><title>東京</title></head><body>" + "本文。" * 5000 + "</body></html>").encode()
    request, response = _page(body)
    assert _mw(HeadMetaRefreshMiddleware).process_response(request, response) is response
    # Scrapy caches the decoded body on the response; nothing decoded it
    assert response._cached_ubody is None


@pytest.mark.shared("corpora")
def test_same_outcome_as_scrapys_on_corpus_pages():
    """Real pages, among them some whose scripts or links mention "refresh"."""
    paths = sorted(CORPORA.glob("**/*.html.gz"))[:150]
    assert len(paths) > 50
    ours, theirs = _mw(HeadMetaRefreshMiddleware), _mw(MetaRefreshMiddleware)
    for path in paths:
        body = gzip.decompress(path.read_bytes())
        for ctype in ("text/html", "text/html; charset=utf-8"):
            a = ours.process_response(*_page(body, ctype))
            b = theirs.process_response(*_page(body, ctype))
            assert type(a) is type(b), path
            if isinstance(b, Request):
                assert a.url == b.url, path
