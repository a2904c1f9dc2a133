"""`newsmon worker` on procrastinate: jobs committed with their data, crawl shards locked across
workers, a killed worker's job retried, periodic crawls deferred once per period.

Real PostgreSQL (a database of each test's own), real `newsmon worker` subprocesses, real Scrapy
against a loopback web of several hosts (tests/helpers/workers.py)."""
from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import time
from pathlib import Path

import pytest

from newsmon.index.core.article import Article
from newsmon.index.core.errors import ConfigError
from newsmon.worker.jobs import CRAWL_DUE_TASK, CRAWL_TASK, crawl_job, defer_enrich, enrich_job
from newsmon.worker.shards import registrable_domain, shard_of
from tests.helpers.workers import (
    LoopbackWeb,
    Workers,
    defer_crawls,
    job_rows,
    wait_for,
    wait_queue_schema,
    worker_env,
)


def test_registrable_domain_knows_the_suffixes_of_english_and_japanese_news() -> None:
    assert registrable_domain("www.bbc.co.uk") == "bbc.co.uk"
    assert registrable_domain("feeds.bbci.co.uk") == "bbci.co.uk"
    assert registrable_domain("www3.nhk.or.jp") == "nhk.or.jp"
    assert registrable_domain("news.yahoo.co.jp") == "yahoo.co.jp"
    assert registrable_domain("www.mofa.go.jp") == "mofa.go.jp"
    assert registrable_domain("www.city.shibuya.tokyo.jp") == "city.shibuya.tokyo.jp"
    assert registrable_domain("WWW.Reuters.com.") == "reuters.com"
    assert registrable_domain("apnews.com") == "apnews.com"
    assert registrable_domain("www.abc.net.au") == "abc.net.au"
    assert registrable_domain("127.0.0.2") == "127.0.0.2"
    assert registrable_domain("[::1]") == "::1"
    # hosts of one site share a shard; the shard is the same in every process
    assert shard_of(registrable_domain("www.bbc.co.uk"), 16) == shard_of("bbc.co.uk", 16)
    assert {shard_of(f"site{i}.example", 4) for i in range(40)} == {0, 1, 2, 3}


def test_worker_settings_are_checked_naming_the_key(tmp_path: Path) -> None:
    from newsmon.app.settings import load_settings

    bad = tmp_path / "bad.toml"
    for text, key in (('[worker]\ncrawl_every = "every half hour"\n', "[worker].crawl_every"),
                      ("[worker]\ncrawl_shards = 0\n", "[worker].crawl_shards"),
                      ("[worker]\nheartbeat = 40\n", "[worker].stalled_after")):
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
            load_settings(bad)


def test_worker_refuses_the_sqlite_store_naming_the_setting(tmp_path: Path) -> None:
    import subprocess
    import sys

    config = tmp_path / "newsmon.toml"
    config.write_text(f'[data]\ndir = "{tmp_path}"\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "newsmon", "--config", str(config), "worker"],
                          capture_output=True, text=True, timeout=60, env=worker_env(""))
    assert proc.returncode == 2
    assert "[data].store" in proc.stderr and "postgresql" in proc.stderr


# -- PostgreSQL ------------------------------------------------------------------------------

def _article(i: int) -> Article:
    return Article(id=f"id{i:04d}", url=f"http://127.0.0.2/news/{i}.html",
                   canonical_url=f"http://127.0.0.2/news/{i}.html", source="site-2", lang="en",
                   title=f"Title {i}", text="Some text " * 20)


def _store_batch_then_hang(dsn: str, ready: multiprocessing.synchronize.Event) -> None:
    from newsmon.index.store.postgres import PgStore

    with PgStore(dsn) as store, store.transaction():
        store.articles.upsert([_article(1), _article(2)])
        defer_enrich(store, [_article(1), _article(2)])
        ready.set()
        time.sleep(60)  # killed here, before COMMIT


def _queue(dsn: str) -> list[tuple[str, str, str]]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return [tuple(r) for r in conn.execute(
            "SELECT task_name, queue_name, status::text FROM procrastinate_jobs ORDER BY id")]


