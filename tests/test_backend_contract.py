"""One contract, two backends: the embedded SQLite backend and a real Elasticsearch node
(marker ``es``; the ``es_url`` fixture) must behave the same for every operation newsmon uses."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from newsmon.index.core.errors import ConfigError
from newsmon.index.search import backend as engine
from newsmon.index.search.backend import Filters, IndexDoc, ModelMismatch, Query
from newsmon.index.store import Store

MODEL = "test:4d"


def _vec(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def _doc(i: str, title: str, body: str, *, lang: str = "en", source: str = "harbourline",
         vector=(1, 0, 0, 0), topics=None, entities=(), day: int = 13,
         story: str | None = None) -> IndexDoc:
    toks = lambda s: " ".join(s.lower().split())  # noqa: E731 - tokens arrive pre-computed
    return IndexDoc(id=i, url=f"http://x.example/{i}", title=title, body=body,
                    title_tokens=toks(title), body_tokens=toks(body), source=source, lang=lang,
                    published=datetime(2026, 11, day, 9, tzinfo=UTC), story=story,
                    topics=topics or {}, entities=tuple(entities), model=MODEL,
                    vector=_vec(*vector) if vector is not None else None,
                    # first seen in October or November: on Elasticsearch the suite runs
                    # across two monthly indices
                    first_seen=datetime(2026, 11, day, 9, tzinfo=UTC) - timedelta(days=14))


DOCS = [
    _doc("a1", "gcap fighter italy", "the gcap programme with italy advances", vector=(1, .1, 0, 0),
         topics={"defence": 0.9}, entities=("gcap", "italy"), story="s-gcap"),
    _doc("a2", "rare earths deal", "britain and japan agree on rare earths supply",
         vector=(0, 1, .1, 0), topics={"minerals": 0.8}, entities=("rare-earths",), day=14),
    _doc("j1", "次期 戦闘 機", "日英 伊 次期 戦闘 機 協力", lang="ja", source="tohto-shimbun",
         vector=(.9, .2, 0, 0), topics={"defence": 0.6}, entities=("gcap",), story="s-gcap",
         day=15),
    _doc("j2", "サイバー 協力", "日英 サイバー 協力 電力 網", lang="ja", source="tohto-shimbun",
         vector=(0, 0, 1, .1), topics={"cyber": 0.7}, day=16),
    _doc("n1", "ramen chain", "a ramen chain opens in london", vector=(0, 0, .1, 1), day=10),
]


def _open(kind: str, tmp_path, request):
    if kind.startswith("sqlite"):
        from newsmon.index.search.embedded import EmbeddedBackend

        store = Store(tmp_path / "contract.db")
        request.addfinalizer(store.close)
        # "sqlite-cached": keyword queries answered by the in-memory BM25 cache, built at once;
        # "sqlite-ann": semantic queries answered by the ANN graphs whatever the size
        return EmbeddedBackend(store, keyword_cache=kind == "sqlite-cached",
                               build_in_background=False,
                               ann_min_docs=1 if kind == "sqlite-ann" else None)
    from newsmon.index.search.elastic import ElasticBackend

    # "elasticsearch-analyzers": a node with kuromoji and english, text analysed by them
    es_url = request.getfixturevalue("es_analysis_url" if kind == "elasticsearch-analyzers"
                                     else "es_url")
    be = ElasticBackend(es_url, alias=f"newsmon-contract-{uuid.uuid4().hex[:10]}")

    def cleanup() -> None:
        be.es.indices.delete(index=f"{be.alias}-v*", ignore_unavailable=True,
                             allow_no_indices=True, expand_wildcards="all")
        be.close()

    request.addfinalizer(cleanup)
    return be


@pytest.fixture(params=["sqlite", "sqlite-cached", "sqlite-ann",
                        pytest.param("elasticsearch", marks=pytest.mark.es),
                        pytest.param("elasticsearch-analyzers", marks=pytest.mark.es)])
def backend(request, tmp_path):
    return _open(request.param, tmp_path, request)


@pytest.fixture
def loaded(backend):
    assert backend.prepare(MODEL, 4) is True
    assert backend.upsert(DOCS) == len(DOCS)
    backend.finish()
    return backend


def _ids(hits) -> list[str]:
    return [h.id for h in hits]


def test_upsert_get_count_delete(loaded) -> None:
    assert loaded.count() == 5
    assert loaded.model() == MODEL
    got = loaded.get("a1")
    assert got["title"] == "gcap fighter italy" and got["story"] == "s-gcap"
    assert got["topics"] == {"defence": 0.9} and got["published"].startswith("2026-11-13")
    assert loaded.get("nope") is None
    loaded.upsert([DOCS[0]])            # the same id again: replaced, not duplicated
    loaded.finish()
    assert loaded.count() == 5
    assert loaded.delete(["a1", "never-indexed"]) >= 1
    loaded.finish()
    assert loaded.count() == 4 and loaded.get("a1") is None


def test_delete_source_leaves_no_document_of_the_source(loaded) -> None:
    """`newsmon sources remove ID --purge`: every document of one source goes, others stay."""
    assert loaded.delete_source("tohto-shimbun") == 2
    loaded.finish()
    assert loaded.count() == 3
    assert loaded.get("j1") is None and loaded.get("j2") is None
    assert loaded.count(Filters(sources=("tohto-shimbun",))) == 0
    everything = Filters()
    assert "j1" not in _ids(loaded.keyword(["次期", "gcap"], everything, 10))
    assert not {"j1", "j2"} & set(_ids(loaded.semantic(_vec(.9, .2, 0, 0), everything, 10)))
    assert loaded.facets(everything, ["a1", "a2", "n1"])["source"] == {"harbourline": 3}
    assert loaded.delete_source("tohto-shimbun") == 0 and loaded.delete_source("nobody") == 0
    assert loaded.count() == 3 and loaded.get("a1") is not None


def test_keyword_ranks_by_bm25_with_title_weight(loaded) -> None:
    hits = loaded.keyword(("gcap", "italy"), Filters(), 10)
    assert _ids(hits) == ["a1"]
    hits = loaded.keyword(("日英", "協力"), Filters(), 10)
    assert set(_ids(hits)) == {"j1", "j2"}
    assert hits[0].keyword_rank == 1 and hits[0].score >= hits[1].score


@pytest.mark.parametrize("token", ['"', '"gcap', "*", "-", "NEAR", "AND", "OR", "NOT", "(", ")",
                                   "gcap*", "title:gcap", "^", "x" * 10_000, "\\", "'", ":"])
def test_any_token_is_a_valid_query(loaded, token: str) -> None:
    loaded.keyword((token, "gcap"), Filters(), 5)  # never raises
    assert "a1" in _ids(loaded.keyword((token, "gcap"), Filters(), 5))


def test_semantic_is_cosine_nearest_first(loaded) -> None:
    hits = loaded.semantic(_vec(1, 0, 0, 0), Filters(), 3)
    assert _ids(hits) == ["a1", "j1", "a2"]
    assert hits[0].semantic_score == pytest.approx(float(_vec(1, .1, 0, 0)[0]), abs=1e-3)
    assert [h.semantic_rank for h in hits] == [1, 2, 3]


@pytest.mark.parametrize(("filters", "expected"), [
    (Filters(lang="ja"), {"j1", "j2"}),
    (Filters(sources=("harbourline",)), {"a1", "a2", "n1"}),
    (Filters(topics=("defence",)), {"a1", "j1"}),
    (Filters(topics=("defence",), min_topic_score=0.7), {"a1"}),
    (Filters(entities=("GCAP",)), {"a1", "j1"}),
    (Filters(entities=("gcap", "italy")), {"a1"}),
    (Filters(since=datetime(2026, 11, 14, tzinfo=UTC)), {"a2", "j1", "j2"}),
    (Filters(until=datetime(2026, 11, 14, tzinfo=UTC)), {"a1", "n1"}),
    (Filters(ids=("a2", "j2", "zz")), {"a2", "j2"}),
    (Filters(lang="en", topics=("cyber",)), set()),
])
def test_filters_are_the_same_in_every_mode(loaded, filters: Filters, expected: set) -> None:
    assert set(_ids(loaded.semantic(_vec(1, 1, 1, 1), filters, 10))) == expected
    assert loaded.count(filters) == len(expected)
    everything = ("gcap", "rare", "日英", "ramen", "協力", "earths")
    keyword = set(_ids(loaded.keyword(everything, filters, 10)))
    assert keyword == expected


def test_hybrid_fuses_both_lists_by_reciprocal_rank(loaded) -> None:
    q = Query(tokens=("rare", "earths"), vector=_vec(1, 0, 0, 0), model=MODEL, mode="hybrid", k=3)
    hits = engine.search(loaded, q)
    # a2 is first by keyword, third by vector; a1 is first by vector only
    assert _ids(hits)[:2] == ["a2", "a1"] or _ids(hits)[:2] == ["a1", "a2"]
    a2 = next(h for h in hits if h.id == "a2")
    assert a2.keyword_rank == 1 and a2.semantic_rank == 3
    assert a2.score == pytest.approx(1 / 61 + 1 / 63)
    keyword_only = engine.search(loaded, Query(tokens=("ramen",), mode="keyword", k=5))
    assert _ids(keyword_only) == ["n1"]


def test_queries_from_another_model_are_refused(loaded) -> None:
    with pytest.raises(ModelMismatch, match="newsmon index --rebuild"):
        engine.search(loaded, Query(tokens=("gcap",), vector=_vec(1, 0, 0, 0),
                                    model="other:model", mode="semantic"))
    with pytest.raises(ConfigError):
        Query(mode="fuzzy")


def test_facets_count_the_given_ids(loaded) -> None:
    f = loaded.facets(Filters(), ["a1", "j1", "j2", "missing"])
    assert f["lang"] == {"en": 1, "ja": 2}
    assert f["source"] == {"harbourline": 1, "tohto-shimbun": 2}
    assert f["topic"] == {"defence": 2, "cyber": 1}
    assert loaded.facets(Filters(lang="en"), ["a1", "j1"])["lang"] == {"en": 1}


def test_a_rebuild_replaces_the_index_without_an_empty_window(loaded) -> None:
    assert loaded.prepare(MODEL, 4) is False           # same model: incremental
    assert loaded.prepare(MODEL, 4, rebuild=True) is True
    loaded.upsert(DOCS[:3])                            # n1 and j2 left out of the new build
    assert loaded.count() >= 3                         # searches still see a full index
    assert loaded.get("n1") is not None
    loaded.finish()
    assert loaded.count() == 3 and loaded.get("n1") is None


def test_a_new_model_needs_a_full_build(loaded) -> None:
    assert loaded.prepare("other:model", 4) is True
    loaded.upsert([DOCS[0]])
    loaded.finish()
    assert loaded.model() == "other:model" and loaded.count() == 1


def test_stats(loaded) -> None:
    st = loaded.stats()
    assert st["documents"] == 5 and st["model"] == MODEL and st["backend"] == loaded.name


@pytest.mark.es
def test_elasticsearch_vectors_are_int8_quantised_and_rescored_to_exact_order(
        tmp_path, request) -> None:
    """A quarter of the vector memory, the ranking of exact cosine search: the int8 HNSW
    graph finds candidates, the float vectors order them (scores equal to the exact cosine)."""
    be = _open("elasticsearch", tmp_path, request)
    rng = np.random.default_rng(11)
    dim = 32
    base = rng.normal(size=(8, dim))
    vecs = base[rng.integers(0, 8, 300)] + rng.normal(scale=0.5, size=(300, dim))
    vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
    docs = [IndexDoc(id=f"v{i:03d}", url=f"http://x.example/v{i}", title=f"t{i}", body="b",
                     title_tokens=f"t{i}", body_tokens="b", source="harbourline", lang="en",
                     published=None, story=None, topics={}, entities=(), model="test:32d",
                     vector=v) for i, v in enumerate(vecs)]
    assert be.prepare("test:32d", dim) is True
    be.upsert(docs)
    be.finish()
    index = next(iter(be.es.indices.get_mapping(index=be.alias)))
    props = be.es.indices.get_mapping(index=be.alias)[index]["mappings"]["properties"]
    assert props["vector"]["index_options"]["type"] == "int8_hnsw"
    for q in rng.normal(size=(5, dim)):
        q = (q / np.linalg.norm(q)).astype(np.float32)
        exact = vecs @ q
        want = [f"v{i:03d}" for i in np.argsort(-exact)[:10]]
        hits = be.semantic(q, Filters(), 10)
        assert [h.id for h in hits] == want
        for h in hits:
            assert abs(h.score - float(exact[int(h.id[1:])])) < 1e-3


@pytest.mark.parametrize("filters", [Filters(), Filters(lang="ja"), Filters(topics=("defence",))])
def test_facets_counted_from_the_hits_equal_the_backends_facets(loaded, filters) -> None:
    """The Searcher counts facets from its hits' own fields (no extra round trip): the same
    counts as the backend's ``facets`` over those ids."""
    from newsmon.app.search import hit_facets

    hits = loaded.keyword(("gcap", "日英", "rare", "ramen", "協力"), filters, 10)
    hits += [h for h in loaded.semantic(_vec(1, 1, 1, 1), filters, 10)
             if h.id not in {x.id for x in hits}]
    assert hits
    assert hit_facets(hits) == loaded.facets(filters, [h.id for h in hits])


