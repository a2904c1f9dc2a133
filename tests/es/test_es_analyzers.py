"""The Elasticsearch backend uses the cluster's ``english`` and ``kuromoji`` analyzers where the
cluster has them (production clusters do), newsmon's own tokens where it does not.

Two real nodes: ``es_url`` is Elastic's core-only integ-test node; ``es_analysis_url`` is the
same distribution with a test plugin that registers Lucene's EnglishAnalyzer and
JapaneseAnalyzer under those names (.ci/analysis-plugin, NEWSMON_ES_FLAVOR=analysis).
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np
import pytest

from newsmon.index.search import backend as engine
from newsmon.index.search.backend import Filters, IndexDoc, Query
from newsmon.index.search.elastic import ElasticBackend

pytestmark = pytest.mark.es

MODEL = "test:2d"


def _doc(i: str, title: str, body: str, lang: str | None, tokens: str = "") -> IndexDoc:
    return IndexDoc(id=i, url=f"http://x.example/{i}", title=title, body=body,
                    title_tokens=tokens, body_tokens=tokens, source="s", lang=lang,
                    published=datetime(2026, 11, 15, tzinfo=UTC), story=None,
                    topics={}, entities=(), model=MODEL,
                    vector=np.asarray([1.0, 0.0], dtype=np.float32))


# Tokens as newsmon would compute them are deliberately absent for English and Japanese
# documents ("" above): on the analysis node only the server's analysis can find them.
DOCS = [
    _doc("en1", "Britain and Japan agreed a critical minerals framework",
         "The agreement covers rare earths and battery supply chains.", "en"),
    _doc("ja1", "日英、次期戦闘機の共同開発で合意", "両政府は東京で次期戦闘機の開発計画を確認した。", "ja"),
    _doc("fr1", "Accord sur les terres rares", "Le Japon et le Royaume-Uni", "fr",
         tokens="accord terres rares japon"),
]


@pytest.fixture
def make(request):
    made = []

    def _make(url: str, **kwargs) -> ElasticBackend:
        be = ElasticBackend(url, alias=f"newsmon-analyzers-{uuid.uuid4().hex[:10]}", **kwargs)
        made.append(be)
        return be

    yield _make
    for be in made:
        be.es.indices.delete(index=f"{be.alias}-v*", ignore_unavailable=True,
                             allow_no_indices=True, expand_wildcards="all")
        be.close()


def _load(be: ElasticBackend) -> ElasticBackend:
    assert be.prepare(MODEL, 2) is True
    be.upsert(DOCS)
    be.finish()
    return be


def _keyword(be: ElasticBackend, text: str, tokens: tuple[str, ...] = ("x",)) -> list[str]:
    hits = engine.search(be, Query(tokens=tokens, text=text, mode="keyword", k=10))
    return [h.id for h in hits]


def test_the_analyzers_are_found_where_the_cluster_has_them(make, es_url, es_analysis_url):
    assert make(es_analysis_url)._available_analyzers() == {"en": "english", "ja": "kuromoji"}
    assert make(es_url)._available_analyzers() == {}
    assert make(es_analysis_url, text_analysis="tokens")._available_analyzers() == {}
    only_en = make(es_analysis_url, server_analyzers={"en": "english", "ja": "no_such"})
    assert only_en._available_analyzers() == {"en": "english"}


def test_english_and_japanese_text_is_analysed_by_the_server(make, es_analysis_url):
    be = _load(make(es_analysis_url))
    assert be.stats()["analyzers"] == {"en": "english", "ja": "kuromoji"}
    target = next(iter(be.es.indices.get_alias(name=be.alias)))
    props = be.es.indices.get_mapping(index=target)[target]["mappings"]["properties"]
    assert props["body_en"]["analyzer"] == "english"
    assert props["title_ja"]["analyzer"] == "kuromoji"
    # the english analyzer stems: "agreements" finds "agreed" / "agreement"
    assert _keyword(be, "agreements on minerals") == ["en1"]
    # kuromoji segments Japanese typed without spaces
    assert _keyword(be, "戦闘機の開発") == ["ja1"]
    # a language without a server analyzer is found by newsmon's tokens
    assert _keyword(be, "", tokens=("terres", "accord")) == ["fr1"]
    # filters still apply
    hits = engine.search(be, Query(tokens=("x",), text="次期戦闘機", mode="keyword",
                                   filters=Filters(lang="en"), k=10))
    assert hits == []
    # Lucene syntax and a 10 kB paste are text, never an error
    assert _keyword(be, 'minerals AND (japan OR "rare* earths") ~2 ^3 \\ /x/') == ["en1"]
    assert _keyword(be, "minerals " * 1200)[:1] == ["en1"]
    # the stored document reads as on any backend: no analysed copies in it
    doc = be.get("en1")
    assert doc is not None and doc["title"] == DOCS[0].title and "body_en" not in doc


def test_core_only_cluster_uses_tokens(make, es_url):
    be = _load(make(es_url))
    assert be.stats()["analyzers"] == {}
    # English and Japanese documents were given no tokens: nothing matches the typed text
    assert _keyword(be, "agreements on minerals", tokens=("agreements", "minerals")) == []
    assert _keyword(be, "", tokens=("terres",)) == ["fr1"]


def test_a_cluster_that_gains_the_analyzers_gets_a_new_index(make, es_analysis_url):
    tokens_only = _load(make(es_analysis_url, text_analysis="tokens"))
    first = next(iter(tokens_only.es.indices.get_alias(name=tokens_only.alias)))
    assert tokens_only.stats()["analyzers"] == {}
    # same alias, now allowed to use the cluster's analyzers: a full build behind the alias
    auto = ElasticBackend(es_analysis_url, alias=tokens_only.alias)
    try:
        assert auto.prepare(MODEL, 2) is True
        auto.upsert(DOCS)
        auto.finish()
        second = next(iter(auto.es.indices.get_alias(name=auto.alias)))
        assert second != first and not auto.es.indices.exists(index=first)
        assert auto.stats()["analyzers"] == {"en": "english", "ja": "kuromoji"}
        assert _keyword(auto, "agreements") == ["en1"]
        # nothing changed since: the next run writes into the same index
        assert auto.prepare(MODEL, 2) is False
    finally:
        auto.close()