@pytest.mark.pg
def test_a_crawl_batch_and_its_enrich_job_commit_together(pg_dsn: str) -> None:
    from procrastinate.schema import SchemaManager

    from newsmon.index.store.postgres import PgStore

    with PgStore(pg_dsn) as store:
        assert store.jobs.ensure_schema(SchemaManager.get_schema())
        assert not store.jobs.ensure_schema(SchemaManager.get_schema())  # idempotent

    # killed inside the transaction: neither the batch nor its job
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    child = ctx.Process(target=_store_batch_then_hang, args=(pg_dsn, ready))
    child.start()
    assert ready.wait(60)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    with PgStore(pg_dsn) as store:
        assert store.articles.count() == 0
        assert _queue(pg_dsn) == []

        # rolled back by an error: neither
        with pytest.raises(RuntimeError), store.transaction():
            store.articles.upsert([_article(3)])
            defer_enrich(store, [_article(3)])
            raise RuntimeError("the batch failed")
        assert store.articles.count() == 0 and _queue(pg_dsn) == []

        # committed: both; a second batch while the job waits queues no second job
        with store.transaction():
            store.articles.upsert([_article(4)])
            defer_enrich(store, [_article(4)])
        with store.transaction():
            store.articles.upsert([_article(5)])
            defer_enrich(store, [_article(5)])
        assert store.articles.count() == 2
        assert _queue(pg_dsn) == [("newsmon.enrich", "enrich", "todo")]
        assert store.jobs.defer(enrich_job()) is None
        assert store.jobs.depth() == {"enrich": {"todo": 1, "doing": 0}}


def _config(tmp_path: Path, web: LoopbackWeb, **worker: str) -> Path:
    sources = web.sources_yaml(tmp_path / "sources.yaml")
    settings = {"crawl_shards": "2", "crawl_every": '"0 0 1 1 *"', "heartbeat": "1",
                "stalled_after": "3", "stalled_every": '"* * * * * */1"', **worker}
    config = tmp_path / "newsmon.toml"
    config.write_text(
        f'[data]\ndir = "{tmp_path / "data"}"\nstore = "postgresql"\ndsn_env = "TEST_PG_DSN"\n'
        f'busy_timeout = 10\n\n'
        f'[crawl]\nsources = "{sources}"\ndownload_delay = 0.3\nautothrottle = false\n'
        f'retries = 0\ntimeout = 10\nbatch_size = 2\nconcurrency = 4\nper_host_concurrency = 1\n'
        f'extract_workers = 1\nuser_agent = "newsmon-test/0.1 (+https://example.invalid/t)"\n\n'
        f'[index]\nbackend = "elasticsearch"\nes_url = "http://127.0.0.1:9"\n\n'
        f'[log]\nlevel = "INFO"\n\n'
        "[worker]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()),
        encoding="utf-8")
    return config


@pytest.mark.pg
@pytest.mark.slow
def test_two_workers_never_crawl_one_shard_at_once(tmp_path: Path, pg_dsn: str) -> None:
    from newsmon.app.settings import load_settings
    from newsmon.crawler.sources import load_sources
    from newsmon.worker.shards import shard_sources

    with LoopbackWeb(4, articles=3, delay=0.2) as web:
        config = _config(tmp_path, web)
        settings = load_settings(config)
        by_shard = shard_sources(load_sources(settings.crawl.sources), 2)
        with Workers(config, worker_env(pg_dsn), tmp_path / "logs") as workers:
            workers.start("crawl-1", "crawl", concurrency=2)
            workers.start("crawl-2", "crawl", concurrency=2)
            wait_queue_schema(pg_dsn)
            shards = list(by_shard)
            assert all(defer_crawls(pg_dsn, *shards))
            # while each shard's first job runs, a second one for it waits for its lock
            wait_for(lambda: all(j["status"] != "todo" for j in job_rows(pg_dsn, CRAWL_TASK)), 30,
                     "the first crawl jobs to start")
            assert all(defer_crawls(pg_dsn, *shards))
            wait_for(lambda: all(j["status"] == "succeeded" for j in job_rows(pg_dsn, CRAWL_TASK)),
                     90, "every crawl job to finish")
        jobs = job_rows(pg_dsn, CRAWL_TASK)
        assert len(jobs) == 2 * len(shards)
        for shard in shards:
            runs = sorted((j["started"], j["ended"]) for j in jobs if j["args"]["shard"] == shard)
            assert runs[0][1] <= runs[1][0], f"shard {shard}: two crawls overlapped: {runs}"
        # at every host, the second crawl's requests came after the first's were answered:
        # no two requests in flight, gaps no shorter than the delay
        for host, reqs in web.by_host().items():
            assert reqs, f"{host} was never crawled"
            for before, after in zip(reqs, reqs[1:]):
                assert after.started >= before.answered - 0.05, (host, before, after)
                # the delay (0.3 s) spaces the sends; a loaded server stamps arrivals up to
                # ~0.1 s late, two processes on one host would show gaps near 0
                assert after.started - before.started >= 0.3 - 0.15, (host, before, after)
        from newsmon.index.store.postgres import PgStore

        with PgStore(pg_dsn) as store:
            assert store.articles.count() == 4 * 3
            # each batch deferred enrich in its transaction; one job waits (no enrich worker)
            assert store.jobs.depth()["enrich"] == {"todo": 1, "doing": 0}


