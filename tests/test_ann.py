"""The embedded backend's ANN graphs (index/search/ann.py) on real SQLite stores: recall against
exact search above the size threshold, incremental upserts and deletes, and files that are
stale, torn or foreign being detected and rebuilt."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from newsmon.index.search.ann import AnnParams
from newsmon.index.search.backend import Filters, IndexDoc
from newsmon.index.search.embedded import EmbeddedBackend
from newsmon.index.store import Store

MODEL = "test:ann-32d"
DIM = 32
N = 3000
THRESHOLD = 1000
SOURCES = ("harbourline", "tohto-shimbun", "lowland-post")


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def _doc(i: int, vector: np.ndarray, *, lang: str | None = None, source: str | None = None,
         model: str = MODEL) -> IndexDoc:
    lang = lang or ("en", "ja")[i % 2]
    return IndexDoc(id=f"d{i:05d}", url=f"http://x.example/{i}", title=f"doc {i}",
                    body=f"body {i}", title_tokens=f"doc {i}", body_tokens=f"body {i}",
                    source=source or SOURCES[i % 3], lang=lang,
                    published=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=i),
                    story=None, topics={}, entities=(), model=model, vector=vector)


def _corpus(n: int = N, seed: int = 3) -> tuple[list[IndexDoc], np.ndarray]:
    """Clustered vectors (40 centres plus noise), as stories cluster in a real embedding;
    and 30 queries near random centres."""
    rng = np.random.default_rng(seed)
    centres = _unit(rng.normal(size=(40, DIM)))
    vecs = _unit(centres[rng.integers(0, 40, n)] + rng.normal(0, 0.15, (n, DIM)))
    queries = _unit(centres[rng.integers(0, 40, 30)] + rng.normal(0, 0.15, (30, DIM)))
    return [_doc(i, vecs[i]) for i in range(n)], queries


# both engines, sized so that at this scale the search is approximate: IVF scans 8 of about
# 30 cells per language, HNSW's search keeps fewer candidates than a language holds
ENGINES = {"faiss-ivf": ("faiss", AnnParams(engine="faiss-ivf", per_list=50, nprobe=8)),
           "usearch-hnsw": ("usearch.index", AnnParams(engine="usearch-hnsw"))}


@pytest.fixture(params=sorted(ENGINES))
def params(request) -> AnnParams:
    module, params = ENGINES[request.param]
    pytest.importorskip(module)
    return params


@pytest.fixture
def filled(tmp_path, params):
    store = Store(tmp_path / "ann.db")
    docs, queries = _corpus()
    writer = EmbeddedBackend(store, ann_min_docs=None)
    writer.prepare(MODEL, DIM)
    writer.upsert(docs)
    writer.finish()
    yield store, docs, queries
    store.close()


def _ann(store: Store, params: AnnParams) -> EmbeddedBackend:
    return EmbeddedBackend(store, ann_min_docs=THRESHOLD, ann_params=params)


def _ids(hits) -> list[str]:
    return [h.id for h in hits]


@pytest.mark.parametrize("exact_below", [20_000, 100], ids=["small-filter-exact",
                                                          "filter-after-graph"])
def test_ann_recall_against_exact_search(filled, params, monkeypatch, exact_below) -> None:
    """A filter other than language is applied to the graph's (oversampled) candidates, or,
    when it keeps fewer rows than ANN_EXACT_BELOW, answered exactly over those rows."""
    from newsmon.index.search import embedded

    monkeypatch.setattr(embedded, "ANN_EXACT_BELOW", exact_below)
    store, _, queries = filled
    exact = EmbeddedBackend(store, ann_min_docs=None)
    ann = _ann(store, params)
    for f in (Filters(), Filters(lang="ja"), Filters(sources=("harbourline", "tohto-shimbun")),
              Filters(lang="en", sources=("lowland-post",))):
        recalls = []
        for q in queries:
            want = exact.semantic(q, f, 10)
            asked = ann._ann.queries if ann._ann is not None else 0
            got = ann.semantic(q, f, 10)
            # answered by the graphs, unless a filter keeps fewer rows than the threshold
            assert ann._ann is not None
            assert ann._ann.queries == asked + (f.sources == () or exact_below == 100)
            assert all(h.doc["source"] in f.sources for h in got if f.sources)
            recalls.append(len(set(_ids(want)) & set(_ids(got))) / len(want))
            # candidates are re-ranked on the exact vectors: what both found scores the same
            scores = {h.id: h.score for h in want}
            assert all(h.score == pytest.approx(scores[h.id], abs=1e-6)
                       for h in got if h.id in scores)
            assert all(h.doc["lang"] == f.lang for h in got if f.lang)
        assert np.mean(recalls) >= 0.95, (f, np.mean(recalls))
    assert ann.ann_report is not None and sorted(ann.ann_report.rebuilt) == ["en", "ja"]
    assert ann.stats()["ann"]["languages"] == {"en": N // 2, "ja": N // 2}
    # the language-fair lists: one graph query per language, each list of its language only
    en, ja = ann.semantics(queries[0], [Filters(lang="en"), Filters(lang="ja")], 20)
    assert {h.doc["lang"] for h in en} == {"en"} and {h.doc["lang"] for h in ja} == {"ja"}


def test_below_the_threshold_search_stays_exact(filled, params, tmp_path) -> None:
    store, _, queries = filled
    small = EmbeddedBackend(store, ann_min_docs=N + 1)
    exact = EmbeddedBackend(store, ann_min_docs=None)
    assert _ids(small.semantic(queries[0], Filters(), 10)) == \
        _ids(exact.semantic(queries[0], Filters(), 10))
    assert small.ann_report is None and not (tmp_path / "ann.db.ann").exists()


def test_graph_files_are_reused_and_patched_with_what_changed(filled, params, tmp_path) -> None:
    store, docs, queries = filled
    _ann(store, params).semantic(queries[0], Filters(), 10)
    files = sorted(p.name for p in (tmp_path / "ann.db.ann").iterdir())
    assert files == ["en.ann", "ja.ann"]

    again = _ann(store, params)             # another process: reads the files, builds nothing
    again.semantic(queries[0], Filters(), 10)
    assert again.ann_report.rebuilt == [] and sorted(again.ann_report.loaded) == ["en", "ja"]
    assert (again.ann_report.added, again.ann_report.removed) == (0, 0)

    # a new article right on the query: the next query finds it, one vector added, no rebuild
    again.upsert([_doc(N, queries[1], lang="en", source="newcomer")])
    hits = again.semantic(queries[1], Filters(), 10)
    assert hits[0].id == f"d{N:05d}" and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert (again.ann_report.added, again.ann_report.removed, again.ann_report.rebuilt) == \
        (1, 0, [])
    # a changed vector is a changed row: its old node goes, the new one comes
    moved = docs[5]
    again.upsert([_doc(5, queries[2], lang=moved.lang, source=moved.source)])
    assert again.semantic(queries[2], Filters(), 1)[0].id == "d00005"
    assert (again.ann_report.added, again.ann_report.removed) == (1, 1)
    # deletes: by id, and a whole source
    again.delete([f"d{N:05d}"])
    assert f"d{N:05d}" not in _ids(again.semantic(queries[1], Filters(), 10))
    assert again.ann_report.removed == 1
    # a removed source: its rows leave the graphs one by one...
    rng = np.random.default_rng(5)
    extra = _unit(queries[3] + rng.normal(0, 0.05, (50, DIM)))
    again.upsert([_doc(N + 10 + i, extra[i], source="newcomer") for i in range(50)])
    assert {h.doc["source"] for h in again.semantic(queries[3], Filters(), 20)} == {"newcomer"}
    assert again.delete_source("newcomer") == 50
    assert "newcomer" not in {h.doc["source"] for h in again.semantic(queries[3], Filters(), 50)}
    assert (again.ann_report.removed, again.ann_report.rebuilt) == (50, [])
    # the patched graphs (with their removed nodes) were written and read back as they are
    later = _ann(store, params)
    assert _ids(later.semantic(queries[3], Filters(), 10)) == \
        _ids(again.semantic(queries[3], Filters(), 10))
    assert later.ann_report.rebuilt == [] and later.ann_report.added == 0
    # ...unless so many go that the graph would be mostly tombstones: then it is rebuilt
    again.delete_source("lowland-post")
    for q in queries[:5]:
        assert "lowland-post" not in {h.doc["source"] for h in again.semantic(q, Filters(), 50)}
    assert sorted(again.ann_report.rebuilt) == ["en", "ja"]
    assert again.stats()["ann"]["rebuilds"] == {"many rows removed": 2}


def test_changes_made_by_another_process_are_found_in_the_file(filled, params, tmp_path) -> None:
    """A writer without the graphs in memory (`newsmon index` while `serve` runs, or a writer
    killed before it saved the graphs): the reader's next sync finds the difference."""
    store, _, queries = filled
    _ann(store, params).semantic(queries[0], Filters(), 10)          # files written
    plain = EmbeddedBackend(store, ann_min_docs=None)
    plain.upsert([_doc(N + 1, queries[3], lang="ja")])
    plain.delete(["d00000", "d00001"])
    reader = _ann(store, params)
    assert reader.semantic(queries[3], Filters(lang="ja"), 1)[0].id == f"d{N + 1:05d}"
    assert (reader.ann_report.added, reader.ann_report.removed) == (1, 2)
    assert reader.ann_report.rebuilt == []


