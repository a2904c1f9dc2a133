"""Source title affixes: learning and stripping units, and the enrich pass on a real SQLite store
(a new source's first batch is stripped by what the batch shows; an affix learned later
re-strips and re-enriches the articles already stored; the title as extracted can always be
rebuilt from what was removed)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsmon.enrich.pipeline import build_context, enrich_store, text_hash
from newsmon.enrich.title_affix import TitleAffixRule, learn, restore, segments, strip
from newsmon.index.core.article import Article
from newsmon.index.core.errors import ConfigError
from newsmon.index.core.settings import EnrichSettings, Settings
from tests.test_boilerplate import setup  # noqa: F401 - the store + context fixture
from tests.test_enrich_pipeline import HashingEmbedder

EN = ["Rates rise again", "Port strike ends after talks", "Ferry: a new route to the isles",
      "Japan - UK cyber pact signed", "Harbour lights festival returns"]
JA = ["日英、重要鉱物で枠組み合意", "横綱が引退を表明", "新潟市で初雪を観測", "市長選で新人が初当選"]


def _strip_all(titles: list[str], rule: TitleAffixRule = TitleAffixRule()) -> list[str]:
    affixes = learn(titles, rule)
    return [strip(t, affixes)[0] for t in titles]


def test_english_prefix_with_full_width_bar() -> None:
    titles = [f"Harbour Digest｜{h}" for h in EN]
    assert _strip_all(titles) == EN


def test_english_suffix_with_a_section_inside_it() -> None:
    sections = ["World", "Business", "World", "Sport", "Business"]
    titles = [f"{h} - {s} - The Daily Thing" for h, s in zip(EN, sections)]
    titles += [f"{h} - {s} - The Daily Thing" for h, s in zip(EN, ["Sport", "World", "Business", "Sport"])]
    out = _strip_all(titles)
    # the separator inside a headline survives (the title is cut, never rebuilt)
    assert out == EN + EN[:4]
    assert "Japan - UK cyber pact signed" in out


def test_japanese_prefix_and_suffix() -> None:
    pre = [f"北陸時事｜{h}" for h in JA]
    assert _strip_all(pre) == JA
    suf = [f"{h}：海岸日報" for h in JA]
    assert _strip_all(suf) == JA
    spaced = [f"{h} ・ 海岸日報デジタル" for h in JA]
    assert _strip_all(spaced) == JA
    # an unspaced ・ joins words, it separates nothing
    joined = [f"日英・{h}" for h in JA]
    assert _strip_all(joined) == joined


def test_a_segment_only_some_titles_share_is_not_an_affix() -> None:
    titles = ["Budget 2027: who pays", "Budget 2027: what changes", "Rates rise again",
              "Port strike ends", "Ferry: a new route", "Harbour lights return",
              "New mayor sworn in", "Storm closes the bridge", "Budget 2027: the winners"]
    affixes = learn(titles)
    assert not affixes
    assert _strip_all(titles) == titles
    # a section slot that few titles fill with recurring names is a headline kicker
    kicked = [f"{k} - {h} - The Daily Thing" for k, h in zip(
        ["Live", "Live", "Live", "Tax", "Cup", "Quake", "Rain", "Ports"], EN + EN[:3])]
    got = learn(kicked)
    assert got.suffix and not got.prefix
    assert strip(kicked[0], got)[0] == f"Live - {EN[0]}"


def test_a_source_with_one_or_two_articles_learns_nothing() -> None:
    for n in (1, 2):
        titles = [f"Harbour Digest｜{h}" for h in EN[:n]]
        assert not learn(titles)
        assert _strip_all(titles) == titles


def test_never_an_empty_title_and_restore_round_trips() -> None:
    titles = [f"Harbour Digest｜{h}" for h in EN] + ["Harbour Digest", "Harbour Digest｜"]
    affixes = learn(titles)
    assert strip("Harbour Digest", affixes) == ("Harbour Digest", {})
    assert strip("Harbour Digest｜", affixes) == ("Harbour Digest｜", {})
    assert strip("ＨＡＲＢＯＵＲ　ＤＩＧＥＳＴ ｜ Fog", affixes)[0] == "Fog"  # width, case
    for t in titles + ["Harbour Digest｜Harbour Digest"]:
        cleaned, removed = strip(t, affixes)
        assert cleaned.strip()
        assert restore(cleaned, removed) == t
    assert segments("") == []


def test_a_few_titles_with_a_separator_in_a_large_source_are_not_its_template() -> None:
    titles = [f"Live: {h}" for h in EN[:3]] + [f"Plain headline {i}" for i in range(20)]
    assert not learn(titles)  # 3 of 23 titles: below min_cover
    assert learn(titles, TitleAffixRule(min_cover=0.1)).prefix


def test_rule_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="title_affix_min_titles"):
        build_context(Settings(enrich=EnrichSettings(title_affix_min_titles=1)),
                      embedder=HashingEmbedder())
    with pytest.raises(ConfigError, match="title_affix_min_share"):
        build_context(Settings(enrich=EnrichSettings(title_affix_min_share=0.0)),
                      embedder=HashingEmbedder())


def _article(source: str, n: int, title: str, when: datetime) -> Article:
    url = f"http://{source}.example/{n}.html"
    body = (f"{title}. The harbour authority said on Monday that work number {n} would start "
            "next month.\n\nOfficials expect the project to take two years.")
    return Article(url=url, canonical_url=url, source=source, lang="en", title=title,
                   text=body, published=when + timedelta(hours=n))


def test_first_batch_of_a_new_source_is_stripped_and_what_was_removed_is_kept(setup) -> None:
    settings, ctx, store = setup
    t0 = datetime(2026, 12, 8, tzinfo=UTC)
    harbour = [_article("harbour", n, f"Harbour Digest｜{h}", t0) for n, h in enumerate(EN)]
    # another source: two titles share a kicker, too few to be its template
    other = [_article("other", 10 + n, t, t0) for n, t in enumerate(
        ["Budget 2027: who pays", "Budget 2027: what changes", "Rates rise again"])]
    store.articles.upsert(harbour + other)
    stats = enrich_store(settings, store, context=ctx)
    assert stats.failed == 0 and stats.titles_cleaned == len(EN)
    assert stats.enriched == len(harbour) + len(other)
    for orig, headline in zip(harbour, EN):
        art = store.articles.get(orig.id)
        assert art.title == headline
        assert art.title_affix == {"prefix": "Harbour Digest｜"}
        assert restore(art.title, art.title_affix) == orig.title
        assert art.enrich_version == ctx.version
        # the embedding was made from the stripped title
        assert store.vectors.embedding_hashes([art.id], ctx.embedder.name)[art.id] == \
            text_hash(art, settings.enrich)
        row = store._db.execute("SELECT title FROM articles WHERE id=?", (art.id,)).fetchone()
        assert row[0] == headline
    for orig in other:
        art = store.articles.get(orig.id)
        assert art.title == orig.title and art.title_affix == {}
    again = enrich_store(settings, store, context=ctx)
    assert again.pending == 0


def test_an_affix_learned_later_restrips_and_reenriches_stored_articles(setup) -> None:
    settings, ctx, store = setup
    t0 = datetime(2026, 12, 8, tzinfo=UTC)
    first = [_article("daily", n, f"{h} - The Daily Thing", t0) for n, h in enumerate(EN[:2])]
    store.articles.upsert(first)
    stats = enrich_store(settings, store, context=ctx)
    assert stats.titles_cleaned == 0  # two titles: nothing learned yet
    assert store.articles.get(first[0].id).title == first[0].title
    second = [_article("daily", n, f"{h} - The Daily Thing", t0)
              for n, h in enumerate(EN[2:], start=2)]
    store.articles.upsert(second)
    stats = enrich_store(settings, store, context=ctx)
    assert stats.failed == 0
    assert stats.titles_cleaned == len(second) and stats.titles_recleaned == len(first)
    for orig, headline in zip(first + second, EN):
        art = store.articles.get(orig.id)
        assert art.title == headline and art.title_affix == {"suffix": " - The Daily Thing"}
        assert art.enrich_version == ctx.version
        assert store.vectors.embedding_hashes([art.id], ctx.embedder.name)[art.id] == \
            text_hash(art, settings.enrich)
    # a re-crawl stores the title as extracted again: it is stripped again, nothing else moves
    store.articles.upsert([first[0]])
    stats = enrich_store(settings, store, context=ctx)
    assert stats.pending == 1 and stats.titles_cleaned == 1 and stats.titles_recleaned == 0
    assert store.articles.get(first[0].id).title == EN[0]
