"""The devset mini web (three fictional news sites, two phases), reached through an HTTP proxy
under the sites' real ``.example`` host names, which also proves that the crawl honours
``http_proxy``. Each crawl runs in its own process."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest

from bench._metrics import norm_ja
from tests.helpers.crawlproc import ROOT, crawl_command, crawl_env, run_crawl_process
from tests.helpers.webserver import DEVSET

SITE = DEVSET / "site"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.shared("devset/site/serve.py"),
]

# Per-source rules, as a user would write them in config/sources.yaml: which links are articles.
ARTICLE_PATTERNS = {
    "harbourline.example": [r"^http://harbourline\.example/[a-z-]+/\d{4}/[a-z]{3}/\d{2}/[^/]+/$"],
    "tohto-shimbun.example": [r"/news/\d{8}/k\d+\.html$"],
    "nichirin-news.example": [r"/news/\d{4}/\d{2}/\d{2}/nr\d+_\d+\.html$"],
}


def _manifest() -> dict:
    return json.loads((SITE / "manifest.json").read_text(encoding="utf-8"))


def _sources_yaml() -> str:
    manifest = _manifest()
    out = ["sources:"]
    for host, info in manifest["hosts"].items():
        feeds = [f["url"] for f in info["feeds"]["1"] if f["format"] != "google-news-sitemap"]
        sitemaps = [f["url"] for f in info["feeds"]["1"] if f["format"] == "google-news-sitemap"]
        out += [f"  - id: {info['source']}", f"    name: {json.dumps(info['name'])}",
                f"    lang: {info['lang']}", f"    feeds: {json.dumps(feeds)}",
                f"    sitemaps: {json.dumps(sitemaps)}",
                f"    sections: {json.dumps(info['sections']['1'])}",
                f"    allow: {json.dumps(ARTICLE_PATTERNS[host])}",
                f"    robots_sitemaps: {'true' if info['source'] == 'nichirin-news' else 'false'}"]
    return "\n".join(out) + "\n"


def _articles_by_id() -> dict[str, dict]:
    lines = (DEVSET / "articles.jsonl").read_text(encoding="utf-8").splitlines()
    return {a["id"]: a for a in map(json.loads, lines)}


def _expected(phase: int) -> dict[str, str]:
    """canonical URL → article id of the articles served in ``phase``."""
    return {p["url"]: p["article_id"] for p in _manifest()["pages"].values()
            if p["kind"] == "article" and phase in p["phases"]}


@pytest.fixture(scope="module")
def devset_server():
    sys.path.insert(0, str(SITE))
    try:
        from serve import start_server  # the devset's own reference server
    finally:
        sys.path.remove(str(SITE))
    srv = start_server(phase=1)
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def three_crawls(devset_server, tmp_path_factory):
    """Phase 1, phase 1 again (nothing changed), then phase 2."""
    srv = devset_server
    tmp = tmp_path_factory.mktemp("devset")
    sources = tmp / "sources.yaml"
    sources.write_text(_sources_yaml(), encoding="utf-8")
    proxy = f"http://127.0.0.1:{srv.server_port}"
    srv.phase = 1
    marks, results = [len(srv.requests)], []
    for phase in (1, 1, 2):
        srv.phase = phase
        results.append(run_crawl_process(tmp / "data", sources, proxy=proxy))
        marks.append(len(srv.requests))
    requests = [srv.requests[marks[i]:marks[i + 1]] for i in range(3)]
    db = sqlite3.connect(tmp / "data" / "newsmon.db")
    db.row_factory = sqlite3.Row
    yield {"results": results, "requests": requests, "db": db}
    db.close()


def _stored(db: sqlite3.Connection) -> dict[str, dict]:
    return {r["canonical_url"]: json.loads(r["data"])
            for r in db.execute("SELECT canonical_url, data FROM articles")}


def test_phase1_stores_the_26_articles_once_each(three_crawls):
    first = three_crawls["results"][0]
    assert first.returncode == 0, first.stderr[-3000:]
    expected = _expected(1)
    assert len(expected) == 26
    db = three_crawls["db"]
    run1 = {r["canonical_url"] for r in db.execute(
        "SELECT a.canonical_url FROM articles a JOIN fetch_log f ON f.url IN (a.url, a.canonical_url)"
        " WHERE f.run_id=1 AND f.outcome='stored'")}
    assert run1 == set(expected)
    assert first.stats["stored"] == 26 and first.stats["failed"] == 0
    by_lang: dict[str, int] = {}
    truth = _articles_by_id()
    for url in run1:
        art = _stored(db)[url]
        ref = truth[expected[url]]
        by_lang[f"{art['source']}:{art['lang']}"] = by_lang.get(f"{art['source']}:{art['lang']}", 0) + 1
        assert art["lang"] == ref["lang"]
        first_paragraph = ref["text"].split("\n\n")[0]
        assert norm_ja(first_paragraph) in norm_ja(art["text"]), url
    assert by_lang == {"harbourline:en": 8, "tohto-shimbun:ja": 7, "nichirin-news:ja": 11}


def test_phase1_never_fetches_disallowed_or_non_article_pages_as_articles(three_crawls):
    requests = [r for rs in three_crawls["requests"] for r in rs]
    assert not any(p.startswith("/search") for _, p, _ in requests)
    assert not any(p.startswith("/members/") for _, p, _ in requests)
    db = three_crawls["db"]
    stored = set(_stored(db))
    manifest = _manifest()
    not_articles = {p["url"] for p in manifest["pages"].values()
                    if p["kind"] in ("section", "static", "amp")}
    assert not stored & not_articles
    # the AMP copy and the utm_ link lead to the same articles, stored once
    tracking = manifest["tracking_variants"][0]
    assert tracking["canonical"] in stored
    assert not any("utm_" in u for u in stored)
    assert db.execute("SELECT COUNT(*) FROM articles WHERE canonical_url LIKE '%/amp/%'"
                      ).fetchone()[0] == 0


def test_unchanged_sites_answer_304_and_nothing_is_fetched_again(three_crawls):
    second = three_crawls["results"][1]
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stats["stored"] == 0 and second.stats["fetched_articles"] == 0
    statuses = [s for _, p, s in three_crawls["requests"][1] if p != "/robots.txt"]
    assert statuses and set(statuses) == {304}
    assert second.stats["not_modified"] == len(statuses)


def test_phase2_adds_exactly_the_10_new_articles(three_crawls):
    third = three_crawls["results"][2]
    assert third.returncode == 0, third.stderr[-3000:]
    db = three_crawls["db"]
    stored = _stored(db)
    assert set(stored) == set(_expected(2)) and len(stored) == 36
    new_ids = {_expected(2)[u] for u in set(_expected(2)) - set(_expected(1))}
    assert new_ids == {"en-011", "en-013", "en-033", "en-034", "ja-009", "ja-016", "ja-024",
                       "ja-029", "ja-010", "ja-011"}
    assert third.stats["stored"] == 10
    # no article stored in phase 1 was requested again
    phase1_paths = {(urlsplit(u).hostname, urlsplit(u).path) for u in _expected(1)}
    fetched = {(h, p) for h, p, _ in three_crawls["requests"][2]}
    assert not phase1_paths & fetched
    # listings whose file is the same in both phases answer 304
    for host, path, status in three_crawls["requests"][2]:
        if path == "/robots.txt" or (host, path) in phase1_paths:
            continue
        rel = path.lstrip("/") + ("index.html" if path.endswith("/") else "")
        changed = (SITE / host / "phase2" / rel).is_file()
        if not changed and status != 404:
            assert status == 304, (host, path)


def test_kill_9_mid_crawl_then_rerun_stores_every_article_once(devset_server, tmp_path):
    srv = devset_server
    srv.phase = 1
    sources = tmp_path / "sources.yaml"
    sources.write_text(_sources_yaml(), encoding="utf-8")
    data = tmp_path / "data"
    proxy = f"http://127.0.0.1:{srv.server_port}"
    # slow enough to be caught in the middle: one request at a time, small batches
    slow = {"crawl__download_delay": "0.25", "crawl__per_host_concurrency": "1",
            "crawl__concurrency": "1", "crawl__batch_size": "2", "crawl__extract_workers": "1"}
    proc = subprocess.Popen(crawl_command(data, sources, **slow), cwd=ROOT, env=crawl_env(proxy),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    db_path = data / "newsmon.db"
    deadline = time.monotonic() + 90
    stored_before = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if db_path.exists():
                with sqlite3.connect(db_path, timeout=10) as db:
                    try:
                        stored_before = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
                    except sqlite3.OperationalError:  # schema not created yet
                        stored_before = 0
                if stored_before >= 4:
                    break
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the crawl and its extraction workers
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the crawl ended before it could be killed"
    with sqlite3.connect(db_path, timeout=10) as db:
        before = {r[0] for r in db.execute("SELECT canonical_url FROM articles")}
    stored_before = len(before)
    assert 4 <= stored_before < 26

    mark = len(srv.requests)
    rerun = run_crawl_process(data, sources, proxy=proxy)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    with sqlite3.connect(db_path) as db:
        urls = [r[0] for r in db.execute("SELECT canonical_url FROM articles")]
        stored_in_rerun = db.execute(
            "SELECT COUNT(*) FROM fetch_log WHERE run_id=2 AND outcome='stored'").fetchone()[0]
    assert sorted(urls) == sorted(_expected(1))  # all 26, each once
    assert stored_in_rerun == 26 - stored_before
    before_pages = {(urlsplit(u).hostname, urlsplit(u).path) for u in before}
    refetched = [(h, p) for h, p, _ in srv.requests[mark:] if (h, p) in before_pages]
    assert refetched == []  # what was committed before the kill is not fetched again
    assert rerun.stats["stored"] == 26 - stored_before
