"""The `newsmon` command line against real SQLite stores and a real local HTTP server.

Exit codes, output shapes and the lock are checked through the real entry point
(`python -m newsmon` in a subprocess); output formatting through click's runner in-process.
"""
from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from newsmon.app.lock import LockHeld, RunLock, read_holder, running_holder
from newsmon.cli.main import cli, main
from newsmon.demo.server import DemoServer
from newsmon.index.core import reasons
from newsmon.index.core.article import Article, Stage, Status
from newsmon.index.core.times import parse_since
from newsmon.index.store import FAILED, REJECTED, STORED, Store
from tests.helpers.served import clean_env

REPO = Path(__file__).resolve().parents[1]
JST = timezone(timedelta(hours=9))


def newsmon(*args: str, env: dict[str, str] | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsmon", *args], capture_output=True,
                          text=True, env=env or clean_env(), cwd=REPO, timeout=timeout)


def invoke(*args: str) -> Result:
    """In-process run of the command group (no Scrapy here); stdout kept apart from stderr."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def make_articles() -> list[Article]:
    return [
        Article(
            url="https://news.example/uk/cyber?utm_source=rss",
            canonical_url="https://news.example/uk/cyber",
            source="uk-paper", lang="en",
            title="UK and Japan deepen cyber ties",
            text="Britain and Japan agreed to share threat intelligence.",
            published=datetime(2025, 1, 23, 9, 30, tzinfo=UTC),
            authors=["A. Writer"], section="World", status=Status.OK,
            fetched_at=datetime(2025, 1, 23, 10, 0, tzinfo=UTC),
            topics={"cyber": {"score": 0.91, "evidence": ["threat intelligence"]}},
            entities=[{"text": "Japan", "type": "GPE"}], story="story-1",
            stage=Stage.ENRICHED, lang_confidence=0.99,
        ),
        Article(
            url="https://shinbun.example/economy/minerals.html",
            canonical_url="https://shinbun.example/economy/minerals.html",
            source="jp-paper", lang="ja",
            title="重要鉱物で日英が協力枠組み",
            text="日英両政府は重要鉱物の供給網強化に向けた協力枠組みに署名した。",
            # 14:10 UTC: before 20:00 UTC although its ISO text sorts after "…T20:00…Z"
            published=datetime(2025, 3, 12, 23, 10, tzinfo=JST),
            fetched_at=datetime(2025, 3, 12, 15, 0, tzinfo=UTC),
            charset="shift_jis",
        ),
        Article(
            url="https://news.example/uk/gcap",
            canonical_url="https://news.example/uk/gcap",
            source="uk-paper", lang="en", title="GCAP venture opens headquarters",
            text="The joint venture behind the fighter opened its headquarters.",
            published=datetime(2025, 3, 12, 21, 0, tzinfo=UTC),
            status=Status.PAYWALLED, flags=["paywall"],
        ),
        Article(
            url="https://wire.example/2025/03/12/pact",
            canonical_url="https://wire.example/2025/03/12/pact",
            source="us-wire", lang="en", title="Wire story", text="Filed from Washington.",
            # 23:00 UTC: after 20:00 UTC although its ISO text sorts before "…T20:00…+00:00"
            published=datetime(2025, 3, 12, 18, 0, tzinfo=timezone(timedelta(hours=-5))),
        ),
        Article(
            url="https://news.example/uk/undated", canonical_url="https://news.example/uk/undated",
            source="uk-paper", lang="en", title="An undated page", text="No date here.",
        ),
    ]


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    """A real store with articles, a finished run and recorded failures."""
    data = tmp_path / "data"
    with Store(data / "newsmon.db") as store:
        store.articles.upsert(make_articles())
        run = store.runs.start("crawl")
        store.runs.log_fetch("https://news.example/uk/cyber", STORED, run_id=run, source="uk-paper")
        store.runs.log_fetch("https://news.example/gone", REJECTED, run_id=run, source="uk-paper",
                        http_status=404, reason="http_404")
        store.runs.log_fetch("https://news.example/slow", FAILED, run_id=run, source="uk-paper",
                        reason="timeout")
        store.runs.log_fetch("https://news.example/slow2", FAILED, run_id=run, source="uk-paper",
                        reason="timeout")
        store.runs.finish(run, "partial", {"stored": 3, "failed": 2, "rejected": 1})
    return data


# -- help ------------------------------------------------------------------------------------------
def test_every_command_has_help_with_an_example() -> None:
    assert {"crawl", "status", "export", "demo"} <= set(cli.commands)
    for name in sorted(cli.commands):
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Example" in result.output, f"`newsmon {name} --help` shows no example"
        assert f"newsmon {name}" in result.output.split("Example", 1)[1], name
    top = newsmon("--help")
    assert top.returncode == 0
    for name in cli.commands:
        assert name in top.stdout


# -- status ----------------------------------------------------------------------------------------
def test_status_of_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "nothing-here"
    st = json.loads(invoke("--data-dir", str(data), "status", "--json").stdout)
    assert st["articles"] == 0 and st["exists"] is False and st["last_run"] is None
    assert not data.exists()


def test_status_counts_by_source_lang_stage_status_and_failures(data_dir: Path) -> None:
    st = json.loads(invoke("--data-dir", str(data_dir), "status", "--json").stdout)
    assert st["exists"] is True and st["running"] is None
    assert st["articles"] == 5
    assert st["by_source"] == {"uk-paper": 3, "jp-paper": 1, "us-wire": 1}
    assert st["by_lang"] == {"en": 4, "ja": 1}
    assert st["by_stage"] == {"enriched": 1, "extracted": 4}
    assert st["by_status"] == {"ok": 4, "paywalled": 1}
    assert st["failures_by_reason"] == {"failed:timeout": 2, "rejected:http_404": 1}
    assert st["last_run"]["command"] == "crawl" and st["last_run"]["status"] == "partial"
    assert st["last_run"]["stats"]["failed"] == 2

    text = invoke("--data-dir", str(data_dir), "status").stdout
    assert "articles: 5" in text
    assert "by source:   uk-paper 3, jp-paper 1, us-wire 1" in text
    assert "by language: en 4, ja 1" in text
    assert "last run: #1 crawl partial" in text
    assert "failures by reason: failed:timeout 2, rejected:http_404 1" in text
    assert f"  timeout: {reasons.describe(reasons.TIMEOUT)}" in text
    # one text true for article pages (given up) and listings (read again every run)
    assert ("  http_404: HTTP 404: not found (an article page is never fetched again; a feed, "
            "sitemap or section page is read again every run)") in text
    # articles of sources sources.yaml does not name are flagged, with how to purge them
    assert ("source us-wire is not in" in text
            and "`newsmon sources remove us-wire --purge`" in text)


# -- export ----------------------------------------------------------------------------------------
def test_export_writes_every_stored_field(data_dir: Path) -> None:
    result = newsmon("--data-dir", str(data_dir), "export")
    assert result.returncode == 0, result.stderr
    assert "exported 5 article(s)" in result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 5
    exported = {obj["id"]: obj for obj in map(json.loads, lines)}
    names = {f.name for f in fields(Article)}
    for original in make_articles():
        obj = exported[original.id]
        assert set(obj) == names
        assert obj == original.to_dict()
        assert Article.from_dict(obj) == original
    cyber = exported[make_articles()[0].id]
    assert cyber["topics"] == {"cyber": {"score": 0.91, "evidence": ["threat intelligence"]}}
    assert cyber["entities"] == [{"text": "Japan", "type": "GPE"}]
    assert cyber["stage"] == "enriched" and cyber["story"] == "story-1"


def test_export_since_compares_instants_across_time_zones(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "recent.jsonl"
    result = newsmon("--data-dir", str(data_dir), "export", "--since", "2025-03-12T20:00:00Z",
                     "--output", str(out))
    assert result.returncode == 0, result.stderr
    titles = sorted(json.loads(line)["title"] for line in out.read_text("utf-8").splitlines())
    # the Japanese article (23:10 JST = 14:10 UTC) is earlier, the wire story (18:00 -05:00 =
    # 23:00 UTC) later; the undated one is left out
    assert titles == ["GCAP venture opens headquarters", "Wire story"]
    assert f"to {out}" in result.stderr
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp file left

    result = invoke("--data-dir", str(data_dir), "export", "--since", "2025-03-12")
    got = sorted(json.loads(line)["title"] for line in result.stdout.splitlines())
    assert got == ["GCAP venture opens headquarters", "Wire story", "重要鉱物で日英が協力枠組み"]


def test_export_csv_parses_with_the_csv_module_and_filters(tmp_path: Path) -> None:
    data = tmp_path / "data"
    arts = make_articles()
    arts[0].topics = {"cyber": {"score": 0.91, "label": True, "evidence": ["x"]},
                      "defence": {"score": 0.2, "label": False}}
    arts[0].entities = [{"id": "country/gb", "count": 3}, {"id": "country/jp", "count": 2}]
    arts[0].authors = ["A. Writer", "B. Other, Jr."]
    arts[0].title = 'UK and Japan deepen "cyber" ties, again\nsecond line'
    arts[1].topics = {"minerals": {"score": 0.8, "label": True}}
    with Store(data / "newsmon.db") as store:
        store.articles.upsert(arts)
    out = tmp_path / "all.csv"
    result = newsmon("--data-dir", str(data), "export", "--format", "csv", "-o", str(out))
    assert result.returncode == 0, result.stderr
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 5
    by_id = {r["id"]: r for r in rows}
    cyber = by_id[arts[0].id]
    assert cyber["title"] == arts[0].title  # quotes, commas and a newline survive
    assert cyber["authors"] == "A. Writer; B. Other, Jr."
    assert cyber["topics"] == "cyber"   # labelled topics only
    assert cyber["entities"] == "country/gb; country/jp"
    assert cyber["published"] == "2025-01-23T09:30:00+00:00"
    # ISO with the offset the article was published with
    assert by_id[arts[1].id]["published"] == "2025-03-12T23:10:00+09:00"
    assert by_id[arts[4].id]["published"] == ""
    assert list(rows[0]) == ["id", "published", "source", "lang", "title", "url", "authors",
                             "topics", "entities", "story", "section", "description", "text",
                             "fetched_at", "status", "stage"]

    def ids(*args: str) -> set[str]:
        res = invoke("--data-dir", str(data), "export", "--format", "csv", *args)
        return {r["id"] for r in csv.DictReader(io.StringIO(res.stdout))}

    assert ids("--lang", "ja") == {arts[1].id}
    assert ids("--source", "uk-paper") == {arts[0].id, arts[2].id, arts[4].id}
    assert ids("--source", "uk-paper", "--source", "us-wire") == \
        {arts[0].id, arts[2].id, arts[3].id, arts[4].id}
    assert ids("--topic", "cyber") == {arts[0].id}
    assert ids("--topic", "cyber", "--topic", "minerals") == {arts[0].id, arts[1].id}
    # --until: a date includes its whole day (23:00 UTC on 03-12 too), the undated is left out
    assert ids("--until", "2025-03-12") == {arts[0].id, arts[1].id, arts[2].id, arts[3].id}
    assert ids("--until", "2025-03-11") == {arts[0].id}
    # a date-time is exclusive; 23:10 JST is 14:10 UTC
    assert ids("--since", "2025-03-01", "--until", "2025-03-12T14:10:00Z") == set()
    assert ids("--since", "2025-03-01", "--until", "2025-03-12T14:11:00Z", "--lang", "ja") == \
        {arts[1].id}
    # the same filters on jsonl
    res = invoke("--data-dir", str(data), "export", "--lang", "ja", "--topic", "minerals")
    assert [json.loads(line)["id"] for line in res.stdout.splitlines()] == [arts[1].id]
    bad = newsmon("--data-dir", str(data), "export", "--until", "soon")
    assert bad.returncode == 2 and "--until 'soon'" in bad.stderr
    bad = newsmon("--data-dir", str(data), "export", "--topic", "mineral")
    assert bad.returncode == 2 and "--topic 'mineral': no such topic" in bad.stderr
    assert "known topics: cyber, defence, minerals" in bad.stderr


def test_parse_since_forms() -> None:
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    assert parse_since("2025-03-01") == datetime(2025, 3, 1, tzinfo=UTC)
    assert parse_since("2025-03-01T09:00+09:00") == datetime(2025, 3, 1, 0, 0,
                                                             tzinfo=UTC)
    assert parse_since("2025-03-01T09:00") == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    assert parse_since("36h", now=now) == now - timedelta(hours=36)
    assert parse_since("7d", now=now) == now - timedelta(days=7)
    assert parse_since("2w", now=now) == now - timedelta(weeks=2)
    assert parse_since("2025-03-01T09:00+09:00").tzinfo == UTC


def test_export_bad_since_or_missing_store_exit_2(data_dir: Path, tmp_path: Path) -> None:
    result = newsmon("--data-dir", str(data_dir), "export", "--since", "last tuesday")
    assert result.returncode == 2
    assert "--since 'last tuesday'" in result.stderr
    result = newsmon("--data-dir", str(tmp_path / "empty"), "export")
    assert result.returncode == 2
    assert "no store at" in result.stderr


def test_export_since_out_of_range_is_a_usage_error(data_dir: Path) -> None:
    result = newsmon("--data-dir", str(data_dir), "export", "--since", "999999w")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert "--since '999999w': out of range" in result.stderr


@pytest.mark.parametrize("value", [
    "99999999999h",              # more days than a timedelta holds
    "9" * 5000 + "d",            # more digits than int() reads
    "0001-01-01T00:00+09:00",    # before year 1 once in UTC
    "9999-12-31T23:00-05:00",    # after year 9999 once in UTC
])
def test_export_since_out_of_range_forms(data_dir: Path, capsys, value: str) -> None:
    assert main(["--data-dir", str(data_dir), "export", "--since", value]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"--since {value!r}: out of range" in err
    with pytest.raises(Exception, match="--until .*out of range"):
        parse_since(value, option="--until")


# -- configuration errors --------------------------------------------------------------------------
def test_bad_config_file_exits_2_naming_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "local.toml"
    bad.write_text("[crawl]\ntimeuot = 3\n")
    result = newsmon("--config", str(bad), "status")
    assert result.returncode == 2
    assert "[crawl].timeuot" in result.stderr and str(bad) in result.stderr
    # the same through NEWSMON_CONFIG
    result = newsmon("status", env=clean_env(NEWSMON_CONFIG=str(bad)))
    assert result.returncode == 2 and "[crawl].timeuot" in result.stderr


def test_bad_environment_value_exits_2_naming_the_variable(tmp_path: Path) -> None:
    result = newsmon("--data-dir", str(tmp_path), "status",
                     env=clean_env(NEWSMON_CRAWL__TIMEOUT="soon"))
    assert result.returncode == 2
    assert "NEWSMON_CRAWL__TIMEOUT" in result.stderr and "[crawl].timeout" in result.stderr


def test_unknown_source_and_bad_usage_exit_2(tmp_path: Path) -> None:
    sources = write_sources(tmp_path, "http://www.flaky.example/feed.xml")
    env = clean_env(NEWSMON_CRAWL__SOURCES=str(sources), NEWSMON_DATA__DIR=str(tmp_path / "d"))
    result = newsmon("crawl", "--source", "no-such-source", env=env)
    assert result.returncode == 2
    assert "unknown source id(s): no-such-source; known: flaky" in result.stderr
    result = newsmon("status", "--no-such-flag", env=env)
    assert result.returncode == 2
    assert not (tmp_path / "d" / "newsmon.db").exists()


# -- the lock --------------------------------------------------------------------------------------
def test_lock_is_exclusive_records_its_holder_and_is_released(tmp_path: Path) -> None:
    path = tmp_path / "newsmon.lock"
    with RunLock(path, "crawl") as lock:
        assert lock.held
        holder = read_holder(path)
        assert holder["pid"] == os.getpid() and holder["command"] == "crawl"
        assert running_holder(path)["pid"] == os.getpid()
        with pytest.raises(LockHeld) as err:
            RunLock(path, "run").acquire()
        assert err.value.holder["pid"] == os.getpid()
        assert f"pid {os.getpid()}" in str(err.value) and "command crawl" in str(err.value)
    assert read_holder(path) == {} and running_holder(path) is None
    RunLock(path, "run").acquire().release()


def test_second_run_exits_3_while_the_lock_is_held(tmp_path: Path) -> None:
    data = tmp_path / "data"
    sources = write_sources(tmp_path, "http://www.flaky.example/feed.xml")
    env = clean_env(NEWSMON_CRAWL__SOURCES=str(sources))
    with RunLock(data / "newsmon.lock", "crawl"):
        result = newsmon("--data-dir", str(data), "crawl", env=env)
        assert result.returncode == 3, result.stderr
        assert "another newsmon run holds the lock" in result.stderr
        assert f"pid {os.getpid()}" in result.stderr
        st = json.loads(newsmon("--data-dir", str(data), "status", "--json", env=env).stdout)
        assert st["running"]["pid"] == os.getpid() and st["running"]["command"] == "crawl"
    # nothing was started: no store, no run recorded
    assert not (data / "newsmon.db").exists()


def test_lock_of_a_killed_process_is_free(tmp_path: Path) -> None:
    path = tmp_path / "newsmon.lock"
    code = textwrap.dedent(f"""
        import sys, time
        from newsmon.app.lock import RunLock
        RunLock({str(path)!r}, "run").acquire()
        print("locked", flush=True)
        time.sleep(120)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             cwd=REPO)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeld):
            RunLock(path, "crawl").acquire()
        assert running_holder(path)["pid"] == child.pid
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    # the file still names the dead holder, but neither the lock nor `status` believe it
    assert read_holder(path)["pid"] == child.pid
    assert running_holder(path) is None
    with RunLock(path, "crawl") as lock:
        assert lock.held


