"""`newsmon demo` end to end (real demo server, real Scrapy crawl, real SQLite store), and the
demo server itself."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from email.utils import formatdate
from pathlib import Path

import pytest

from newsmon.demo.server import DEMO_SITE, DemoServer, Hit, read_access_log
from newsmon.index.core.article import Article
from newsmon.index.store import Store

REPO = Path(__file__).resolve().parents[1]

HT = "http://www.harbour-times.example"
TS = "http://www.toto-shimpo.example"
PL = "http://www.pacific-ledger.example"
# (canonical URL, source, lang, title, published) of every article the demo sites carry;
# written from the pages by hand, not from what the crawler made of them
EXPECTED = [
    (f"{HT}/news/2025/01/uk-japan-strategic-cyber-partnership", "demo-harbour-times", "en",
     "UK and Japan launch strategic cyber partnership to counter state-backed hackers",
     "2025-01-23T09:30:00+00:00"),
    (f"{HT}/news/2025/03/uk-japan-critical-minerals-framework", "demo-harbour-times", "en",
     "London and Tokyo agree critical minerals framework to secure battery supply chains",
     "2025-03-12T14:05:00+00:00"),
    (f"{HT}/news/2025/06/gcap-joint-venture-headquarters", "demo-harbour-times", "en",
     "GCAP fighter venture opens UK headquarters as design work speeds up",
     "2025-06-18T07:00:00+01:00"),
    (f"{HT}/news/2025/06/harbour-front-cycle-lanes-approved", "demo-harbour-times", "en",
     "Council approves harbour-front cycle lanes after two-year consultation",
     "2025-06-20T16:45:00+01:00"),
    (f"{HT}/news/2025/07/rail-fares-freeze-extended", "demo-harbour-times", "en",
     "Regional rail fares freeze extended until spring", "2025-07-02T11:10:00+01:00"),
    (f"{TS}/news/politics/20250123-0001.html", "demo-toto-shimpo", "ja",
     "日英、サイバー分野で戦略的パートナーシップ　国家系ハッカーに共同対処",
     "2025-01-23T18:30:00+09:00"),
    (f"{TS}/news/economy/20250312-0002.html", "demo-toto-shimpo", "ja",
     "重要鉱物で日英が協力枠組み　電池材料の供給網を強化", "2025-03-12T23:10:00+09:00"),
    (f"{TS}/news/politics/20250618-0003.html", "demo-toto-shimpo", "ja",
     "次期戦闘機GCAP、日英伊の共同事業体が英国拠点を開設", "2025-06-18T20:00:00+09:00"),
    # its JSON-LD date has no zone: the source's zone (Asia/Tokyo) applies
    (f"{TS}/news/society/20250320-0004.html", "demo-toto-shimpo", "ja",
     "東京で桜が開花　平年より4日早く", "2025-03-20T14:00:00+09:00"),
    (f"{PL}/policy/2025/03/13/what-minerals-deal-means-for-battery-makers",
     "demo-pacific-ledger", "en", "What the Japan–UK minerals deal means for battery makers",
     "2025-03-13T06:00:00+00:00"),
    (f"{PL}/policy/2025/05/08/central-bank-holds-rates", "demo-pacific-ledger", "en",
     "Central bank holds rates as wage growth cools", "2025-05-08T12:00:00+00:00"),
]
SHIFT_JIS_URL = f"{TS}/news/economy/20250312-0002.html"
DISALLOWED = "/members/2025/01/uk-japan-cyber-briefing"


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NEWSMON_") and not k.lower().endswith("_proxy")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class DemoRun:
    result: subprocess.CompletedProcess[str]
    hits: list[Hit]


def run_demo(data_dir: Path) -> DemoRun:
    result = subprocess.run(
        [sys.executable, "-m", "newsmon", "demo", "--data-dir", str(data_dir)],
        capture_output=True, text=True, env=clean_env(), cwd=REPO, timeout=300)
    return DemoRun(result, read_access_log(data_dir / "demo-server.log"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoRun, DemoRun]:
    data_dir = tmp_path_factory.mktemp("demo")
    first = run_demo(data_dir)
    second = run_demo(data_dir)
    return data_dir, first, second


def stored(data_dir: Path) -> dict[str, Article]:
    with Store(data_dir / "newsmon.db") as store:
        return {a.canonical_url: a for a in store.articles.iter()}


def test_first_run_stores_every_demo_article_right(demo: tuple[Path, DemoRun, DemoRun]) -> None:
    data_dir, first, _ = demo
    assert first.result.returncode == 0, first.result.stderr[-3000:]
    arts = stored(data_dir)
    assert sorted(arts) == sorted(e[0] for e in EXPECTED)
    for url, source, lang, title, published in EXPECTED:
        art = arts[url]
        assert (art.source, art.lang, art.title) == (source, lang, title), url
        assert art.published is not None and art.published.utcoffset() is not None, url
        assert art.published == datetime.fromisoformat(published), url
        assert len(art.text) > (150 if lang == "ja" else 600), url
        assert "\ufffd" not in art.text + art.title, url


def test_shift_jis_page_is_decoded(demo: tuple[Path, DemoRun, DemoRun]) -> None:
    data_dir, first, _ = demo
    raw = (DEMO_SITE / "www.toto-shimpo.example/news/economy/20250312-0002.html").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the page really is Shift_JIS on the wire
    art = stored(data_dir)[SHIFT_JIS_URL]
    assert art.title == "重要鉱物で日英が協力枠組み　電池材料の供給網を強化"
    assert "リチウム、ニッケル、コバルト、黒鉛、レアアース" in art.text
    assert "資金の伴わない意思表明にすぎない" in art.text
    assert (art.charset or "").lower().replace("-", "_") in {"shift_jis", "cp932", "sjis"}


def test_robots_disallowed_page_is_never_requested(demo: tuple[Path, DemoRun, DemoRun]) -> None:
    _, first, second = demo
    for run in (first, second):
        paths = [(h.host, h.path) for h in run.hits]
        assert ("www.harbour-times.example", "/robots.txt") in paths
        assert not [p for p in paths if p[1].startswith("/members/")]
        assert all(h.proxied for h in run.hits)  # reached through the standard proxy variable
    assert DISALLOWED not in {u for u in stored(demo[0])}
    # the crawl saw the link and recorded why it left it alone
    with Store(demo[0] / "newsmon.db") as store:
        skipped = [r for r in store.runs.fetch_log(run_id=1) if r.url.endswith(DISALLOWED)]
    assert skipped and skipped[0].reason == "robots"


def test_second_run_fetches_nothing_new(demo: tuple[Path, DemoRun, DemoRun]) -> None:
    data_dir, first, second = demo
    assert second.result.returncode == 0, second.result.stderr[-3000:]
    first_articles = {h.path for h in first.hits if h.status == 200}
    assert any(p.startswith("/news/") for p in first_articles)
    # second run: robots.txt and listings only, and the listings answer 304
    listing_hits = [h for h in second.hits if h.path != "/robots.txt"]
    assert listing_hits and all(h.status == 304 for h in listing_hits), listing_hits
    assert {h.path for h in listing_hits} >= {"/rss.xml", "/feed/atom.xml", "/sitemap-news.xml",
                                              "/world/", "/policy/"}
    assert len(stored(data_dir)) == len(EXPECTED)
    with Store(data_dir / "newsmon.db") as store:
        [run] = store.runs.recent(1)
    # one run of the demo, crawl, enrich and index as its steps
    assert run.command == "demo" and run.status == "ok"
    crawl, enrich, index = run.steps
    assert index.stage == "index" and index.status == "ok"
    assert crawl.stage == "crawl" and crawl.status == "ok" and crawl.exit_code == 0
    assert crawl.counts["stored"] == 0 and crawl.counts["fetched_articles"] == 0
    assert crawl.counts["not_modified"] == 5
    assert enrich.stage == "enrich" and enrich.counts["pending"] == 0


def test_demo_output_shows_table_status_and_next_steps(
        demo: tuple[Path, DemoRun, DemoRun]) -> None:
    data_dir, first, second = demo
    out = first.result.stdout
    assert out.startswith("crawl run 1: ok in ")
    assert "enrich run 1: ok in " in out
    assert re.search(r"^source +lang +published +topics +story +title$", out, re.M)
    # the Shift_JIS page, decoded, tagged with its topic and given a story id
    assert re.search(r"^demo-toto-shimpo +ja +2025-03-12 23:10\+0900 +minerals +[0-9a-f]{8} +"
                     r"重要鉱物で日英が協力枠組み", out, re.M), out
    assert f"articles: {len(EXPECTED)}" in out
    assert "by language: en 7, ja 4" in out
    assert f"newsmon --config {data_dir / 'newsmon.toml'} status" in out
    # how to search the demo data and open the page
    assert f"newsmon --config {data_dir / 'newsmon.toml'} serve    # then open " \
        "http://127.0.0.1:8750/ in a browser" in out
    assert "index run 1: ok in " in out and "11 documents searchable" in out
    assert "queued: crawl 0, enrich 0, index 0" in out
    assert second.result.stdout.startswith("crawl run 2: ok in ")
    assert "enrich run 2: ok in " in second.result.stdout
    assert re.search(r"^  pending +0$", second.result.stdout, re.M)


def test_demo_settings_file_opens_the_demo_store(demo: tuple[Path, DemoRun, DemoRun]) -> None:
    data_dir, _, _ = demo
    result = subprocess.run(
        [sys.executable, "-m", "newsmon", "--config", str(data_dir / "newsmon.toml"), "status",
         "--json"], capture_output=True, text=True, env=clean_env(), cwd="/", timeout=60)
    assert result.returncode == 0, result.stderr
    st = json.loads(result.stdout)
    assert st["store"] == str(data_dir / "newsmon.db")
    assert st["articles"] == len(EXPECTED)
    assert st["by_source"] == {"demo-harbour-times": 5, "demo-toto-shimpo": 4,
                               "demo-pacific-ledger": 2}
    assert st["by_lang"] == {"en": 7, "ja": 4}


def suggestions(stdout: str) -> list[str]:
    """The commands the demo prints under "Next, try:", comments cut."""
    block = stdout.split("Next, try:\n", 1)[1]
    return [line.split("    #")[0].strip() for line in block.splitlines()
            if line.startswith("  newsmon ")]


def test_every_printed_suggestion_finds_the_demo_articles(
        demo: tuple[Path, DemoRun, DemoRun]) -> None:
    """What the demo suggests works on what it built, with nothing run in between: the
    searches find the articles (the demo indexed them), status and export show them."""
    data_dir, first, _ = demo
    steps = suggestions(first.result.stdout)
    assert any(" search " in s for s in steps) and any(" export " in s for s in steps)
    checked = 0
    for step in steps:
        args = shlex.split(step)[1:]
        if args[-1] in ("serve", "demo") or args[0] == "demo" or "serve" in args:
            continue  # long-running, or the demo itself (run twice by the fixture)
        result = subprocess.run([sys.executable, "-m", "newsmon", *args], capture_output=True,
                                text=True, env=clean_env(), cwd=REPO, timeout=300)
        assert result.returncode == 0, (step, result.stderr[-2000:])
        assert "No results" not in result.stdout, step
        if "search" in args:
            query = args[args.index("search") + 1]
            assert re.search(r"^1\. ", result.stdout, re.M), (step, result.stdout)
            if query == "critical minerals":
                assert "minerals" in result.stdout.split("\n2. ")[0].lower(), result.stdout
            if "--lang" in args:
                heads = re.findall(r"^\d+\. .*  \[(\w+)\] ", result.stdout, re.M)
                assert heads and set(heads) == {"ja"}, result.stdout
        elif "export" in args:
            rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
            assert rows and all(r["published"] >= "2025-03-01" for r in rows), step
        else:
            assert f"articles: {len(EXPECTED)}" in result.stdout, step
        checked += 1
    assert checked == 4, steps


def test_search_links_are_the_canonical_urls(demo: tuple[Path, DemoRun, DemoRun]) -> None:
    """The demo feed links carry ?utm_source=rss; results and their other coverage link to the
    article itself."""
    data_dir, _, _ = demo
    cfg = str(data_dir / "newsmon.toml")
    run = lambda *a: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "newsmon", "--config", cfg, *a], capture_output=True, text=True,
        env=clean_env(), cwd="/", timeout=300)
    assert run("index").returncode == 0
    urls = []
    for query in ("cycle lanes", "rail fares", "UK Japan"):
        result = run("search", query, "--mode", "keyword", "--limit", "20", "--json")
        assert result.returncode == 0, result.stderr
        hits = json.loads(result.stdout)["results"]
        urls += [h["url"] for h in hits] + [a["url"] for h in hits for a in h.get("also", [])]
    assert any("cycle-lanes" in u for u in urls) and any("rail-fares" in u for u in urls)
    assert not [u for u in urls if "utm_" in u]


# -- the demo server -------------------------------------------------------------------------------
def fetch(server: DemoServer, url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": server.url}))
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_server_content_types_charset_and_clean_urls() -> None:
    with DemoServer() as server:
        status, headers, body = fetch(server, SHIFT_JIS_URL)
        assert status == 200 and headers["Content-Type"] == "text/html; charset=Shift_JIS"
        assert "東都新報" in body.decode("shift_jis")
        status, headers, _ = fetch(server, f"{HT}/rss.xml?utm_source=x")
        assert (status, headers["Content-Type"]) == (200, "application/rss+xml; charset=utf-8")
        status, headers, _ = fetch(server, f"{TS}/feed/atom.xml")
        assert headers["Content-Type"] == "application/atom+xml; charset=utf-8"
        status, headers, body = fetch(server, f"{HT}/news/2025/07/rail-fares-freeze-extended")
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert b"<h1>Regional rail fares freeze extended until spring</h1>" in body
        assert fetch(server, f"{HT}/world/")[0] == 200
        assert fetch(server, f"{HT}/no/such/page")[0] == 404
        assert fetch(server, "http://elsewhere.example/")[0] == 404
        assert fetch(server, f"{HT}/../../etc/passwd")[0] == 404
        # without a proxy-style request line the Host header picks the site
        req = urllib.request.Request(server.url + "/policy/",
                                     headers={"Host": "www.pacific-ledger.example"})
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req) as resp:
            assert b"Policy - The Pacific Ledger" in resp.read()
        assert [h.proxied for h in server.requests][-1] is False


def test_server_answers_conditional_requests_with_304() -> None:
    with DemoServer() as server:
        status, headers, _ = fetch(server, f"{TS}/sitemap-news.xml")
        etag, modified = headers["ETag"], headers["Last-Modified"]
        assert fetch(server, f"{TS}/sitemap-news.xml", **{"If-None-Match": etag})[0] == 304
        assert fetch(server, f"{TS}/sitemap-news.xml", **{"If-None-Match": '"other"'})[0] == 200
        assert fetch(server, f"{TS}/sitemap-news.xml", **{"If-Modified-Since": modified})[0] \
            == 304
        assert fetch(server, f"{TS}/sitemap-news.xml",
                     **{"If-Modified-Since": formatdate(0, usegmt=True)})[0] == 200


def test_server_forced_status_and_access_log(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "www.a.example").mkdir(parents=True)
    (site / "www.a.example" / "ok.html").write_text("<p>fine</p>")
    (site / "headers.json").write_text(json.dumps({"www.a.example/down": {"Status": 503}}))
    log = tmp_path / "access.log"
    with DemoServer(site, access_log=log) as server:
        assert fetch(server, "http://www.a.example/ok")[0] == 200
        assert fetch(server, "http://www.a.example/down", **{"User-Agent": "probe/1"})[0] == 503
    hits = read_access_log(log)
    assert [(h.host, h.path, h.status) for h in hits] == [
        ("www.a.example", "/ok", 200), ("www.a.example", "/down", 503)]
    assert hits[1].user_agent == "probe/1"
