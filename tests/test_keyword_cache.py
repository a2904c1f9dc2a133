"""The embedded backend's in-memory BM25 cache (index/keyword_cache.py) answers keyword queries
exactly as FTS5 does — the same documents in the same order with the same scores — on the
devset's English and Japanese articles, with filters; it is never used while stale, and
tokens that FTS5 reads as phrases are left to FTS5."""
from __future__ import annotations

import json
import math
from datetime import datetime

import numpy as np
import pytest

from newsmon.app.searchtext import query_tokens
from newsmon.enrich.text import normalize, tokenize
from newsmon.index.search.backend import Filters, IndexDoc
from newsmon.index.search.embedded import EmbeddedBackend
from newsmon.index.search.keyword_cache import KeywordCache, fts_terms, single_term
from newsmon.index.store import Store

pytestmark = pytest.mark.shared("devset/articles.jsonl", "devset/queries.jsonl")

MODEL = "test:4d"


def _docs(devset_dir) -> list[IndexDoc]:
    out = []
    rng = np.random.default_rng(3)
    for line in (devset_dir / "articles.jsonl").read_text("utf-8").splitlines():
        r = json.loads(line)
        lang = r["lang"]
        # each article twice with its paragraphs in another order and cut: more documents,
        # different lengths, the same vocabulary
        paras = [p for p in r["text"].split("\n\n") if p.strip()]
        for copy, body in enumerate((paras, paras[::-1][:max(1, len(paras) // 2)])):
            text = normalize("\n\n".join(body))
            v = rng.normal(size=4).astype(np.float32)
            out.append(IndexDoc(
                id=f"{r['id']}-{copy}", url=f"{r['url']}?c={copy}", title=r["title"], body=text,
                title_tokens=" ".join(tokenize(normalize(r["title"]), lang)),
                body_tokens=" ".join(tokenize(text, lang)), source=r["source"], lang=lang,
                published=datetime.fromisoformat(r["published"]), story=None,
                topics={t: 0.8 for t in r.get("topics", [])}, entities=(), model=MODEL,
                vector=v / np.linalg.norm(v)))
    return out


@pytest.fixture(scope="module")
def backends(devset_dir, tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("kw") / "kw.db")
    fts = EmbeddedBackend(store)
    fts.prepare(MODEL, 4)
    fts.upsert(_docs(devset_dir))
    fts.finish()
    cached = EmbeddedBackend(store, keyword_cache=True, build_in_background=False)
    yield store, fts, cached
    store.close()


def _queries(devset_dir) -> list[str]:
    qs = [json.loads(x)["text"] for x in
          (devset_dir / "queries.jsonl").read_text("utf-8").splitlines() if x.strip()]
    return qs + ["GCAP", "日英 次期戦闘機", "the and of", "rare earths rare earths"]


def _same(a, b) -> None:
    """Same scores at every rank; the same documents, except that documents whose scores
    agree to 1e-9 (a tie, up to float rounding) may swap places, and a tie cut at k may keep
    different members."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert math.isclose(x.score, y.score, rel_tol=1e-9, abs_tol=1e-12), (x.id, y.id)
    groups: list[list[int]] = []
    for i, h in enumerate(a):
        if groups and math.isclose(a[groups[-1][0]].score, h.score, rel_tol=1e-9):
            groups[-1].append(i)
        else:
            groups.append([i])
    for g in groups[:-1]:
        assert {a[i].id for i in g} == {b[i].id for i in g}


@pytest.mark.parametrize("filters", [
    Filters(), Filters(lang="ja"), Filters(lang="en"),
    Filters(sources=("harbourline",)),
    Filters(since=datetime.fromisoformat("2026-11-14T00:00:00+00:00")),
    Filters(topics=("minerals",), min_topic_score=0.5),
], ids=["none", "ja", "en", "source", "since", "topic"])
def test_cache_ranks_exactly_as_fts5(backends, devset_dir, filters: Filters) -> None:
    _, fts, cached = backends
    compared = 0
    for q in _queries(devset_dir):
        tokens = query_tokens(q)
        for k in (10, 100):
            a, b = fts.keyword(tokens, filters, k), cached.keyword(tokens, filters, k)
            _same(a, b)
            compared += bool(a)
    assert compared >= 20
    assert cached._kw is not None  # the cache, not FTS5, answered


def test_a_stale_cache_is_never_used(backends) -> None:
    store, fts, cached = backends
    cached.keyword(("gcap",), Filters(), 5)
    built = cached._kw
    assert built is not None and built.version == cached.version()
    doc = IndexDoc(id="zz-new", url="http://x.example/zz", title="zzquux", body="zzquux gcap",
                   title_tokens="zzquux", body_tokens="zzquux gcap", source="harbourline",
                   lang="en", published=None, story=None, topics={}, entities=(), model=MODEL,
                   vector=np.asarray([1, 0, 0, 0], np.float32))
    fts.upsert([doc])
    try:
        # a background searcher answers from FTS5 at once while its cache rebuilds
        background = EmbeddedBackend(store, keyword_cache=True)
        background._kw = built  # as if built before the upsert
        assert [h.id for h in background.keyword(("zzquux",), Filters(), 5)] == ["zz-new"]
        background.warm(wait=True)
        assert background._kw is not None and background._kw.version == fts.version()
        assert [h.id for h in background.keyword(("zzquux",), Filters(), 5)] == ["zz-new"]
        assert [h.id for h in cached.keyword(("zzquux",), Filters(), 5)] == ["zz-new"]
    finally:
        fts.delete(["zz-new"])


def test_tokens_fts5_reads_as_phrases_are_left_to_fts5(backends) -> None:
    _, fts, cached = backends
    assert single_term("f-35") is None and single_term("GCAP") == "gcap"
    assert single_term("c++") == "c++" and fts_terms("Rare-Earth 日英") == ["rare", "earth", "日英"]
    for tokens in (("f-35", "gcap"), ("u.k.", "japan"), ('"', "*", "gcap")):
        _same(fts.keyword(tokens, Filters(), 20), cached.keyword(tokens, Filters(), 20))


def test_an_index_without_tokens_matches_nothing() -> None:
    # the mean document length is 0 there: nothing may be divided by it
    rows = [(1, "a", None, "s", None, "{}", "[]", "", ""),
            (2, "b", "en", "s", None, "{}", "[]", None, None)]
    cache = KeywordCache.build(1, rows, 2.0)
    assert cache.avgdl == 0.0
    assert cache.search(["x"], None, 5) == []
    assert KeywordCache.build(1, [], 2.0).search(["x"], None, 5) == []
