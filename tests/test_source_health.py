"""Broken sources are named: a feed answering 404 and a "feed" that is an HTML page show up in
`run`'s summary, as WARNING lines, and in `status` with URL and reason; every configured source
is listed with its health; a run whose only failures are remote article pages exits 0 and the
failures are in `status` (real Scrapy, a real local server, real SQLite, the real CLI)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from newsmon.demo.server import DemoServer
from newsmon.index.core import reasons
from tests.helpers.served import clean_env

REPO = Path(__file__).resolve().parents[1]

FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Good News</title><link>http://www.good.example/</link>
<description>test feed</description>
<item><title>Down story</title><link>http://www.good.example/news/down-story</link>
<pubDate>Tue, 04 Mar 2025 10:00:00 +0000</pubDate></item>
<item><title>Gone story</title><link>http://www.good.example/news/gone-story</link>
<pubDate>Tue, 04 Mar 2025 11:00:00 +0000</pubDate></item>
</channel></rss>
"""
HOME = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Html Times</title>
<link rel="alternate" type="application/rss+xml" href="/rss/latest.xml"></head>
<body><a href="/news/one">One</a> <a href="/news/two">Two</a></body></html>
"""
SOURCES = """sources:
  - id: good
    lang: en
    feeds: [http://www.good.example/feed.xml]
  - id: broken
    lang: en
    feeds: [http://www.broken.example/feed.xml]
  - id: htmlfeed
    lang: en
    feeds: [http://www.htmlfeed.example/feed]
  - id: forbidden
    lang: en
    feeds: [http://www.forbidden.example/feed.xml]
  - id: resting
    lang: en
    enabled: false
    feeds: [http://www.resting.example/feed.xml]
"""


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "www.good.example").mkdir(parents=True)
    (root / "www.good.example" / "feed.xml").write_text(FEED)
    (root / "www.broken.example").mkdir()
    (root / "www.broken.example" / "robots.txt").write_text("User-agent: *\nDisallow:\n")
    (root / "www.forbidden.example").mkdir()
    (root / "www.forbidden.example" / "robots.txt").write_text("User-agent: *\nDisallow: /\n")
    (root / "www.forbidden.example" / "feed.xml").write_text(FEED)
    (root / "www.htmlfeed.example").mkdir()
    (root / "www.htmlfeed.example" / "feed.html").write_text(HOME)
    # the feed's first article answers 500, the second is gone
    (root / "headers.json").write_text(json.dumps(
        {"www.good.example/news/down-story": {"Status": 500}}))
    return root


def newsmon(tmp: Path, server: DemoServer, *args: str) -> subprocess.CompletedProcess[str]:
    sources = tmp / "sources.yaml"
    if not sources.exists():
        sources.write_text(SOURCES)
    env = clean_env(http_proxy=server.url, NEWSMON_CRAWL__SOURCES=str(sources),
                    NEWSMON_CRAWL__RETRIES="0", NEWSMON_CRAWL__DOWNLOAD_DELAY="0",
                    NEWSMON_CRAWL__AUTOTHROTTLE="false")
    return subprocess.run([sys.executable, "-m", "newsmon", "--data-dir", str(tmp / "data"),
                           *args], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=300)


def test_a_404_feed_and_an_html_feed_are_named_in_run_and_status(tmp_path: Path,
                                                                 site: Path) -> None:
    with DemoServer(site) as server:
        first = newsmon(tmp_path, server, "run")
        second = newsmon(tmp_path, server, "run", "--json")
        st_text = newsmon(tmp_path, server, "status")
        st = json.loads(newsmon(tmp_path, server, "status", "--json").stdout)
    # two sources failed entirely: a failed run for cron
    assert first.returncode == 1, first.stderr[-2000:]
    out = first.stdout
    assert "broken" in out and "FAILING" in out
    assert "feed http://www.broken.example/feed.xml: http_404" in out
    assert "feed http://www.htmlfeed.example/feed: not_a_feed" in out
    assert "an HTML page titled 'Html Times' with 2 links" in out
    assert "http://www.htmlfeed.example/rss/latest.xml" in out  # where the feed went
    # WARNING lines name source and URL as it happens
    assert "WARNING" in first.stderr
    assert "source broken: feed http://www.broken.example/feed.xml failed: http_404" \
        in first.stderr
    assert "source htmlfeed: feed http://www.htmlfeed.example/feed failed: not_a_feed" \
        in first.stderr

    run2 = json.loads(second.stdout)
    assert second.returncode == 1 and run2["exit_code"] == 1
    [crawl] = [s for s in run2["steps"] if s["stage"] == "crawl"]
    health = {h["source"]: h for h in crawl["stats"]["health"]}
    assert health["broken"]["state"] == "failing"
    assert health["broken"]["consecutive_failures"] == 2
    assert health["good"]["state"] == "degraded" and health["good"]["consecutive_failures"] == 0
    assert health["good"]["last_success_at"]

    # status lists every configured source, broken and disabled ones included
    text = st_text.stdout
    assert st_text.returncode == 0
    for line in ("broken", "htmlfeed", "good", "resting"):
        assert f"  {line}" in text
    assert "every listing failed in the last 2 crawl runs" in text
    assert "feed http://www.broken.example/feed.xml: http_404" in text
    assert "disabled" in text
    by_source = {s["source"]: s for s in st["source_health"]["sources"]}
    assert set(by_source) == {"good", "broken", "htmlfeed", "forbidden", "resting"}
    # a feed robots.txt forbids is never read: the source is failing, and says why
    assert by_source["forbidden"]["state"] == "failing"
    assert by_source["forbidden"]["last_error"]["reason"] == "robots"
    assert by_source["broken"]["last_error"]["url"] == "http://www.broken.example/feed.xml"
    assert by_source["broken"]["last_error"]["reason"] == "http_404"
    assert by_source["htmlfeed"]["last_error"]["reason"] == reasons.NOT_A_FEED
    assert by_source["resting"]["state"] == "disabled"
    # the reason text is true for a feed, which is read again every run
    assert "never fetched again" not in reasons.describe("http_404").split(";")[-1]
    assert "feed, sitemap or section page is read again every run" in text


def test_a_run_whose_only_failures_are_remote_pages_exits_0(tmp_path: Path,
                                                            site: Path) -> None:
    with DemoServer(site) as server:
        result = newsmon(tmp_path, server, "run", "--source", "good", "--json")
        st = json.loads(newsmon(tmp_path, server, "status", "--json").stdout)
        text = newsmon(tmp_path, server, "status").stdout
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert out["status"] == "ok" and out["exit_code"] == 0
    [crawl] = [s for s in out["steps"] if s["stage"] == "crawl"]
    assert crawl["stats"]["failed"] == 1 and crawl["stats"]["rejected"] == 1
    # the page's failure is in status: the source's health and its last error
    [good] = [s for s in st["source_health"]["sources"] if s["source"] == "good"]
    assert good["state"] == "degraded" and good["pages_failed"] == 2
    assert good["last_error"]["kind"] == "article"
    assert good["last_error"]["url"].startswith("http://www.good.example/news/")
    assert "pages failed 2" in text
    assert any(k.endswith("http_500") for k in st["failures_by_reason"])