# -- crawl exit codes (real Scrapy, real local server) ---------------------------------------------
FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Flaky News</title><link>http://www.flaky.example/</link>
<description>test feed</description>
<item><title>Working story</title><link>http://www.flaky.example/news/working-story</link>
<pubDate>Tue, 04 Mar 2025 10:00:00 +0000</pubDate></item>
<item><title>Broken story</title><link>http://www.flaky.example/news/broken-story</link>
<pubDate>Tue, 04 Mar 2025 11:00:00 +0000</pubDate></item>
</channel></rss>
"""
ARTICLE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Working story | Flaky News</title>
<meta property="og:title" content="Working story">
<meta property="article:published_time" content="2025-03-04T10:00:00+00:00">
</head><body><nav><a href="/">Home</a></nav><article><h1>Working story</h1>
{paras}
</article><footer>Flaky News</footer></body></html>
"""


def write_sources(tmp_path: Path, feed: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(f"sources:\n  - id: flaky\n    name: Flaky News\n    lang: en\n"
                    f"    feeds: [{feed}]\n", encoding="utf-8")
    return path


@pytest.fixture()
def flaky_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    host = site / "www.flaky.example"
    (host / "news").mkdir(parents=True)
    (host / "robots.txt").write_text("User-agent: *\nDisallow:\n")
    (host / "feed.xml").write_text(FEED)
    paras = "\n".join(f"<p>{s}</p>" for s in (
        "The harbour authority said the new ferry timetable would start in the spring.",
        "There will be more crossings at weekends and fewer late-night sailings in winter.",
        "Operators said the change followed a survey of more than two thousand passengers.",
        "Season tickets bought before March will be honoured on every crossing until June.",
        "Campaigners welcomed the weekend services but asked for an earlier first sailing.",
        "The authority will publish the full timetable on its website next month.",
    ))
    (host / "news" / "working-story.html").write_text(ARTICLE.format(paras=paras))
    # the other story exists in the feed but the server fails on it
    (site / "headers.json").write_text(json.dumps(
        {"www.flaky.example/news/broken-story": {"Status": 503}}))
    return site


def test_crawl_exits_0_when_only_remote_pages_failed(tmp_path: Path, flaky_site: Path) -> None:
    """A 503 on one article page is the site's failure, not the run's: exit 0 for cron, the
    failure counted, kept in the source's health and shown by `status` (issue 18)."""
    data = tmp_path / "data"
    sources = write_sources(tmp_path, "http://www.flaky.example/feed.xml")
    with DemoServer(flaky_site) as server:
        env = clean_env(http_proxy=server.url, NEWSMON_CRAWL__SOURCES=str(sources),
                        NEWSMON_CRAWL__RETRIES="0", NEWSMON_CRAWL__DOWNLOAD_DELAY="0",
                        NEWSMON_CRAWL__AUTOTHROTTLE="false")
        result = newsmon("--data-dir", str(data), "crawl", "--json", env=env)
        paths = [h.path for h in server.requests]
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["status"] == "ok" and out["sources"] == ["flaky"]
    assert out["stats"]["stored"] == 1 and out["stats"]["failed"] == 1
    assert out["stats"]["ok"] is False  # something failed, and the stats say so
    assert "/news/broken-story" in paths and "/news/working-story" in paths

    st = json.loads(newsmon("--data-dir", str(data), "status", "--json", env=env).stdout)
    assert st["articles"] == 1
    assert st["last_run"]["id"] == out["run_id"] and st["last_run"]["status"] == "ok"
    assert st["last_run"]["stats"]["failed"] == 1
    [flaky] = st["source_health"]["sources"]
    assert flaky["state"] == "degraded" and flaky["pages_failed"] == 1
    assert flaky["last_error"]["url"] == "http://www.flaky.example/news/broken-story"
    assert any(k.startswith("failed:") and "503" in k for k in st["failures_by_reason"])
    with Store(data / "newsmon.db") as store:
        [art] = list(store.articles.iter())
    assert art.title == "Working story"
    assert art.published == datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def test_crawl_exits_0_with_a_human_summary_when_all_is_well(tmp_path: Path,
                                                             flaky_site: Path) -> None:
    (flaky_site / "headers.json").unlink()
    (flaky_site / "www.flaky.example" / "news" / "broken-story.html").write_text(
        (flaky_site / "www.flaky.example" / "news" / "working-story.html").read_text()
        .replace("Working story", "Mended story"))
    sources = write_sources(tmp_path, "http://www.flaky.example/feed.xml")
    with DemoServer(flaky_site) as server:
        env = clean_env(http_proxy=server.url, NEWSMON_CRAWL__SOURCES=str(sources),
                        NEWSMON_CRAWL__DOWNLOAD_DELAY="0", NEWSMON_CRAWL__AUTOTHROTTLE="false")
        result = newsmon("--data-dir", str(tmp_path / "data"), "crawl", "--source", "flaky",
                         env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("crawl run 1: ok in ")
    assert "stored                 2" in result.stdout
    # not a terminal: progress goes to the log, never as carriage-return redraws
    assert "\r" not in result.stderr
