"""Elasticsearch as a cluster: monthly indices of first sight behind the read alias, a client
that fails over between node URLs, and a real 3-node cluster (`.ci/es` with NEWSMON_ES_NODES=3)
that loses a node while `newsmon index` writes to it."""
from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsmon.app.indexing import build_docs
from newsmon.index.core.article import Article
from newsmon.index.search.backend import Filters, IndexDoc
from newsmon.index.search.elastic import ElasticBackend
from newsmon.index.store import Store

REPO = Path(__file__).resolve().parents[2]
MODEL = "test:none"


def _doc(i: str, title: str, first_seen: datetime | None, *,
         published: datetime | None = None) -> IndexDoc:
    return IndexDoc(id=i, url=f"http://x.example/{i}", title=title, body=title,
                    title_tokens=title.lower(), body_tokens=title.lower(), source="harbourline",
                    lang="en", published=published, first_seen=first_seen)


def _placement(be: ElasticBackend) -> dict[str, str]:
    be.es.indices.refresh(index=be.alias)
    res = be.es.search(index=be.alias, query={"match_all": {}}, source=False, size=100)
    return {h["_id"]: h["_index"] for h in res["hits"]["hits"]}


@pytest.fixture
def backend(es_url: str) -> Iterator[ElasticBackend]:
    be = ElasticBackend(es_url, alias=f"newsmon-month-{uuid.uuid4().hex[:10]}")
    yield be
    be.es.indices.delete(index=f"{be.alias}-v*", ignore_unavailable=True, allow_no_indices=True,
                         expand_wildcards="all")
    be.close()


OCT = datetime(2026, 10, 30, 23, 50, tzinfo=UTC)
NOV = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.mark.es
def test_months_of_first_sight_are_indices_behind_the_alias_and_a_doc_never_moves(
        backend: ElasticBackend) -> None:
    be = backend
    assert be.prepare(MODEL, None) is True
    # published is not what files an article: the month it was first seen is
    be.upsert([_doc("oct1", "harbour crane strike", OCT, published=NOV),
               _doc("nov1", "harbour ferry timetable", NOV, published=OCT)])
    be.finish()
    gen = f"{be.alias}-v1"
    assert _placement(be) == {"oct1": f"{gen}-2026.10", "nov1": f"{gen}-2026.11"}
    assert set(be.es.indices.get_alias(name=be.alias)) >= {f"{gen}-2026.10", f"{gen}-2026.11"}
    # one search over the alias sees both months
    hits = be.keyword(["harbour"], Filters(), 10)
    assert sorted(h.id for h in hits) == ["nov1", "oct1"] and be.count() == 2
    assert be.get("oct1")["title"] == "harbour crane strike"

    # a correction that arrives with another first-seen time (and one with none) stays put
    be.prepare(MODEL, None)
    assert be.upsert([_doc("oct1", "harbour crane strike ends", NOV),
                      _doc("nov1", "harbour ferry timetable (corrected)", None)]) == 2
    be.finish()
    assert _placement(be) == {"oct1": f"{gen}-2026.10", "nov1": f"{gen}-2026.11"}
    assert be.count() == 2 and be.get("oct1")["title"] == "harbour crane strike ends"

    # a month not seen before is created with the generation's mapping, already searchable
    dec = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    be.upsert([_doc("dec1", "harbour ice", dec)])
    be.finish()
    assert _placement(be)["dec1"] == f"{gen}-2026.12"
    assert [h.id for h in be.keyword(["ice"], Filters(), 5)] == ["dec1"]
    mapping = be.es.indices.get_mapping(index=f"{gen}-2026.12")[f"{gen}-2026.12"]["mappings"]
    assert mapping["properties"]["title_tokens"]["analyzer"] == "whitespace"
    assert mapping["_meta"]["complete"] is True

    # delete and delete_source find each document's month
    assert be.delete(["oct1", "never-indexed"]) >= 1
    be.finish()
    assert be.count() == 2 and be.get("oct1") is None
    assert be.delete_source("harbourline") == 2
    be.finish()
    assert be.count() == 0

    # a rebuild is a new generation: all its months swap in at once, the old ones go
    be.upsert([_doc("oct2", "harbour pilots", OCT)])
    be.finish()
    assert be.prepare(MODEL, None, rebuild=True) is True
    be.upsert([_doc("oct2", "harbour pilots", OCT), _doc("nov2", "harbour tugs", NOV)])
    assert be.count() == 1                      # searches still read generation 1
    be.finish()
    assert _placement(be) == {"oct2": f"{be.alias}-v2-2026.10", "nov2": f"{be.alias}-v2-2026.11"}
    left = be.es.indices.get(index=f"{be.alias}-v*", expand_wildcards="all")
    assert not any(name.startswith(f"{gen}-") for name in left)


