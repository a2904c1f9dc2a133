"""An alert's "why" names whole words and phrases of the article (重要鉱物, 戦闘機, critical
minerals), not the index's pieces of words (重要, 鉱物, 機) that the search marks one by one.
Real store, real index, real search."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsmon.alerts.evaluate import Match, _why
from newsmon.alerts.rules import Rule
from newsmon.alerts.why import why_terms
from newsmon.app.indexing import index_store
from newsmon.app.search import Searcher, SearchRequest
from newsmon.app.settings import load_settings
from newsmon.index.core.article import Article, Stage
from newsmon.index.store import Store

JA = Article(url="https://shinbun.example/1", canonical_url="https://shinbun.example/1",
             source="jp", lang="ja", title="重要鉱物で日英が協力枠組み",
             text="日本と英国の両政府は12日、ロンドンで重要鉱物の供給網強化に向けた協力枠組みに"
                  "署名した。次期戦闘機の開発でも協力する。",
             published=datetime(2025, 3, 12, tzinfo=UTC), story="s1", stage=Stage.ENRICHED)
EN = Article(url="https://news.example/1", canonical_url="https://news.example/1", source="uk",
             lang="en", title="London and Tokyo agree minerals framework",
             text="London and Tokyo agree a critical minerals framework to secure battery "
                  "supply chains. The critical-minerals deal covers lithium.",
             published=datetime(2025, 3, 12, tzinfo=UTC), story="s2", stage=Stage.ENRICHED)


@pytest.fixture
def searcher(tmp_path: Path) -> Searcher:
    settings = load_settings(env={}).replace("data", dir=tmp_path / "data")
    with Store(settings.data.store_path) as store:
        store.articles.upsert([JA, EN])
        index_store(settings, store)
    return Searcher(settings)


@pytest.mark.parametrize("query, article, expected", [
    ("日英の重要鉱物協力と戦闘機", JA, ["重要鉱物", "協力", "戦闘機"]),
    ("critical minerals cooperation", EN, ["critical minerals", "critical-minerals"]),
])
def test_why_lists_whole_words_and_phrases(searcher: Searcher, query: str, article: Article,
                                           expected: list[str]) -> None:
    [hit] = [h for h in searcher.search(SearchRequest(query, mode="keyword", limit=5)).results
             if h.id == article.id]
    rule = Rule(id="r", query=query, mode="keyword")
    why = _why(Match(hit, 1.0), article, rule)
    assert why["terms"] == expected, (hit.snippet, hit.matched)


def test_why_terms_from_marks() -> None:
    # pieces side by side make one word; a piece inside a word stands for the word
    assert why_terms("<mark>日英</mark>の<mark>協力</mark>と次期戦闘<mark>機</mark>", []) == \
        ["日英", "協力", "戦闘機"]
    # escaped text is read as text; particles are no reason
    assert why_terms("a <mark>B&amp;Q</mark> <mark>deal</mark>s", []) == ["B&Q deals"]
    assert why_terms("<mark>の</mark>", []) == []
    # nothing marked: the hit's own pieces, particles left out
    assert why_terms("plain", ["GCAP", "は"]) == ["GCAP"]
