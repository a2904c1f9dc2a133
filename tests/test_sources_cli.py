"""`newsmon sources list | check | remove [--purge]` through the real CLI: a real local HTTP
server for check, real sources files for remove (comments kept), real SQLite and a real
Elasticsearch node for purge (no document of the source left in either backend)."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsmon.app.searchtext import search_text
from newsmon.demo.server import DemoServer
from newsmon.index.core.article import Article, Stage, Status
from newsmon.index.search.backend import Filters
from newsmon.index.search.embedded import EmbeddedBackend
from newsmon.index.store import Store
from tests.helpers.served import clean_env

REPO = Path(__file__).resolve().parents[1]
UA = "newsmon-sources-check/1.0 (+https://example.invalid/check)"

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>One</title><link>http://www.check.example/news/one</link></item>
<item><title>Two</title><link>http://www.check.example/news/two</link></item>
<item><title>About</title><link>http://www.check.example/about</link></item>
</channel></rss>"""
SITEMAP = """<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>http://www.check.example/news/one</loc></url></urlset>"""
SECTION = """<!DOCTYPE html><html><head><title>World news</title></head><body>
<a href="/news/one">One</a><a href="/news/two">Two</a><a href="/contact">Contact</a></body></html>"""

SOURCES = """# my sources: a comment at the top
sources:
  # the site we check
  - id: check
    lang: en
    feeds: [http://www.check.example/rss.xml, http://www.check.example/gone.xml,
            http://www.check.example/world]
    sitemaps: [http://www.check.example/sitemap.xml]
    sections: [http://www.check.example/world]
    allow: ['/news/']

  # an old blog, to be removed
  - id: old-blog
    lang: en
    feeds: [http://www.old.example/feed.xml]
    # a comment inside the entry goes with it

  # a Japanese paper (kept)
  - id: paper
    lang: ja
    feeds: [http://www.paper.example/feed.xml]
"""


def newsmon(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    cfg = tmp / "newsmon.toml"
    if not cfg.exists():
        cfg.write_text(f'[data]\ndir = "{tmp / "data"}"\n[crawl]\nsources = '
                       f'"{tmp / "sources.yaml"}"\nuser_agent = "{UA}"\ntimeout = 10\n',
                       encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "newsmon", "--config", str(cfg), *args],
                          capture_output=True, text=True, env=clean_env(**env), cwd=REPO,
                          timeout=300)


@pytest.fixture()
def tmp(tmp_path: Path) -> Path:
    (tmp_path / "sources.yaml").write_text(SOURCES, encoding="utf-8")
    return tmp_path


def test_sources_check_says_what_each_url_answered(tmp: Path) -> None:
    site = tmp / "site" / "www.check.example"
    site.mkdir(parents=True)
    (site / "rss.xml").write_text(RSS)
    (site / "sitemap.xml").write_text(SITEMAP)
    (site / "world.html").write_text(SECTION)
    with DemoServer(tmp / "site") as server:
        result = newsmon(tmp, "sources", "check", "check", http_proxy=server.url)
        as_json = newsmon(tmp, "sources", "check", "check", "--json", http_proxy=server.url)
        agents = {h.user_agent for h in server.requests}
    assert result.returncode == 1, result.stderr  # two URLs are not what they are configured as
    out = result.stdout
    assert "ok  feed    http://www.check.example/rss.xml" in out
    assert "RSS feed with 3 items, 2 of them article URLs by the source's rules" in out
    assert "BAD feed    http://www.check.example/gone.xml" in out and "HTTP 404" in out
    assert "BAD feed    http://www.check.example/world" in out
    assert "not a feed: an HTML page titled 'World news' with 3 links" in out
    assert "ok  sitemap http://www.check.example/sitemap.xml" in out
    assert "sitemap with 1 URLs, 1 of them article URLs" in out
    assert "ok  section http://www.check.example/world" in out
    assert "5 URL(s) checked, 2 with a problem" in out
    assert agents == {UA}  # the configured user agent, once per URL
    rows = json.loads(as_json.stdout)
    assert [(r["kind"], r["ok"], r["http_status"]) for r in rows] == [
        ("feed", True, 200), ("feed", False, 404), ("feed", False, 200),
        ("sitemap", True, 200), ("section", True, 200)]


def test_sources_check_names_an_unreachable_host(tmp: Path) -> None:
    result = newsmon(tmp, "sources", "check", "paper", http_proxy="http://127.0.0.1:9")
    assert result.returncode == 1
    assert "BAD feed    http://www.paper.example/feed.xml" in result.stdout
    assert "no answer:" in result.stdout


def _articles(source: str, n: int, lang: str = "en") -> list[Article]:
    return [Article(url=f"https://{source}.example/news/{i}",
                    canonical_url=f"https://{source}.example/news/{i}", source=source,
                    lang=lang, title=f"{source} harbour story {i}",
                    text=f"The harbour ferry timetable story number {i} from {source}.",
                    published=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i),
                    status=Status.OK, stage=Stage.EXTRACTED,
                    fetched_at=datetime(2026, 1, 2, tzinfo=UTC)) for i in range(n)]


def _fill(tmp: Path) -> Path:
    db = tmp / "data" / "newsmon.db"
    with Store(db) as store:
        arts = _articles("old-blog", 4) + _articles("paper", 3)
        store.articles.upsert(arts)
        store.search_text.save(search_text(a) for a in arts)
        store.frontier.mark_url("https://old-blog.example/news/9", "failed", source="old-blog",
                                reason="http_500")
    return db