@pytest.mark.es
def test_a_single_index_install_is_rebuilt_into_monthly_indices(backend: ElasticBackend) -> None:
    """An install from before monthly indices (one ``<alias>-v<N>`` index, mapping version 2)
    is rebuilt from the store by its next `newsmon index` and the old index is dropped."""
    be = backend
    old = f"{be.alias}-v4"
    be.es.indices.create(index=old, settings={"number_of_shards": 1, "number_of_replicas": 0},
                         mappings={"_meta": {"model": MODEL, "dim": None, "mapping_version": 2,
                                             "complete": True, "analyzers": {}},
                                   "properties": {"id": {"type": "keyword"}}},
                         aliases={be.alias: {}})
    assert be.model() == MODEL
    assert be.prepare(MODEL, None) is True      # the mapping version differs: a full build
    be.upsert([_doc("a", "harbour", NOV)])
    be.finish()
    assert _placement(be) == {"a": f"{be.alias}-v5-2026.11"}
    assert not be.es.indices.exists(index=old)


def test_build_docs_files_an_article_under_its_first_sight_not_its_latest_crawl(
        tmp_path: Path) -> None:
    url = "http://harbourline.example/a/1"
    with Store(tmp_path / "newsmon.db") as store:
        art = Article(url=url, canonical_url=url, source="harbourline", lang="en",
                      title="Crane strike", text="The crane strike began.")
        store.articles.upsert([art])
    db = sqlite3.connect(tmp_path / "newsmon.db")
    db.execute("UPDATE urls SET first_seen = '2026-10-30T23:50:00+00:00'")
    db.commit()
    db.close()
    with Store(tmp_path / "newsmon.db") as store:
        art.title, art.fetched_at = "Crane strike ends", NOV   # re-crawled, corrected
        store.articles.upsert([art])
        (doc,), _ = build_docs(store, [art.id], MODEL)
    assert doc.first_seen == OCT and "ends" in doc.title


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.es
def test_the_client_fails_over_to_the_next_node_url(es_url: str) -> None:
    dead = f"http://127.0.0.1:{_free_port()}"   # nothing listens: connection refused
    be = ElasticBackend(f"{dead}, {es_url}", alias=f"newsmon-fo-{uuid.uuid4().hex[:10]}")
    try:
        assert be.urls == [dead, es_url]
        assert be.prepare(MODEL, None) is True
        for k in range(6):     # round robin would send some of these to the dead node
            be.upsert([_doc(f"d{k}", "harbour", NOV)])
        be.finish()
        assert be.count() == 6
    finally:
        be.es.indices.delete(index=f"{be.alias}-v*", ignore_unavailable=True,
                             allow_no_indices=True, expand_wildcards="all")
        be.close()
    only_dead = ElasticBackend(dead, alias="newsmon-fo-dead", timeout=5)
    try:
        from newsmon.index.core.errors import IndexingError

        with pytest.raises(IndexingError, match="unreachable"):
            only_dead.count()
    finally:
        only_dead.close()


# -- a real 3-node cluster ------------------------------------------------------------------------
N_ARTICLES = 1500


