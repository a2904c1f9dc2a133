"""newsmon's crawl settings translated into Scrapy's (one place, so every knob has one name)."""
from __future__ import annotations

from typing import Any

from newsmon.index.core.settings import CrawlSettings

__all__ = ["scrapy_settings"]

# 5xx and the statuses servers use for "slow down": retried within the run, then recorded failed.
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]

# Scrapy varies each delay by ±DELAY_JITTER around DOWNLOAD_DELAY (a fixed rhythm is easy for a
# server to spot); DOWNLOAD_DELAY is raised so that the low end of that range is the configured
# delay: `download_delay` is the shortest gap between two requests to one host, as a site's
# operator (and a Crawl-delay) reads it. Each gap is then 1 to 1.5 times the configured delay.
DELAY_JITTER = 0.2


def scrapy_settings(crawl: CrawlSettings) -> dict[str, Any]:
    return {
        "BOT_NAME": "newsmon",
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        "ROBOTSTXT_USER_AGENT": crawl.user_agent,
        # politeness
        "CONCURRENT_REQUESTS": crawl.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.per_host_concurrency,
        "DOWNLOAD_DELAY": crawl.download_delay / (1 - DELAY_JITTER),
        # (RANDOMIZE_DOWNLOAD_DELAY, which said the same as a jitter of 0.5, is deprecated and
        # warns when set)
        "DOWNLOAD_DELAY_JITTER": DELAY_JITTER,
        "AUTOTHROTTLE_ENABLED": crawl.autothrottle,
        # AutoThrottle never goes below DOWNLOAD_DELAY, so the configured delay stays the floor
        "AUTOTHROTTLE_START_DELAY": max(crawl.download_delay / (1 - DELAY_JITTER), 1.0),
        "AUTOTHROTTLE_MAX_DELAY": 60.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": crawl.autothrottle_target_concurrency,
        # limits
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        "DOWNLOAD_MAXSIZE": crawl.max_bytes,
        "DOWNLOAD_WARNSIZE": max(1, crawl.max_bytes // 2),
        "REDIRECT_ENABLED": True,
        "REDIRECT_MAX_TIMES": crawl.max_redirects,
        "METAREFRESH_ENABLED": True,
        "RETRY_ENABLED": crawl.retries > 0,
        "RETRY_TIMES": crawl.retries,
        "RETRY_HTTP_CODES": RETRY_HTTP_CODES,
        # proxies from http_proxy / https_proxy / no_proxy (HttpProxyMiddleware, on by default)
        "HTTPPROXY_ENABLED": True,
        # the spider keeps its own per-source dedupe and offsite rules (on canonical URLs), and
        # conditional GETs are explicit; Scrapy's cache would hide 304s from the crawl
        "HTTPCACHE_ENABLED": False,
        "COOKIES_ENABLED": True,
        "TELNETCONSOLE_ENABLED": False,
        # logging is configured by the CLI, never by a library
        "LOG_INSTALL_ROOT_HANDLER": False,
        "LOGSTATS_INTERVAL": 60.0,
        "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.DownloaderAwarePriorityQueue",
        "DOWNLOADER_MIDDLEWARES": {
            "newsmon.crawler.middlewares.SourceOffsiteMiddleware": 60,
            "newsmon.crawler.middlewares.ConditionalGetMiddleware": 560,
            # Scrapy's own at its place, looking only where a refresh can be (middlewares.py)
            "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
            "newsmon.crawler.middlewares.HeadMetaRefreshMiddleware": 580,
        },
        "EXTENSIONS": {
            # the crawl's context: built first, reached by the others through the crawler
            "newsmon.crawler.context.CrawlContext": 0,
            "newsmon.crawler.middlewares.NonHtmlGuard": 100,
        },
        "ITEM_PIPELINES": {
            "newsmon.crawler.pipelines.ExtractStorePipeline": 300,
        },
        # bounds the items of *one* response processed at once, and Scrapy starts that many tasks
        # for every response it parses: an article page yields one item, so more cost tasks for
        # nothing. Pages of different responses are still extracted concurrently (downloads in
        # flight, SCRAPER_SLOT_MAX_ACTIVE_SIZE), which keeps every extraction worker busy.
        "CONCURRENT_ITEMS": 1,
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    }