@pytest.mark.pg
@pytest.mark.slow
def test_a_killed_workers_crawl_is_retried_and_stores_nothing_twice(tmp_path: Path,
                                                                    pg_dsn: str) -> None:
    with LoopbackWeb(1, articles=8, delay=0.5) as web:
        config = _config(tmp_path, web, crawl_shards="1")
        with Workers(config, worker_env(pg_dsn), tmp_path / "logs") as workers:
            workers.start("crawl-1", "crawl")
            wait_queue_schema(pg_dsn)
            assert defer_crawls(pg_dsn, 0) != [None]
            wait_for(lambda: len([r for r in web.requests if r.path.startswith("/news/")]) >= 3,
                     60, "the crawl to fetch articles")
            group = int(re.search(r"process group (\d+)", workers.log("crawl-1")).group(1))
            os.killpg(group, 0)  # the crawl's processes are there
            workers.kill("crawl-1")

            def group_gone() -> bool:
                try:
                    os.killpg(group, 0)
                except ProcessLookupError:
                    return True
                return False
            # all of them die with the worker: Scrapy's process and its extraction pool (within
            # seconds on a loaded machine: well before the job counts as stalled)
            wait_for(group_gone, 10, "the crawl's process group to die with its worker")
            gone_at = time.time()
            time.sleep(1.0)
            assert [r for r in web.requests if r.started > gone_at] == []
            assert job_rows(pg_dsn, CRAWL_TASK)[0]["status"] == "doing"
            workers.start("crawl-2", "crawl")
            wait_for(lambda: job_rows(pg_dsn, CRAWL_TASK)[0]["status"] == "succeeded", 90,
                     "the stalled crawl job to be retried and finish")
        job = job_rows(pg_dsn, CRAWL_TASK)[0]
        assert job["attempts"] >= 1
        assert "stalled" in workers.log("crawl-2")
        from newsmon.index.store.postgres import PgStore

        with PgStore(pg_dsn) as store:
            urls = [a.canonical_url for a in store.articles.iter()]
            assert len(urls) == 8 and len(set(urls)) == 8
            # each article written once: one change-feed entry per article (not the head: a
            # batch the kill cut short used up sequence numbers PostgreSQL never hands back)
            changes = store.changes.since(0)
            assert sorted(c.article_id for c in changes) == sorted(
                a.id for a in store.articles.iter()), changes
        fetched = [r.path for r in web.requests if r.path.startswith("/news/")]
        # the retry fetched only what the killed crawl had not stored
        assert len(fetched) < 2 * 8


