"""tests/test_run_alert_kill.py on the PostgreSQL store: kill -9 during a `newsmon run` that has
alerts to send (the demo's second phase, after a first run set the rule's baseline), with the
store in a real PostgreSQL database and the index in the real Elasticsearch node.

Whatever the moment of the kill — enriching, indexing, deciding the alert, or while the webhook
receiver holds the request — the rerun ends with the same articles, vectors, stories, index,
watermark and alerts as an uninterrupted run; the file channel holds each alert once, and the
webhook sees every alert, a repeat only ever carrying the same idempotency key.

Each run starts from a copy of the phase-1 database (``CREATE DATABASE … TEMPLATE``) and an
alias of its own, its Elasticsearch cursor dropped so that its first index stage fills the new
alias from the store (as `newsmon index --rebuild` would).
"""
from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from newsmon.demo.server import DEMO_SITE, DemoServer
from tests.helpers.pgdb import fresh_database, with_database
from tests.test_run import REPO, newsmon_argv
from tests.test_run_alert_kill import Receiver, env_for, file_keys, write_setup

pytestmark = [pytest.mark.slow, pytest.mark.pg, pytest.mark.es]

DSN_ENV = "KILLTEST_PG_DSN"


@dataclass(frozen=True)
class Setup:
    """One run's folder (config, data folder for the lock and the file channel), database and
    alias."""

    folder: Path
    config: Path
    dsn: str
    alias: str

    @property
    def data(self) -> Path:
        return self.folder / "data"


def write_pg_setup(folder: Path, es_url: str, alias: str) -> Path:
    config = write_setup(folder)
    text = config.read_text(encoding="utf-8")
    text = text.replace("[data]\n", f'[data]\nstore = "postgresql"\ndsn_env = "{DSN_ENV}"\n', 1)
    text += f'\n[index]\nbackend = "elasticsearch"\nes_url = "{es_url}"\nes_index = "{alias}"\n'
    config.write_text(text, encoding="utf-8")
    return config


