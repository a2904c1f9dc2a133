"""The crawl's context as a Scrapy component: built by Scrapy in from_crawler, reached through the
crawler, counting in crawler.stats, and its recorder writing recorded outcomes with the next
batch of articles in one transaction (real Scrapy crawler object, a real SQLite store and a real
PostgreSQL one)."""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy.crawler import AsyncCrawlerRunner, CrawlerRunner
from scrapy.utils.reactor import is_reactor_installed
from scrapy.utils.test import get_reactor_settings

from newsmon.crawler.context import JOB_SETTING, CrawlContext, CrawlJob
from newsmon.crawler.scrapy_settings import scrapy_settings
from newsmon.crawler.sources import Source
from newsmon.crawler.spider import NewsSpider
from newsmon.index.core import reasons
from newsmon.index.core.article import Article
from newsmon.index.core.settings import DataSettings, Settings
from newsmon.index.store import StoreBase as Store
from tests.helpers.pgdb import open_test_store

SOURCE = Source(id="s", name="S", langs=("en",), feeds=("http://news.example/feed",))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def store(request, tmp_path: Path):
    """The crawl's writes over both stores of record."""
    with open_test_store(request.param, tmp_path) as s:
        yield s


def _context(store: Store, data_dir: Path) -> tuple[object, CrawlContext]:
    """A crawler made as run_crawl makes one (scrapy.utils.test.get_crawler's way of creating it
    without a running reactor), its job set, its stats and extensions built."""
    settings = Settings(data=DataSettings(dir=data_dir))
    scrapy = {**scrapy_settings(settings.crawl), **get_reactor_settings()}
    runner = CrawlerRunner(scrapy) if is_reactor_installed() else AsyncCrawlerRunner(scrapy)
    crawler = runner.create_crawler(NewsSpider)
    crawler.settings.set(JOB_SETTING, CrawlJob(settings, (SOURCE,), store, run_id=7),
                         priority="cmdline")
    crawler._apply_settings()  # what Crawler.crawl does before the engine: stats, extensions
    return crawler, CrawlContext.of(crawler)


def _article(n: int) -> Article:
    url = f"http://news.example/a/{n}"
    return Article(url=url, canonical_url=url, source="s", title=f"t{n}", text="body " * 50,
                   lang="en", fetched_at=datetime(2026, 11, 30, tzinfo=UTC))


def test_context_is_the_crawlers_extension_and_counts_in_its_stats(store: Store,
                                                                   tmp_path: Path) -> None:
    crawler, ctx = _context(store, tmp_path)
    assert crawler.get_extension(CrawlContext) is ctx
    ctx.recorder.article_rejected("http://news.example/x", reasons.NOT_ARTICLE, source="s")
    ctx.recorder.skipped("http://news.example/y", reasons.ROBOTS, counter="robots_blocked",
                         source="s", kind="article")
    crawler.stats.inc_value("downloader/request_count", 3)  # what Scrapy's DownloaderStats does
    stats = crawler.stats.get_stats()
    assert stats["newsmon/rejected"] == 1 and stats["newsmon/robots_blocked"] == 1
    assert stats[f"newsmon/reasons/{reasons.NOT_ARTICLE}"] == 1
    result = ctx.result()
    assert (result.rejected, result.robots_blocked, result.requests) == (1, 1, 3)
    assert result.reasons == {reasons.NOT_ARTICLE: 1, reasons.ROBOTS: 1}


def test_outcomes_wait_for_the_next_batch_and_commit_with_it(store: Store,
                                                             tmp_path: Path) -> None:
    _, ctx = _context(store, tmp_path)
    ctx.recorder.article_rejected("http://news.example/x", reasons.NOT_ARTICLE, source="s")
    ctx.recorder.article_failed("http://news.example/z", reasons.TIMEOUT, source="s")
    # nothing written yet: no transaction per recorded row
    assert store.runs.fetch_log(run_id=7) == []
    assert not store.frontier.is_known("http://news.example/x")
    assert ctx.recorder.write([_article(1), _article(2)], {}) == 2
    assert {r.url for r in store.runs.fetch_log(run_id=7)} == {
        "http://news.example/x", "http://news.example/z"}
    assert store.frontier.is_known("http://news.example/x")


def test_a_failed_write_keeps_nothing_of_it_and_the_outcomes_for_the_next(store: Store,
                                                                          tmp_path: Path) -> None:
    _, ctx = _context(store, tmp_path)
    ctx.recorder.article_rejected("http://news.example/x", reasons.NOT_ARTICLE, source="s")
    broken = dataclasses.replace(_article(3), flags=[object()])  # cannot be serialised
    with pytest.raises(TypeError):
        ctx.recorder.write([_article(4), broken], {})
    assert store.runs.fetch_log(run_id=7) == []
    assert not store.frontier.is_known("http://news.example/x")
    assert store.articles.get(_article(4).id) is None
    ctx.recorder.write()  # the outcomes were kept: the next write has them
    assert [r.url for r in store.runs.fetch_log(run_id=7)] == ["http://news.example/x"]
