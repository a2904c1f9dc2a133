"""Two machines evaluate the same alert rule at the same moment on one PostgreSQL store: each
story alerts once, and each alert reaches the webhook once, with an idempotency key of its own.

Two `newsmon alert` processes (two data folders, so two run locks: two machines) share the
store and the Elasticsearch index. The demo's first phase sets the rule's baseline; its second
brings the new pact coverage, crawled, enriched and indexed, not yet evaluated. While both
processes start, the test holds a write lock on the ``alerts`` table, so neither can record
before both have reached the rule: without the per-rule turn (AlertRepo.deciding) both decide
the same stories and the second insert fails on the unique key. The webhook receiver holds
each request for a while, so both processes reach the outbox while a delivery is in flight:
without the claim (AlertRepo.claim) both send it.
"""
from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsmon.demo.server import DEMO_SITE, DemoServer
from newsmon.index.core.defaults import default_file
from tests.helpers.receiver import start_receiver
from tests.test_run import DEMO_SOURCES, REPO, child_env, newsmon_argv

pytestmark = [pytest.mark.slow, pytest.mark.pg, pytest.mark.es]

HOOK_ENV = "RACE_TEST_HOOK_URL"
DSN_ENV = "RACE_TEST_PG_DSN"


@pytest.fixture
def alias(es_url: str) -> Iterator[str]:
    name = f"newsmon-race-{uuid.uuid4().hex[:10]}"
    yield name
    from elasticsearch import Elasticsearch

    with Elasticsearch(es_url) as es:
        es.indices.delete(index=f"{name}-v*", ignore_unavailable=True, allow_no_indices=True,
                          expand_wildcards="all")


def machine(tmp: Path, es_url: str, alias: str) -> Path:
    """One machine's config: its own data folder, the shared store and index; the demo's
    rule sent to a file and to the webhook."""
    tmp.mkdir(parents=True)
    rules = (default_file("demo") / "alerts.yaml").read_text(encoding="utf-8")
    for line in ("      - {type: feed}\n", "      - {type: stdout}\n"):
        assert line in rules
        rules = rules.replace(line, "")
    rules = rules.replace("      - {type: file, path: alerts.jsonl}\n",
                          "      - {type: file, path: alerts.jsonl}\n"
                          f"      - {{type: webhook, url_env: {HOOK_ENV}}}\n")
    (tmp / "alerts.yaml").write_text(rules, encoding="utf-8")
    config = tmp / "newsmon.toml"
    config.write_text(
        f'[data]\ndir = "{tmp / "data"}"\nstore = "postgresql"\ndsn_env = "{DSN_ENV}"\n'
        f'busy_timeout = 60\n\n'
        f'[crawl]\nsources = "{DEMO_SOURCES}"\ndownload_delay = 0.0\nautothrottle = false\n'
        f'retries = 0\ntimeout = 10\nbatch_size = 2\nconcurrency = 2\nper_host_concurrency = 1\n'
        f'\n[enrich]\nbatch_size = 4\n\n'
        f'[index]\nbackend = "elasticsearch"\nes_url = "{es_url}"\nes_index = "{alias}"\n\n'
        f'[alerts]\nrules = "{tmp / "alerts.yaml"}"\nretries = 0\nwebhook_timeout = 30\n',
        encoding="utf-8")
    return config


def waiting_on_locks(admin, database: str) -> int:
    return int(admin.execute(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
        (database,)).fetchone()[0])


def test_two_machines_deciding_one_rule_at_once_alert_each_story_once(
        tmp_path: Path, pg_dsn: str, es_url: str, alias: str) -> None:
    import psycopg

    receiver = start_receiver()
    try:
        one = machine(tmp_path / "one", es_url, alias)
        two = machine(tmp_path / "two", es_url, alias)
        with DemoServer(DEMO_SITE) as server:
            env = {**child_env(server), DSN_ENV: pg_dsn, HOOK_ENV: receiver.url}

            def newsmon(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
                return subprocess.run(newsmon_argv(config, *args), capture_output=True,
                                      text=True, env=env, cwd=REPO, timeout=600)

            server.set_phase(1)
            first = newsmon(one, "run", "--json")
            assert first.returncode == 0, first.stderr[-3000:]
            assert receiver.requests == []  # the baseline: nothing sent
            server.set_phase(2)
            for stage in ("crawl", "enrich", "index"):
                done = newsmon(one, stage)
                assert done.returncode == 0, (stage, done.stderr[-3000:])

            receiver.delay_s = 2.0
            database = pg_dsn.rsplit("/", 1)[1]
            with psycopg.connect(pg_dsn) as holder, psycopg.connect(pg_dsn,
                                                                    autocommit=True) as admin:
                # held until both processes wait: one for this lock (it has decided), the other
                # for its turn at the rule (without the turn: both for this lock)
                holder.execute("LOCK TABLE alerts IN EXCLUSIVE MODE")
                procs = [subprocess.Popen(newsmon_argv(c, "alert", "--json"),
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True, env=env, cwd=REPO) for c in (one, two)]
                deadline = time.monotonic() + 300
                while waiting_on_locks(admin, database) < 2:
                    assert all(p.poll() is None for p in procs), \
                        [p.communicate()[1][-2000:] for p in procs if p.poll() is not None]
                    assert time.monotonic() < deadline, "the two processes never met"
                    time.sleep(0.05)
                holder.rollback()
            outs = [p.communicate(timeout=600) for p in procs]
            for proc, (_out, err) in zip(procs, outs):
                assert proc.returncode == 0, err[-3000:]
            outcomes = [json.loads(out) for out, _ in outs]

        with psycopg.connect(pg_dsn) as db:
            alerts = db.execute("SELECT key, rule, story FROM alerts WHERE kind = 'match'"
                                ).fetchall()
            hooks = dict(db.execute(
                "SELECT a.key, d.idempotency_key FROM deliveries d JOIN alerts a "
                "ON a.id = d.alert_id WHERE d.channel LIKE 'webhook:%' AND d.state = 'sent'"
            ).fetchall())
            unsent = db.execute("SELECT COUNT(*) FROM deliveries WHERE state <> 'sent'"
                                ).fetchone()[0]
        assert alerts, "phase 2 must alert (the demo's new pact story)"
        assert len({(rule, story) for _, rule, story in alerts}) == len(alerts)
        # the two processes decided them between them, once
        assert sum(o["decided"] for o in outcomes) == len(alerts)
        assert unsent == 0 and set(hooks) == {key for key, _, _ in alerts}
        # the receiver: every alert once, none twice, one key per alert
        got = Counter(r.headers["Idempotency-Key"] for r in receiver.delivered())
        assert all(n == 1 for n in got.values()), got
        assert set(got) == set(hooks.values()) and len(set(hooks.values())) == len(alerts)
        assert len(receiver.requests) == len(alerts)
        # the file channel: each alert on one machine or the other, once in all
        lines = [json.loads(line) for c in (one, two)
                 if (c.parent / "data" / "alerts.jsonl").exists()
                 for line in (c.parent / "data" / "alerts.jsonl").read_text("utf-8").splitlines()]
        assert sorted(a["story"] for a in lines) == sorted(story for _, _, story in alerts)
    finally:
        receiver.close()