@pytest.mark.pg
@pytest.mark.slow
def test_the_periodic_crawl_is_deferred_once_per_period_by_two_workers(tmp_path: Path,
                                                                       pg_dsn: str) -> None:
    with LoopbackWeb(1, articles=1) as web:
        config = _config(tmp_path, web, crawl_every='"* * * * * */2"', crawl_shards="1")
        with Workers(config, worker_env(pg_dsn), tmp_path / "logs") as workers:
            workers.start("w-1", "crawl")
            workers.start("w-2", "crawl")
            wait_queue_schema(pg_dsn)
            wait_for(lambda: len(job_rows(pg_dsn, CRAWL_DUE_TASK)) >= 3, 60,
                     "three periods of crawl_due")
        due = job_rows(pg_dsn, CRAWL_DUE_TASK)
        stamps = [j["args"]["timestamp"] for j in due]
        assert len(stamps) == len(set(stamps)), stamps
        assert all(s % 2 == 0 for s in stamps)
        crawls = job_rows(pg_dsn, CRAWL_TASK)
        assert crawls and {c["args"]["shard"] for c in crawls} == {0}
        status = json.loads(_newsmon(config, pg_dsn, "status", "--json"))
        assert set(status["jobs"]["queues"]) >= {"crawl", "enrich", "index", "alert"}
        assert status["jobs"]["stalled"] == 0 and "0" in status["jobs"]["shards"]
        text = _newsmon(config, pg_dsn, "status")
        assert "job queue:" in text and "crawl shards" in text, text


def _live_workers(dsn: str) -> int:
    from newsmon.index.store.postgres import PgStore

    with PgStore(dsn) as store:
        return store.jobs.workers(3)


@pytest.mark.pg
@pytest.mark.slow
def test_newsmon_run_refuses_to_crawl_beside_live_workers(tmp_path: Path, pg_dsn: str) -> None:
    """`newsmon run` and `newsmon crawl` take none of the workers' shard locks, so beside live
    workers they exit 3 having changed nothing; the stages that do not crawl still run, and once
    the workers stop the crawl does too."""
    import subprocess
    import sys

    from newsmon.index.store.postgres import PgStore

    def newsmon(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "newsmon", "--config", str(config), *args],
                              capture_output=True, text=True, timeout=120,
                              env=worker_env(pg_dsn))

    with LoopbackWeb(1, articles=2) as web:
        config = _config(tmp_path, web)
        with Workers(config, worker_env(pg_dsn), tmp_path / "logs") as workers:
            workers.start("alerts", "alert")
            wait_queue_schema(pg_dsn)
            wait_for(lambda: _live_workers(pg_dsn), 60, "the worker's first heartbeat")
            for command in ("run", "crawl"):
                refused = newsmon(config, command)
                assert refused.returncode == 3, refused.stderr[-2000:]
                assert "worker(s) are live on this store" in refused.stderr, refused.stderr
            assert newsmon(config, "enrich").returncode == 0
            assert not any(web.by_host().values())   # not even robots.txt was fetched
            with PgStore(pg_dsn) as store:
                assert store.articles.count() == 0
                assert [r.command for r in store.runs.recent(10)] == ["enrich"]
        wait_for(lambda: not _live_workers(pg_dsn), 30, "the stopped worker to be gone")
        done = newsmon(config, "crawl")
        assert done.returncode == 0, done.stderr[-2000:]
        with PgStore(pg_dsn) as store:
            assert store.articles.count() == 2