def _ci_es(instance: str, *args: str, nodes: int = 1, timeout: float = 240) -> str:
    env = {**os.environ, "NEWSMON_ES_INSTANCE": instance, "NEWSMON_ES_NODES": str(nodes),
           "NEWSMON_ES_OWNER_PID": str(os.getpid())}
    res = subprocess.run(["bash", str(REPO / ".ci" / "es"), *args], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout.strip()


@pytest.fixture
def cluster() -> Iterator[tuple[str, list[str]]]:
    instance = f"test-{os.getpid()}-{uuid.uuid4().hex[:6]}-cluster"
    try:
        out = _ci_es(instance, "start", nodes=3)
        assert len(out.splitlines()) == 1, out      # one line: every node's URL
        yield instance, out.split(",")
    finally:
        _ci_es(instance, "stop")


def _indexing_total(url: str, pattern: str) -> int:
    """Documents the cluster has accepted into ``pattern``, refreshed or not (a full build
    refreshes only at its end)."""
    from elasticsearch import Elasticsearch

    with Elasticsearch(url, request_timeout=10) as es:
        stats = es.indices.stats(index=pattern, metric="indexing", expand_wildcards="all")
        return int(stats["_all"].get("primaries", {}).get("indexing", {}).get("index_total", 0))


def _index(cfg: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSMON_")}
    return subprocess.Popen([sys.executable, "-m", "newsmon", "--config", str(cfg), "index",
                             "--backend", "elasticsearch"],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.es
@pytest.mark.slow
def test_a_node_of_three_stops_mid_index_and_the_index_equals_the_store(
        cluster: tuple[str, list[str]], tmp_path: Path) -> None:
    instance, urls = cluster
    assert len(urls) == 3
    with Store(tmp_path / "newsmon.db") as store:
        store.articles.upsert([
            Article(url=f"http://harbourline.example/c/{k}", canonical_url=(
                f"http://harbourline.example/c/{k}"), source="harbourline", lang="en",
                title=f"Harbour report {k}", text=f"Cranes and ferries, report number {k}.")
            for k in range(N_ARTICLES)])
        want = sorted(store.articles.ids())
    alias = "newsmon-cluster"
    cfg = tmp_path / "newsmon.toml"
    cfg.write_text(f'[data]\ndir = "{tmp_path}"\n[index]\nes_url = "{",".join(urls)}"\n'
                   f'es_index = "{alias}"\nes_shards = 2\nes_replicas = 1\n', encoding="utf-8")
    proc = _index(cfg)
    end = time.monotonic() + 180
    while _indexing_total(urls[1], f"{alias}-v*") < N_ARTICLES // 4:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < end, "indexing never reached a quarter of the store"
        time.sleep(0.1)
    # node 1: the first URL the client knows and the node that bootstrapped the cluster
    assert proc.poll() is None and _indexing_total(urls[1], f"{alias}-v*") < N_ARTICLES
    _ci_es(instance, "stop-node", "1", "--kill", nodes=3)
    _, err = proc.communicate(timeout=240)
    if proc.returncode != 0:    # a failed run leaves the cursor; the next run completes
        assert "Traceback" not in err, err[-3000:]
        proc = _index(cfg)
        _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]

    be = ElasticBackend(urls, alias=alias)   # the dead node first in the list
    try:
        be.finish()
        assert be.count() == len(want) == N_ARTICLES
        assert be.ids() == want
        health = be.es.cluster.health()
        assert health["number_of_nodes"] == 2 and health["status"] in ("green", "yellow")
        settings = be.es.indices.get_settings(index=alias)
        assert {s["settings"]["index"]["number_of_replicas"] for s in settings.values()} == {"1"}
        assert {s["settings"]["index"]["number_of_shards"] for s in settings.values()} == {"2"}
    finally:
        be.close()
    with Store(tmp_path / "newsmon.db") as store:
        assert store.cursors.get("backend:elasticsearch") == store.changes.head()