def test_language_fair_hybrid_lists_are_deep_enough_for_the_k_asked(backend) -> None:
    """The per-language semantic lists share the fused list's depth (two lists of ``depth``
    cost Elasticsearch 1.44x the raw search at 100k) but each stays at least ``k`` deep: where
    most results asked for are in one language, the answer is the one full-depth lists give."""
    from newsmon.index.search.fair import LangStats

    rng = np.random.default_rng(7)

    def near(*axis: float, spread: float) -> tuple[float, ...]:
        return tuple(np.asarray(axis, np.float32) + spread * rng.standard_normal(4))

    docs = [_doc(f"e{i:02d}", f"gcap fighter report {i}", f"gcap fighter news {i}",
                 vector=near(1, 0, 0, 0, spread=0.1), day=1 + i % 28) for i in range(16)]
    docs += [_doc(f"f{i:02d}", f"ramen review {i}", f"noodle shop {i}",
                  vector=near(0, 0, 0, 1, spread=0.1), day=1 + i % 28) for i in range(16)]
    docs += [_doc(f"j{i:02d}", f"天気 {i}", f"雪 天気 {i}", lang="ja",
                  vector=near(0, 0, 1, 0, spread=0.5), day=1 + i) for i in range(4)]
    assert backend.prepare(MODEL, 4) is True
    backend.upsert(docs)
    backend.finish()
    stats = LangStats.build((d.lang, d.vector) for d in docs)
    query = Query(tokens=("gcap", "fighter"), vector=_vec(1, 0, 0, 0), model=MODEL, k=12,
                  candidates=16, lang_stats=stats)
    got = engine.search(backend, query)

    lists = [backend.semantic(query.vector, Filters(lang=lang), 16) for lang in ("en", "ja")]
    full = engine.fuse_fair(backend.keyword(query.tokens, Filters(), 16),
                            engine._semantic_fair(lists, query, stats), 12)
    # more English results than a list of half the depth (8) holds
    assert sum(h.doc["lang"] == "en" for h in full) > 16 // 2
    assert _ids(got) == _ids(full)