def _newsmon(config: Path, dsn: str, *args: str) -> str:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "newsmon", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=120, env=worker_env(dsn))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.pg
@pytest.mark.es
@pytest.mark.slow
def test_the_chain_run_by_workers_indexes_every_article_and_alerts_once_per_story(
        tmp_path: Path, pg_dsn: str, es_url: str) -> None:
    """crawl → enrich → index → alert by `newsmon worker` subprocesses alone: the bundled demo
    sites (through the demo server as proxy), the real model, the real Elasticsearch node."""
    import uuid

    import yaml

    from newsmon.app.settings import load_settings
    from newsmon.crawler.sources import load_sources
    from newsmon.demo.server import DEMO_SITE, DemoServer
    from newsmon.index.core.defaults import default_file
    from newsmon.index.store.postgres import PgStore
    from newsmon.worker.shards import shard_sources
    from tests.test_pg_run import _es_ids
    from tests.test_run import DEMO_SOURCES, N_DEMO_ARTICLES, child_env

    rules = yaml.safe_load((default_file("demo") / "alerts.yaml").read_text(encoding="utf-8"))
    alerts_file = tmp_path / "alerts.jsonl"
    for rule in rules["rules"]:
        rule["channels"] = [{"type": "file", "path": str(alerts_file)}]
    (tmp_path / "alerts.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True),
                                          encoding="utf-8")
    alias = f"newsmon-w-{uuid.uuid4().hex[:10]}"
    config = tmp_path / "newsmon.toml"
    config.write_text(
        f'[data]\ndir = "{tmp_path / "data"}"\nstore = "postgresql"\ndsn_env = "TEST_PG_DSN"\n'
        f'busy_timeout = 10\n\n'
        f'[crawl]\nsources = "{DEMO_SOURCES}"\ndownload_delay = 0.0\nautothrottle = false\n'
        f'retries = 0\ntimeout = 10\nbatch_size = 2\nconcurrency = 2\nper_host_concurrency = 1\n'
        f'\n[enrich]\nbatch_size = 4\n\n'
        f'[index]\nbackend = "elasticsearch"\nes_url = "{es_url}"\nes_index = "{alias}"\n\n'
        f'[alerts]\nrules = "{tmp_path / "alerts.yaml"}"\n\n'
        '[worker]\ncrawl_shards = 4\ncrawl_every = "0 0 1 1 *"\nheartbeat = 1\n'
        'stalled_after = 5\nstalled_every = "* * * * * */2"\n',
        encoding="utf-8")
    shards = list(shard_sources(load_sources(load_settings(config).crawl.sources), 4))
    try:
        with DemoServer(DEMO_SITE) as server, Workers(
                config, {**child_env(server), "TEST_PG_DSN": pg_dsn},
                tmp_path / "logs") as workers:
            workers.start("crawl-1", "crawl")
            workers.start("pipeline-1", "enrich,index,alert")
            wait_queue_schema(pg_dsn)
            assert all(defer_crawls(pg_dsn, *shards))

            def settled(alert_jobs: int) -> bool:
                with PgStore(pg_dsn) as store:
                    depth = store.jobs.depth()
                    busy = sum(d["todo"] + d["doing"] for q, d in depth.items()
                               if q != "schedule")
                    return (busy == 0 and store.articles.count() > 0
                            and len(job_rows(pg_dsn, "newsmon.alert")) >= alert_jobs)
            # phase 1: the sites' backlog, the rule's silent baseline (it was first seen on an
            # empty store); phase 2: new articles appear, and alert
            wait_for(lambda: settled(1), 300, "the first chain to settle", every=1.0)
            with PgStore(pg_dsn) as store:
                assert store.articles.count() == N_DEMO_ARTICLES
            server.set_phase(2)
            assert all(defer_crawls(pg_dsn, *shards))
            wait_for(lambda: settled(2), 300, "the second chain to settle", every=1.0)
            status = json.loads(_newsmon(config, pg_dsn, "status", "--json"))
        with PgStore(pg_dsn) as store:
            ids = sorted(a.id for a in store.articles.iter())
            assert len(ids) > N_DEMO_ARTICLES
            assert store.cursors.get("backend:elasticsearch") == store.changes.head()
        assert _es_ids(es_url, alias) == ids
        for task in ("newsmon.crawl", "newsmon.enrich", "newsmon.index", "newsmon.alert"):
            done = job_rows(pg_dsn, task)
            assert done and all(j["status"] == "succeeded" for j in done), (task, done)
        lines = [json.loads(line) for line in alerts_file.read_text(encoding="utf-8").splitlines()]
        assert lines, "no alert was delivered"
        keys = [(a["rule"], a["story"]) for a in lines]
        assert len(keys) == len(set(keys)), keys  # one alert per (rule, story)
        assert status["jobs"]["stalled"] == 0 and status["jobs"]["running"] == []
    finally:
        from elasticsearch import Elasticsearch

        with Elasticsearch(es_url) as es:
            es.indices.delete(index=f"{alias}-v*", ignore_unavailable=True,
                              allow_no_indices=True, expand_wildcards="all")


