"""Source boilerplate memory: units, and the enrich pass on a real SQLite store (a new source's
first batch is cleaned by what the batch shows; a block learned later re-cleans and re-enriches
the articles already stored; the text as extracted can always be rebuilt)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsmon.enrich.boilerplate import BoilerplateRule, block_key, boilerplate_keys, clean, restore
from newsmon.enrich.pipeline import build_context, enrich_store
from newsmon.index.core.article import Article
from newsmon.index.core.settings import Settings
from tests.helpers.pgdb import open_test_store
from tests.test_enrich_pipeline import HashingEmbedder

TOPICS = [
    "横綱が引退を表明した。ひざのけがが回復しなかった。",
    "新潟市で初雪を観測した。平年より５日遅い。",
    "市長選で新人が初当選した。投票率は４１％だった。",
    "インフルエンザが流行シーズンに入った。例年より早い。",
    "新米の価格が高止まりしている。前年を３割上回った。",
    "県警がフィッシングへの注意を呼びかけた。被害が急増している。",
]
PROMO = "海岸日報デジタルなら、月額９８０円で全ての記事が読み放題です。"


def test_block_key_folds_width_case_space_and_digits_of_short_lines() -> None:
    assert block_key("　広告 ") == block_key("広告")
    assert block_key("ADVERTISEMENT") == block_key("Advertisement")
    assert block_key("2026年12月8日 19時10分") == block_key("２０２５年１月１５日 ９時０５分")
    long_a = "The committee met on 3 December to discuss the budget for the next year. " * 2
    long_b = long_a.replace("3 December", "4 December")
    assert block_key(long_a) != block_key(long_b)  # digits matter in a paragraph
    assert block_key("   ") == ""


def test_clean_and_restore_round_trip() -> None:
    text = f"first paragraph.\n\n広告\n\n{PROMO}\n\nsecond paragraph.\n\nCopyright (C) X"
    keys = {block_key("広告"), block_key(PROMO), block_key("Copyright (C) X")}
    cleaned, removed = clean(text, keys)
    assert cleaned == "first paragraph.\n\nsecond paragraph."
    assert {r["text"] for r in removed if r["text"]} == {"広告", PROMO, "Copyright (C) X"}
    assert restore(cleaned, removed) == text
    assert clean(cleaned, keys) == (cleaned, [])


def test_rule_needs_repeats_and_a_share_markers_always_count() -> None:
    rule = BoilerplateRule.build(3, 0.02, ["広告", "Advertisement"])
    assert rule.is_boilerplate(block_key("Advertisement"), 1, 1)
    assert not rule.is_boilerplate("x", 2, 10)
    assert rule.is_boilerplate("x", 3, 10)
    assert not rule.is_boilerplate("x", 3, 1000)  # 3 of 1000: not a template
    keys = boilerplate_keys({"x": 3, "y": 2}, 10, rule)
    assert "x" in keys and "y" not in keys and block_key("広告") in keys


def _article(n: int, promo: str | None, when: datetime) -> Article:
    title, body = f"記事{n}", TOPICS[n % len(TOPICS)]
    parts = [body.split("。")[0] + "。"]
    if promo:
        parts += ["広告", promo]
    parts += [body.split("。")[1] + "。", "Copyright (C) 海岸日報社"]
    url = f"http://kaigan.example/{n}.html"
    return Article(url=url, canonical_url=url, source="kaigan", lang="ja", title=title,
                   text="\n\n".join(parts), published=when + timedelta(hours=n))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def setup(request, tmp_path: Path):
    """Boilerplate memory over both stores of record."""
    settings = Settings()
    ctx = build_context(settings, embedder=HashingEmbedder())
    with open_test_store(request.param, tmp_path) as store:
        yield settings, ctx, store


def test_first_batch_of_a_new_source_is_cleaned_and_what_was_removed_is_kept(setup) -> None:
    settings, ctx, store = setup
    t0 = datetime(2026, 12, 8, tzinfo=UTC)
    originals = [_article(n, PROMO, t0) for n in range(4)]
    store.articles.upsert(originals)
    stats = enrich_store(settings, store, context=ctx)
    assert stats.failed == 0 and stats.boilerplate_cleaned == 4
    for orig in originals:
        art = store.articles.get(orig.id)
        assert PROMO not in art.text and "広告" not in art.text and "Copyright" not in art.text
        assert TOPICS[int(orig.title[2:]) % len(TOPICS)].split("。")[0] in art.text
        assert restore(art.text, art.boilerplate) == orig.text
    repo = store.boilerplate
    assert repo.total("kaigan") == 4
    assert any(b["sample"] == PROMO and b["articles"] == 4 for b in repo.blocks("kaigan"))
    # rerunning counts nothing twice and changes nothing
    again = enrich_store(settings, store, context=ctx)
    assert again.pending == 0 and repo.total("kaigan") == 4


def test_a_block_learned_later_recleans_and_reenriches_stored_articles(setup) -> None:
    settings, ctx, store = setup
    t0 = datetime(2026, 12, 8, tzinfo=UTC)
    other = "冬のギフトは産地直送の海岸マルシェで。"
    # run 1: the new promotion appears once only: not yet boilerplate
    first = [_article(0, other, t0), _article(1, None, t0), _article(2, None, t0)]
    store.articles.upsert(first)
    enrich_store(settings, store, context=ctx)
    assert other in store.articles.get(first[0].id).text
    # run 2: two more articles carry it: three of five now, so it is template
    second = [_article(3, other, t0), _article(4, other, t0)]
    store.articles.upsert(second)
    stats = enrich_store(settings, store, context=ctx)
    assert stats.boilerplate_recleaned == 1 and stats.failed == 0
    art = store.articles.get(first[0].id)
    assert other not in art.text and art.enrich_version == ctx.version
    assert restore(art.text, art.boilerplate) == first[0].text
    for a in second:
        assert other not in store.articles.get(a.id).text


FOOTER = "Copyright (C) 海岸日報社 無断転載・複製を禁じます"


def test_a_footer_every_page_shows_is_learned_though_it_leaks_only_into_short_pages(setup) -> None:
    """Issue 17: the footer stays out of the long pages' text and leaks into two short ones;
    the pages' template lines (every page shows it) teach the memory, whatever the length."""
    settings, ctx, store = setup
    t0 = datetime(2026, 12, 8, tzinfo=UTC)
    arts = []
    for n in range(7):
        art = _article(n, None, t0)
        lines = art.text.split("\n\n")[:-1]  # no copyright line from the helper
        if n < 2:
            lines = [lines[0], FOOTER]  # a short page: the footer leaked into the text
        art.text = "\n\n".join(lines)
        art.template = ["ホーム", "地域", FOOTER, "お問い合わせ"]
        arts.append(art)
    store.articles.upsert(arts)
    stats = enrich_store(settings, store, context=ctx)
    assert stats.failed == 0
    for orig in arts:
        art = store.articles.get(orig.id)
        assert FOOTER not in art.text
        assert TOPICS[int(orig.title[2:]) % len(TOPICS)].split("。")[0] in art.text
        assert restore(art.text, art.boilerplate) == orig.text
    assert any(b["sample"] == FOOTER and b["articles"] == 7 for b in store.boilerplate.blocks("kaigan"))


def test_without_template_lines_two_leaks_are_not_enough(setup) -> None:
    """The counterpart: counted from the text alone, the footer is under the threshold (what
    happened before the template lines were counted)."""
    settings, ctx, store = setup
    t0 = datetime(2026, 12, 8, tzinfo=UTC)
    arts = []
    for n in range(7):
        art = _article(n, None, t0)
        lines = art.text.split("\n\n")[:-1]
        art.text = "\n\n".join([lines[0], FOOTER] if n < 2 else lines)
        arts.append(art)
    store.articles.upsert(arts)
    enrich_store(settings, store, context=ctx)
    assert FOOTER in store.articles.get(arts[0].id).text