def rows(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(dsn) as con:
        return [tuple(r) for r in con.execute(sql).fetchall()]


def es_ids(es_url: str, alias: str) -> list[str]:
    from elasticsearch import Elasticsearch
    from elasticsearch.helpers import scan

    with Elasticsearch(es_url, request_timeout=60) as es:
        es.indices.refresh(index=alias)
        return sorted(h["_id"] for h in scan(es, index=alias, query={"query": {"match_all": {}}},
                                             _source=False))


def drop_alias(es_url: str, alias: str) -> None:
    from elasticsearch import Elasticsearch

    with Elasticsearch(es_url) as es:
        es.indices.delete(index=f"{alias}-v*", ignore_unavailable=True, allow_no_indices=True,
                          expand_wildcards="all")


def snapshot(setup: Setup, es_url: str) -> dict[str, object]:
    """What a run leaves that matters (tests/test_run.py's snapshot, read from PostgreSQL, and
    the documents in the alias)."""
    arts = {}
    for aid, url, stage, data in rows(setup.dsn, "SELECT id, canonical_url, stage, data "
                                                 "FROM articles ORDER BY id"):
        d = json.loads(data)
        arts[aid] = (url, stage, d["title"], d["text"], d.get("lang"), d.get("story"),
                     d.get("enrich_version"),
                     {t: (v.get("label"), round(v.get("score", 0), 3))
                      for t, v in (d.get("topics") or {}).items()})
    return {
        "articles": arts,
        "urls": sorted(rows(setup.dsn, "SELECT url, article_id, state FROM urls")),
        "embeddings": sorted(rows(setup.dsn, "SELECT article_id, model, text_hash, n_chunks "
                                             "FROM embeddings")),
        "stories": sorted(rows(setup.dsn, "SELECT article_id, story, how FROM story_members")),
        "index": es_ids(es_url, setup.alias),
        "rule_cursors": sorted(rows(setup.dsn, "SELECT name, seq FROM cursors "
                                               "WHERE name LIKE 'rule:%'")),
        "alerts": sorted(rows(setup.dsn, "SELECT key, rule, kind, story, article_id "
                                         "FROM alerts")),
        "index_caught_up": rows(setup.dsn, """
            SELECT (SELECT seq FROM cursors WHERE name = 'backend:elasticsearch')
                   = (SELECT MAX(seq) FROM changes)""")[0][0],
    }


@contextmanager
def copy_of(template_dsn: str) -> Iterator[str]:
    """A new database made from the phase-1 one. CREATE DATABASE … TEMPLATE wants no session
    on the template: the phase-1 run's ended a moment ago, so it is retried briefly."""
    import psycopg

    name = f"newsmon_t_{uuid.uuid4().hex}"
    template = urlsplit(template_dsn).path.lstrip("/")
    server = with_database(template_dsn, "postgres")
    with psycopg.connect(server, autocommit=True) as admin:
        deadline = time.monotonic() + 30
        while True:
            try:
                admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                break
            except psycopg.errors.ObjectInUse:
                assert time.monotonic() < deadline, "the phase-1 database stays in use"
                time.sleep(0.1)
    dsn = with_database(template_dsn, name)
    try:
        with psycopg.connect(dsn, autocommit=True) as con:
            # the copy indexes into an alias of its own: from the start of the feed
            con.execute("DELETE FROM cursors WHERE name = 'backend:elasticsearch'")
        yield dsn
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def server() -> Iterator[DemoServer]:
    with DemoServer(DEMO_SITE) as srv:
        yield srv


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture(scope="module")
def resources() -> Iterator[ExitStack]:
    """Databases and aliases made by the module's fixtures, dropped at its end."""
    with ExitStack() as stack:
        yield stack


def env_with(server: DemoServer, receiver: Receiver, setup: Setup) -> dict[str, str]:
    return {**env_for(server, receiver), DSN_ENV: setup.dsn}


@pytest.fixture(scope="module")
def phase1(pg_url: str, es_url: str, server: DemoServer, receiver: Receiver,
           resources: ExitStack, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    """A PostgreSQL store after the first run over the phase-1 sites: the rule's baseline."""
    folder = tmp_path_factory.mktemp("pg-phase1")
    alias = f"newsmon-pgkill-{uuid.uuid4().hex[:8]}"
    resources.callback(drop_alias, es_url, alias)
    setup = Setup(folder, write_pg_setup(folder, es_url, alias),
                  resources.enter_context(fresh_database(pg_url)), alias)
    server.set_phase(1)
    out = subprocess.run(newsmon_argv(setup.config, "run", "--json"), capture_output=True,
                         text=True, env=env_with(server, receiver, setup), cwd=REPO, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert receiver.received() == []
    return setup


def from_phase1(phase1: Setup, folder: Path, es_url: str, stack: ExitStack) -> Setup:
    folder.mkdir(parents=True, exist_ok=True)
    alias = f"newsmon-pgkill-{uuid.uuid4().hex[:8]}"
    stack.callback(drop_alias, es_url, alias)
    return Setup(folder, write_pg_setup(folder, es_url, alias),
                 stack.enter_context(copy_of(phase1.dsn)), alias)


@pytest.fixture(scope="module")
def clean(phase1: Setup, es_url: str, server: DemoServer, receiver: Receiver,
          resources: ExitStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The uninterrupted phase-2 run."""
    setup = from_phase1(phase1, tmp_path_factory.mktemp("pg-clean2"), es_url, resources)
    server.set_phase(2)
    receiver.reset()
    out = subprocess.run(newsmon_argv(setup.config, "run", "--json"), capture_output=True,
                         text=True, env=env_with(server, receiver, setup), cwd=REPO, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    files, hooks = file_keys(setup.data), receiver.received()
    assert files, "phase 2 must alert (the demo's new pact story)"
    assert len(set(hooks)) == len(hooks) == len(set(files)) == len(files)
    shot = snapshot(setup, es_url)
    assert shot["index_caught_up"] and len(shot["index"]) == len(shot["articles"])
    return {"snapshot": shot, "files": files, "hooks": hooks}


class Watch:
    """The store seen from outside while a run writes it: one connection, polled."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.con = psycopg.connect(dsn, autocommit=True)

    def one(self, sql: str) -> Any:
        import psycopg

        try:
            row = self.con.execute(sql).fetchone()
        except psycopg.errors.UndefinedTable:
            return None  # not migrated yet
        return row[0] if row else None

    def step_running(self, stage: str) -> bool:
        return bool(self.one(f"SELECT 1 FROM run_steps WHERE stage = '{stage}' "
                             "AND status = 'running'"))

    def alerts_decided(self) -> bool:
        return bool(self.one("SELECT COUNT(*) FROM alerts WHERE kind = 'match'"))


MOMENTS: dict[str, Callable[[Watch, Receiver], bool]] = {
    "enrich-start": lambda w, r: w.step_running("enrich"),
    "index-start": lambda w, r: w.step_running("index"),
    "alert-start": lambda w, r: w.step_running("alert"),
    # the alert is decided and recorded; its webhook request is in flight
    "alert-delivering": lambda w, r: w.step_running("alert") and w.alerts_decided()
    and bool(r.received()),
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_kill_9_during_a_run_on_postgresql_then_rerun_sends_each_alert_once(
        moment: str, clean: dict, phase1: Setup, es_url: str, server: DemoServer,
        receiver: Receiver, tmp_path: Path) -> None:
    server.set_phase(2)
    with ExitStack() as stack:
        setup = None
        for attempt in range(3):  # a moment a run passed too fast to see: a fresh copy again
            setup = from_phase1(phase1, tmp_path / f"try{attempt}", es_url, stack)
            receiver.reset()
            proc = subprocess.Popen(newsmon_argv(setup.config, "run"), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, text=True,
                                    env=env_with(server, receiver, setup), cwd=REPO)
            watch = Watch(setup.dsn)
            try:
                deadline = time.monotonic() + 300
                while proc.poll() is None and not MOMENTS[moment](watch, receiver):
                    assert time.monotonic() < deadline, f"timed out waiting for {moment}"
                    time.sleep(0.005)
                seen = proc.poll() is None
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
                watch.con.close()
            if seen:
                break
        else:
            pytest.fail(f"three runs ended before {moment} was seen")
        assert setup is not None
        assert rows(setup.dsn, "SELECT id, status FROM runs ORDER BY id")[-1][1] == "running"

        env = env_with(server, receiver, setup)
        rerun = subprocess.run(newsmon_argv(setup.config, "run", "--json"), capture_output=True,
                               text=True, env=env, cwd=REPO, timeout=600)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert json.loads(rerun.stdout)["interrupted_runs"] == [2]
        assert snapshot(setup, es_url) == clean["snapshot"]
        assert rows(setup.dsn, "SELECT COUNT(*) FROM run_steps WHERE status = 'running'") \
            == [(0,)]
        assert sorted(file_keys(setup.data)) == sorted(clean["files"])
        hooks = Counter(receiver.received())
        assert set(hooks) == set(clean["hooks"])
        if moment != "alert-delivering":
            assert all(n == 1 for n in hooks.values()), hooks
        again = subprocess.run(newsmon_argv(setup.config, "run", "--json"), capture_output=True,
                               text=True, env=env, cwd=REPO, timeout=600)
        assert again.returncode == 0, again.stderr[-3000:]
        assert sorted(file_keys(setup.data)) == sorted(clean["files"])
        assert Counter(receiver.received()) == hooks