def _hold(dsn: str, held: multiprocessing.synchronize.Event) -> None:
    from newsmon.index.store.postgres import PgStore

    with PgStore(dsn) as store, store.exclusive("story-assignment"):
        held.set()
        time.sleep(60)  # killed holding it


@pytest.mark.pg
def test_story_assignment_is_exclusive_across_processes_and_freed_by_a_kill(pg_dsn: str) -> None:
    import threading

    from newsmon.index.store.postgres import PgStore

    ctx = multiprocessing.get_context("spawn")
    held = ctx.Event()
    child = ctx.Process(target=_hold, args=(pg_dsn, held))
    child.start()
    assert held.wait(60)
    got = threading.Event()

    def take() -> None:
        with PgStore(pg_dsn) as store, store.exclusive("story-assignment"):
            got.set()
    waiter = threading.Thread(target=take)
    waiter.start()
    assert not got.wait(1.0)  # waits while the other process holds it
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    assert got.wait(15)  # PostgreSQL released the killed session's lock
    waiter.join()


@pytest.mark.pg
def test_finished_jobs_older_than_keep_jobs_days_are_deleted(pg_dsn: str) -> None:
    import asyncio

    import psycopg
    from procrastinate.schema import SchemaManager

    from newsmon.index.core.settings import Settings
    from newsmon.index.store.postgres import PgStore
    from newsmon.worker.app import build_app
    from newsmon.worker.jobs import CLEANUP_TASK, index_job

    with PgStore(pg_dsn) as store:
        store.jobs.ensure_schema(SchemaManager.get_schema())
        old, recent, waiting = (store.jobs.defer(j) for j in (enrich_job(), crawl_job(1),
                                                              index_job()))
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE id = ANY(%s)",
                     ([old, recent],))
        conn.execute("UPDATE procrastinate_events SET at = NOW() - INTERVAL '8 days' "
                     "WHERE job_id IN (%s, %s)", (old, waiting))
    app = build_app(Settings().replace("worker", keep_jobs_days=7), pg_dsn)

    async def clean() -> None:
        async with app.open_async():
            await app.tasks[CLEANUP_TASK].func(timestamp=0)
    asyncio.run(clean())
    with psycopg.connect(pg_dsn) as conn:
        left = sorted(r[0] for r in conn.execute("SELECT id FROM procrastinate_jobs"))
    # the old finished job went; a recent one and a waiting one (however old) stay
    assert left == sorted([recent, waiting])


@pytest.mark.pg
def test_a_stalled_job_is_retried_unless_an_equal_one_already_waits(pg_dsn: str) -> None:
    """A stalled job goes back to the queue; one whose queueing lock another job of the same
    work already holds (a later batch deferred enrich while it ran) ends aborted instead:
    retrying it would raise UniqueViolation on every period and leave it 'doing' forever."""
    import asyncio

    import psycopg
    from procrastinate.schema import SchemaManager

    from newsmon.index.core.settings import Settings
    from newsmon.index.store.postgres import PgStore
    from newsmon.worker.app import build_app
    from newsmon.worker.jobs import RETRY_STALLED_TASK

    with PgStore(pg_dsn) as store:
        store.jobs.ensure_schema(SchemaManager.get_schema())
        stalled_enrich, stalled_crawl = store.jobs.defer(enrich_job()), store.jobs.defer(
            crawl_job(3))
    # running on no worker (worker_id NULL): what procrastinate calls stalled
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = ANY(%s)",
                     ([stalled_enrich, stalled_crawl],))
    with PgStore(pg_dsn) as store:
        waiting = store.jobs.defer(enrich_job())
    assert waiting is not None
    app = build_app(Settings(), pg_dsn)

    async def retry() -> list[int]:
        async with app.open_async():
            return list(await app.tasks[RETRY_STALLED_TASK].func(timestamp=0))
    assert asyncio.run(retry()) == [stalled_crawl]
    with psycopg.connect(pg_dsn) as conn:
        status = dict(conn.execute("SELECT id, status::text FROM procrastinate_jobs").fetchall())
    assert status == {stalled_enrich: "aborted", stalled_crawl: "todo", waiting: "todo"}