@pytest.mark.parametrize("damage", ["truncated", "garbage", "flipped byte", "empty"])
def test_a_damaged_file_is_detected_and_rebuilt(filled, params, tmp_path, damage) -> None:
    store, _, queries = filled
    exact = EmbeddedBackend(store, ann_min_docs=None)
    want = _ids(exact.semantic(queries[0], Filters(lang="en"), 10))
    _ann(store, params).semantic(queries[0], Filters(), 10)
    path = tmp_path / "ann.db.ann" / "en.ann"
    data = bytearray(path.read_bytes())
    if damage == "truncated":      # a copy or a write cut short
        data = data[:len(data) * 2 // 3]
    elif damage == "garbage":
        data = bytearray(b"not a graph" * 100)
    elif damage == "flipped byte":  # inside the graph itself, past the header
        data[-100] ^= 0xFF
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    reader = _ann(store, params)
    got = _ids(reader.semantic(queries[0], Filters(lang="en"), 10))
    assert reader.ann_report.rebuilt == ["en"] and reader.ann_report.loaded == ["ja"]
    assert reader.stats()["ann"]["rebuilds"] == {"unusable file": 1}
    assert len(set(got) & set(want)) >= 9
    # the rebuilt graph was written back whole: the next reader loads it
    third = _ann(store, params)
    third.semantic(queries[0], Filters(), 10)
    assert third.ann_report.rebuilt == []


def test_a_file_of_another_model_is_rebuilt(filled, params, tmp_path) -> None:
    store, docs, queries = filled
    _ann(store, params).semantic(queries[0], Filters(), 10)
    # the index rebuilt for another model of the same dimension: every vector is new
    other = _ann(store, params)
    assert other.prepare("test:other-32d", DIM, rebuild=True)
    rng = np.random.default_rng(9)
    fresh = _unit(rng.normal(size=(N, DIM)))
    other.upsert([_doc(i, fresh[i], model="test:other-32d") for i in range(N)])
    other.finish()
    hits = other.semantic(fresh[7], Filters(), 1)
    assert hits[0].id == "d00007"
    assert sorted(other.ann_report.rebuilt) == ["en", "ja"]
    assert other.stats()["ann"]["rebuilds"] == {"unusable file": 2}


def test_a_torn_write_leaves_the_old_file_in_place(filled, params, tmp_path, monkeypatch) -> None:
    """The file is written to a temporary name and renamed: a write that fails midway (here:
    the disk fills) leaves the previous file, which the next sync patches."""
    store, _, queries = filled
    ann = _ann(store, params)
    ann.semantic(queries[0], Filters(), 10)
    before = (tmp_path / "ann.db.ann" / "ja.ann").read_bytes()
    EmbeddedBackend(store, ann_min_docs=None).upsert([_doc(N + 2, queries[4], lang="ja")])

    import os as _os

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_os, "replace", full)
    with pytest.raises(OSError):
        ann.sync_ann()
    monkeypatch.undo()
    assert (tmp_path / "ann.db.ann" / "ja.ann").read_bytes() == before
    assert not list((tmp_path / "ann.db.ann").glob("*.tmp"))
    reader = _ann(store, params)
    assert reader.semantic(queries[4], Filters(lang="ja"), 1)[0].id == f"d{N + 2:05d}"
    assert reader.ann_report.added == 1 and reader.ann_report.rebuilt == []


def test_without_the_library_search_stays_exact_and_says_so(filled, params, tmp_path,
                                                            monkeypatch, caplog) -> None:
    import sys

    store, _, queries = filled
    module = ENGINES[params.engine][0].split(".")[0]
    monkeypatch.setitem(sys.modules, module, None)       # `import faiss` raises ImportError
    exact = EmbeddedBackend(store, ann_min_docs=None)
    ann = _ann(store, params)
    with caplog.at_level("WARNING"):
        assert _ids(ann.semantic(queries[0], Filters(), 10)) == \
            _ids(exact.semantic(queries[0], Filters(), 10))
    assert ann.ann_report is None and not (tmp_path / "ann.db.ann").exists()
    assert any("is not installed: exact search answers" in r.getMessage() for r in caplog.records)