def test_sources_list_shows_every_configured_source(tmp: Path) -> None:
    _fill(tmp)
    result = newsmon(tmp, "sources", "list")
    assert result.returncode == 0, result.stderr
    for sid in ("check", "old-blog", "paper"):
        assert f"  {sid}" in result.stdout
    assert "never crawled" in result.stdout and "articles 4" in result.stdout


def test_remove_keeps_comments_and_status_flags_the_unpurged_articles(tmp: Path) -> None:
    _fill(tmp)
    result = newsmon(tmp, "sources", "remove", "old-blog")
    assert result.returncode == 0, result.stderr
    path = tmp / "sources.yaml"
    assert f"removed source old-blog from {path}" in result.stdout
    assert "sources.yaml.bak" in result.stdout
    text = path.read_text()
    assert "old-blog" not in text and "inside the entry" not in text
    for kept in ("# my sources: a comment at the top", "# the site we check",
                 "# an old blog, to be removed", "# a Japanese paper (kept)", "id: paper"):
        assert kept in text
    assert (tmp / "sources.yaml.bak").read_text() == SOURCES
    # the articles stay, and status says so with how to purge them
    status = newsmon(tmp, "status")
    assert "source old-blog is not in" in status.stdout
    assert "`newsmon sources remove old-blog --purge`" in status.stdout
    # an unknown id changes nothing
    again = newsmon(tmp, "sources", "remove", "old-blog")
    assert again.returncode == 2 and "has no source 'old-blog'" in again.stderr
    # purging a source no longer configured
    purged = newsmon(tmp, "sources", "remove", "old-blog", "--purge")
    assert purged.returncode == 0, purged.stderr
    assert "purged 4 article(s) of old-blog" in purged.stdout
    assert "source old-blog is not in" not in newsmon(tmp, "status").stdout


def _indexed_ids(db: Path) -> dict[str, int]:
    with Store(db) as store:
        be = EmbeddedBackend(store)
        return {s: be.count(Filters(sources=(s,))) for s in ("old-blog", "paper")}


@pytest.mark.es
def test_purge_leaves_no_trace_in_the_store_or_either_backend(tmp: Path, es_url: str) -> None:
    db = _fill(tmp)
    alias = f"newsmon-purge-{uuid.uuid4().hex[:10]}"
    env = {"NEWSMON_INDEX__ES_URL": es_url, "NEWSMON_INDEX__ES_INDEX": alias}
    from elasticsearch import Elasticsearch

    es = Elasticsearch(es_url, request_timeout=60)

    def es_count(source: str) -> int:
        es.indices.refresh(index=alias)
        return int(es.count(index=alias, query={"term": {"source": source}})["count"])

    try:
        for backend in ("sqlite", "elasticsearch"):
            done = newsmon(tmp, "index", "--backend", backend, **env)
            assert done.returncode == 0, done.stderr
        assert _indexed_ids(db) == {"old-blog": 4, "paper": 3}
        assert es_count("old-blog") == 4 and es_count("paper") == 3

        result = newsmon(tmp, "sources", "remove", "old-blog", "--purge", **env)
        assert result.returncode == 0, result.stderr
        assert "purged 4 article(s) of old-blog" in result.stdout
        assert "search index sqlite: 4 document(s) deleted" in result.stdout
        assert "search index elasticsearch: 4 document(s) deleted" in result.stdout

        assert _indexed_ids(db) == {"old-blog": 0, "paper": 3}
        assert es_count("old-blog") == 0 and es_count("paper") == 3
        with Store(db) as store:
            assert store.articles.ids_of_source("old-blog") == []
            assert store.articles.count() == 3
            assert "old-blog" not in store.articles.count_by("source")
            assert store.frontier.retry_urls("old-blog") == []
        # the next index runs take the tombstones: nothing comes back
        for backend in ("sqlite", "elasticsearch"):
            assert newsmon(tmp, "index", "--backend", backend, **env).returncode == 0
        assert _indexed_ids(db) == {"old-blog": 0, "paper": 3}
        assert es_count("old-blog") == 0 and es_count("paper") == 3
        search = newsmon(tmp, "search", "harbour", "--mode", "keyword", "--json",
                         "--backend", "elasticsearch", **env)
        assert search.returncode == 0, search.stderr
        assert "old-blog" not in search.stdout and "paper" in search.stdout
    finally:
        es.indices.delete(index=f"{alias}-v*", ignore_unavailable=True, allow_no_indices=True,
                          expand_wildcards="all")
        es.close()


def test_a_flow_style_sources_file_is_rewritten_and_the_user_told(tmp: Path) -> None:
    path = tmp / "sources.yaml"
    path.write_text("# flow style\n{sources: [{id: a, lang: en, feeds: [http://a.example/f]},"
                    " {id: b, lang: en, feeds: [http://b.example/f]}]}\n", encoding="utf-8")
    result = newsmon(tmp, "sources", "remove", "a")
    assert result.returncode == 0, result.stderr
    assert "written anew without its comments" in result.stdout
    from newsmon.crawler.sources import load_sources

    assert [s.id for s in load_sources(path)] == ["b"]
    assert "# flow style" in (tmp / "sources.yaml.bak").read_text()