@pytest.mark.pg
@pytest.mark.slow
def test_a_crawl_defers_the_health_job_which_alerts_a_failing_source_once(
        tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each crawl job defers `health` (one waits at a time); that job decides source health as
    `newsmon alert` does — one alert when a source starts failing, none for the next failing
    runs — and delivers health alerts only: a rule's pending delivery waits for the rule's own
    job. The source's feed is a closed port, crawled by the real crawl task."""
    import asyncio

    import psycopg
    from procrastinate.schema import SchemaManager

    from newsmon.alerts.rules import Channel
    from newsmon.app.pipeline import crawl_sources
    from newsmon.index.core.settings import (
        AlertsSettings,
        CrawlSettings,
        DataSettings,
        IndexSettings,
        Settings,
    )
    from newsmon.index.store.postgres import PgStore
    from newsmon.index.store.repos.alerts import NewAlert
    from newsmon.worker.app import build_app
    from newsmon.worker.jobs import HEALTH_TASK
    from newsmon.worker.shards import shard_sources
    from newsmon.worker.stage import StageFailed

    (tmp_path / "sources.yaml").write_text(json.dumps({"sources": [
        {"id": "harbourline", "name": "Harbourline", "lang": "en",
         "feeds": ["http://127.0.0.1:9/rss.xml"]}]}), encoding="utf-8")
    (tmp_path / "alerts.yaml").write_text(
        "version: 1\nhealth:\n  failed_runs: 2\n  channels:\n"
        "    - {type: file, path: health.jsonl}\n"
        "rules:\n  - id: pact\n    query: Japan UK pact\n    channels:\n"
        "      - {type: file, path: pact.jsonl}\n", encoding="utf-8")
    monkeypatch.setenv("TEST_PG_DSN", pg_dsn)
    settings = Settings(
        data=DataSettings(dir=tmp_path, store="postgresql", dsn_env="TEST_PG_DSN"),
        crawl=CrawlSettings(sources=tmp_path / "sources.yaml", retries=0, timeout=5),
        index=IndexSettings(backend="elasticsearch", es_url="http://127.0.0.1:9"),
        alerts=AlertsSettings(rules=tmp_path / "alerts.yaml"))
    with PgStore(pg_dsn) as store:
        store.jobs.ensure_schema(SchemaManager.get_schema())
        pact = Channel("file", path="pact.jsonl")
        with store.transaction():
            store.alerts.record([NewAlert(key="pact:s1", rule="pact", kind="match",
                                          payload={"title": "waiting for its rule's job"},
                                          channels={pact.key: pact.to_spec()})])
    app = build_app(settings, pg_dsn)
    [shard] = shard_sources(crawl_sources(settings), settings.worker.crawl_shards)

    def crawl_then_health() -> dict:
        for _ in range(2):   # every source failed: the crawl fails, and still defers health
            with pytest.raises(StageFailed, match="crawl"):
                app.tasks[CRAWL_TASK].func(shard=shard)
        waiting = [j for j in job_rows(pg_dsn, HEALTH_TASK) if j["status"] == "todo"]
        assert len(waiting) == 1, waiting

        async def health() -> dict:
            async with app.open_async():
                return dict(app.tasks[HEALTH_TASK].func())
        out = asyncio.run(health())
        with psycopg.connect(pg_dsn) as conn:   # the job done, as its worker would mark it
            conn.execute("UPDATE procrastinate_jobs SET status = 'succeeded' "
                         "WHERE task_name = %s", (HEALTH_TASK,))
        return out

    first = crawl_then_health()           # two failed crawl runs: failing
    assert [(h["source"], h["condition"]) for h in first["health"]] == [
        ("harbourline", "failing")]
    assert first["delivered"] == 1 and first["decided"] == 1
    assert crawl_then_health()["health"] == []   # still failing: no alert per run
    sent = [json.loads(line) for line in
            (tmp_path / "health.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(a["type"], a["source"]) for a in sent] == [("health", "harbourline")]
    assert not (tmp_path / "pact.jsonl").exists()
    with PgStore(pg_dsn) as store:
        assert [d.rule for d in store.alerts.deliveries()] == ["pact"]
