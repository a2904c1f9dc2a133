"""`newsmon run` end to end on the PostgreSQL store with the Elasticsearch backend: the bundled
demo sites on a real local server, real Scrapy, the real model, a real PostgreSQL database of
the test's own and the real Elasticsearch node."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsmon.demo.server import DEMO_SITE, DemoServer
from newsmon.index.store.postgres import PgStore
from tests.test_run import DEMO_SOURCES, N_DEMO_ARTICLES, child_env, newsmon_argv

pytestmark = [pytest.mark.slow, pytest.mark.pg, pytest.mark.es]


@pytest.fixture
def alias(es_url: str) -> Iterator[str]:
    name = f"newsmon-pg-{uuid.uuid4().hex[:10]}"
    yield name
    from elasticsearch import Elasticsearch

    with Elasticsearch(es_url) as es:
        es.indices.delete(index=f"{name}-v*", ignore_unavailable=True, allow_no_indices=True,
                          expand_wildcards="all")


def _es_ids(es_url: str, alias: str) -> list[str]:
    from elasticsearch import Elasticsearch
    from elasticsearch.helpers import scan

    with Elasticsearch(es_url, request_timeout=60) as es:
        es.indices.refresh(index=alias)
        return sorted(h["_id"] for h in scan(es, index=alias, query={"query": {"match_all": {}}},
                                             _source=False))


def test_run_on_postgresql_with_elasticsearch_stores_once_and_reruns_as_upserts(
        tmp_path: Path, pg_dsn: str, es_url: str, alias: str) -> None:
    import subprocess

    config = tmp_path / "newsmon.toml"
    config.write_text(
        f'[data]\ndir = "{tmp_path / "data"}"\nstore = "postgresql"\ndsn_env = "TEST_PG_DSN"\n'
        f'busy_timeout = 10\n\n'
        f'[crawl]\nsources = "{DEMO_SOURCES}"\ndownload_delay = 0.0\nautothrottle = false\n'
        f'retries = 0\ntimeout = 10\nbatch_size = 2\nconcurrency = 2\nper_host_concurrency = 1\n'
        f'\n[enrich]\nbatch_size = 4\n\n'
        f'[index]\nbackend = "elasticsearch"\nes_url = "{es_url}"\nes_index = "{alias}"\n',
        encoding="utf-8")

    with DemoServer(DEMO_SITE) as server:
        env = {**child_env(server), "TEST_PG_DSN": pg_dsn}

        def newsmon(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(newsmon_argv(config, *args), capture_output=True, text=True,
                                  env=env, timeout=600)

        first = newsmon("run", "--json")
        assert first.returncode == 0, first.stderr[-3000:]
        with PgStore(pg_dsn) as store:
            ids = sorted(a.id for a in store.articles.iter())
            urls = [a.canonical_url for a in store.articles.iter()]
            assert len(ids) == N_DEMO_ARTICLES and len(set(urls)) == len(urls)
            assert store.cursors.get("backend:elasticsearch") == store.changes.head()
            head = store.changes.head()
        assert _es_ids(es_url, alias) == ids
        # nothing on disk: the SQLite file is not the store
        assert not (tmp_path / "data" / "newsmon.db").exists()

        second = newsmon("run", "--json")
        assert second.returncode == 0, second.stderr[-3000:]
        assert json.loads(second.stdout)["steps"][0]["stats"].get("stored", 0) == 0
        # the index rebuilt from the store: every document written again, none added
        again = newsmon("index", "--rebuild")
        assert again.returncode == 0, again.stderr[-3000:]
        with PgStore(pg_dsn) as store:
            assert sorted(a.id for a in store.articles.iter()) == ids
            assert store.changes.head() == head  # no article was written again
            assert store.cursors.get("backend:elasticsearch") == store.changes.head()
        assert _es_ids(es_url, alias) == ids

        exported = newsmon("export")
        assert exported.returncode == 0, exported.stderr[-3000:]
        assert sorted(json.loads(line)["id"] for line in exported.stdout.splitlines()) == ids

        status = newsmon("status", "--json")
        assert status.returncode == 0, status.stderr[-3000:]
        shown = json.loads(status.stdout)
        assert shown["articles"] == N_DEMO_ARTICLES and "postgresql://" in shown["store"]
        check = newsmon("status", "--check")
        assert check.returncode != 0 and "pg_amcheck" in check.stderr
        backup = newsmon("backup", str(tmp_path / "b.db"))
        assert backup.returncode != 0 and "pg_dump" in backup.stderr
        assert len(backup.stderr.strip().splitlines()) == 1
