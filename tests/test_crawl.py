"""Crawls of a real local site (saved corpus pages behind generated feeds, sitemaps and section
pages, plus traps) into a real SQLite store; each crawl runs in its own process."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bench._metrics import norm_ja
from newsmon.index.core import reasons
from tests.helpers.crawlproc import ROOT, TEST_SETTINGS, run_crawl_process
from tests.helpers.webserver import CORPORA, sources_yaml, start_news_site

pytestmark = [
    pytest.mark.slow,
    pytest.mark.shared("corpora/fundus-evaluation", "corpora/fundus-parser-tests"),
]


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.fixture(scope="module")
def web():
    srv, offsite, site = start_news_site()
    yield srv, offsite, site
    srv.stop()
    offsite.stop()


@pytest.fixture(scope="module")
def crawled(web, tmp_path_factory):
    """Crawl 1 (phase 1) and crawl 2 (phase 2: one new article, other listings unchanged)."""
    srv, offsite, site = web
    tmp = tmp_path_factory.mktemp("crawl")
    sources = tmp / "sources.yaml"
    sources.write_text(sources_yaml(srv.base), encoding="utf-8")
    first = run_crawl_process(tmp / "data", sources)
    requests_1 = list(srv.requests)
    site.phase = 2
    second = run_crawl_process(tmp / "data", sources)
    requests_2 = srv.requests[len(requests_1):]
    db = sqlite3.connect(tmp / "data" / "newsmon.db")
    db.row_factory = sqlite3.Row
    yield {"first": first, "second": second, "req1": requests_1, "req2": requests_2, "db": db,
           "site": site, "srv": srv, "offsite": offsite}
    db.close()


def _log(db: sqlite3.Connection, run_id: int) -> dict[str, tuple[str, str | None]]:
    return {_path(r["url"]): (r["outcome"], r["reason"]) for r in db.execute(
        "SELECT url, outcome, reason FROM fetch_log WHERE run_id=? AND kind='article'",
        (run_id,))}


def test_first_crawl_stores_each_article_once_matching_ground_truth(crawled):
    db, site = crawled["db"], crawled["site"]
    rows = db.execute("SELECT canonical_url, lang, data FROM articles").fetchall()
    by_path = {_path(r["canonical_url"]): r for r in rows if crawled["first"].stats}
    phase1 = {p for p in site.articles}
    assert phase1 <= set(by_path), f"missing: {phase1 - set(by_path)}"
    for path, expected in site.articles.items():
        row = by_path[path]
        data = json.loads(row["data"])
        assert row["lang"] == expected.lang, path
        assert norm_ja(expected.body_start) in norm_ja(data["text"]), (path, data["text"][:200])
    stats = crawled["first"].stats
    assert stats["stored"] == len(site.articles) == 10
    assert stats["discovered"] >= stats["stored"]


def test_japanese_pages_in_legacy_charsets_decode_cleanly(crawled):
    db, site = crawled["db"], crawled["site"]
    for path, expected in site.articles.items():
        if "sjis-" not in path and "eucjp-" not in path:
            continue
        data = json.loads(db.execute("SELECT data FROM articles WHERE canonical_url=?",
                                     (expected.url,)).fetchone()[0])
        assert "\ufffd" not in data["text"] and "\ufffd" not in data["title"], path
        assert norm_ja(expected.body_start) in norm_ja(data["text"]), path
        truth = json.loads((CORPORA / "fundus-parser-tests/truth/jp" /
                            (Path(expected.corpus_file.split()[0]).name[:-8] + ".json"))
                           .read_text(encoding="utf-8"))
        published = datetime.fromisoformat(data["published"])
        assert published == datetime.fromisoformat(truth["publishing_date"]), path


def test_tracking_variant_and_amp_copy_give_one_article(crawled):
    db, srv = crawled["db"], crawled["srv"]
    clean = f"{srv.base}/en/apnews_0.html"
    rows = db.execute("SELECT id, canonical_url FROM articles WHERE canonical_url LIKE ?",
                      ("%/apnews_0.html%",)).fetchall()
    assert [r["canonical_url"] for r in rows] == [clean]
    urls = {_path(r["url"]): (r["state"], r["article_id"]) for r in db.execute(
        "SELECT url, state, article_id FROM urls WHERE article_id=?", (rows[0]["id"],))}
    assert "/amp/en/apnews_0.html" in urls  # the AMP copy is known, under the same article
    assert any("utm_source" in p for p in urls)
    assert all(state == "stored" for state, _ in urls.values())


def test_traps_are_recorded_with_their_reason_and_not_stored(crawled):
    db = crawled["db"]
    log = _log(db, 1)
    expected = {
        "/trap/missing.html": ("rejected", reasons.http(404)),
        "/trap/error.html": ("failed", reasons.http(500)),
        "/trap/slow.html": ("failed", reasons.TIMEOUT),
        "/trap/huge.html": ("rejected", reasons.TOO_LARGE),
        "/trap/report.pdf": ("rejected", reasons.NOT_HTML),
        "/trap/mislabelled.html": ("rejected", reasons.NOT_HTML),
        "/trap/blob.html": ("rejected", reasons.NOT_HTML),
        "/trap/loop-a.html": ("failed", reasons.REDIRECT_LOOP),
        "/trap/empty.html": ("failed", reasons.EMPTY),
    }
    for path, outcome in expected.items():
        assert log.get(path) == outcome, path
    assert log["/trap/malformed.html"][0] in ("failed", "rejected")
    stored = {_path(r[0]) for r in db.execute("SELECT url FROM articles")}
    assert not any(p.startswith("/trap/") for p in stored)
    states = {_path(r["url"]): r["state"] for r in db.execute("SELECT url, state FROM urls")}
    assert states["/trap/missing.html"] == "rejected"
    assert states["/trap/error.html"] == "failed"
    stats = crawled["first"].stats
    # the traps are the site's failures, not the run's: counted, in the sources' health, and
    # exit 0 for cron (issue 18: only a source failing entirely, a bug or a stage fails a run)
    assert stats["ok"] is False and crawled["first"].returncode == 0
    assert any(h["state"] == "degraded" and h["pages_failed"] for h in stats["health"])
    assert stats["reasons"][reasons.http(404)] == 1 and stats["reasons"][reasons.TOO_LARGE] == 1
    # every reason either crawl recorded is one the registry explains
    recorded = {r[0] for r in db.execute("SELECT DISTINCT reason FROM fetch_log WHERE reason IS NOT NULL")}
    assert recorded and all(reasons.is_known(r) for r in recorded), recorded
    assert stats["rejected"] == sum(1 for v in log.values() if v[0] == "rejected")
    assert stats["failed"] == sum(1 for v in log.values() if v[0] == "failed")


def test_5xx_is_retried_within_the_run(crawled):
    errors = [r for r in crawled["req1"] if r.path == "/trap/error.html"]
    assert len(errors) == 1 + int(TEST_SETTINGS["crawl.retries"])


def test_robots_disallowed_and_offsite_urls_are_never_requested(crawled):
    paths = [r.path for r in crawled["req1"] + crawled["req2"]]
    assert not any(p.startswith("/private/") for p in paths)
    assert crawled["offsite"].requests == []
    stats = crawled["first"].stats
    assert stats["robots_blocked"] == 1
    assert stats["offsite_blocked"] >= 2  # the off-site article link and the off-site sitemap
    log = _log(crawled["db"], 1)
    assert log["/private/leak.html"] == ("skipped", "robots")


def test_requests_carry_the_configured_user_agent(crawled):
    agents = {r.user_agent for r in crawled["req1"]}
    assert agents == {TEST_SETTINGS["crawl.user_agent"]}


def test_second_crawl_fetches_no_stored_article_and_gets_304s(crawled):
    site, db = crawled["site"], crawled["db"]
    paths_2 = [r.path for r in crawled["req2"]]
    for path in site.articles:
        assert path not in paths_2, f"stored article fetched again: {path}"
    # permanent failures (gone, not HTML, over the size limit) are not asked for again
    for gone in ("/trap/missing.html", "/trap/report.pdf", "/amp/en/apnews_0.html",
                 "/trap/huge.html"):
        assert gone not in paths_2
    # transient ones are (max_attempts=3)
    assert "/trap/error.html" in paths_2 and "/trap/slow.html" in paths_2
    status = {r.path: r.status for r in crawled["req2"]}
    # (the section's page 2 is not even asked for: page 1 answered 304)
    assert "/section/page/2/" not in paths_2
    for listing in ("/atom.xml", "/rdf.xml", "/section/",
                    "/sitemaps/news.xml", "/sitemaps/articles.xml"):
        assert status[listing] == 304, listing
    assert status["/rss.xml"] == 200
    assert status["/sitemap_index.xml"] == 200  # an index is always read (see middlewares)
    conditional = [r for r in crawled["req2"] if r.path == "/atom.xml"]
    assert conditional[0].if_none_match and conditional[0].if_modified_since
    second = crawled["second"].stats
    assert second["stored"] == 1 and second["not_modified"] >= 6
    new = db.execute("SELECT COUNT(*) FROM articles WHERE canonical_url LIKE '%followup%'")
    assert new.fetchone()[0] == 1
    assert db.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == len(site.articles) + 1
    states = dict(db.execute("SELECT url, attempts FROM urls WHERE url LIKE '%/trap/error.html'"))
    assert list(states.values()) == [2]


def test_run_crawl_runs_once_per_process(tmp_path):
    code = (
        "from newsmon.crawler.run import run_crawl\n"
        "from newsmon.index.core.settings import Settings, DataSettings\n"
        "from newsmon.index.store import Store\n"
        f"store = Store({str(tmp_path / 'n.db')!r})\n"
        "s = Settings(data=DataSettings(dir=" + repr(str(tmp_path)) + "))\n"
        "print(run_crawl(s, [], store, run_id=1).ok)\n"
        "try:\n    run_crawl(s, [], store, run_id=2)\nexcept RuntimeError as e:\n"
        "    print('refused:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "True"
    assert out.stdout.splitlines()[1].startswith("refused: run_crawl can run once per process")
