"""Issue 17: preview against outcome, and reactions of different parties, as story signals.
Headlines and leads written for these tests (the devset and held-out sets measure the signals
end to end: bench/story_signals.py)."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np

from newsmon.enrich.entities import find_entities, load_gazetteer
from newsmon.enrich.pipeline import resolve_config_path
from newsmon.enrich.stories import JOIN_SIMILAR, NEW_STORY, StoryAssigner, StoryParams
from newsmon.enrich.story_phase import (
    OUTCOME,
    PREVIEW,
    event_day,
    event_phase,
    is_reaction,
    other_party,
    reacting_party,
)
from newsmon.index.core.settings import Settings
from tests.test_stories import item, unit

PUB = datetime(2026, 11, 12, 9, 0, tzinfo=UTC)


def test_preview_and_outcome_in_english() -> None:
    assert event_phase("Starmer to sign cyber pact on Tokyo visit",
                       "The prime minister will sign the agreement on Friday.", "en", PUB) == PREVIEW
    assert event_phase("Leaders expected to agree minerals framework at summit",
                       "Officials said the deal is expected to be signed ahead of the summit.", "en",
                       PUB) == PREVIEW
    assert event_phase("Japan, UK sign cyber and minerals deals",
                       "Japan and Britain signed agreements on Friday.", "en", PUB) == OUTCOME
    assert event_phase("Leaders agree on minerals framework",
                       "The two leaders agreed the framework after talks.", "en", PUB) == OUTCOME
    # the event's date against the publication date decides where the words do not
    assert event_phase("Minerals framework: the details", "The framework is on the table on 15 November.",
                       "en", PUB) == PREVIEW
    assert event_phase("Minerals framework: the details", "The framework was put on 10 November.",
                       "en", PUB) == OUTCOME
    assert event_phase("Storm brings gales", "Gales hit the coast.", "en", PUB) is None


def test_preview_and_outcome_in_japanese() -> None:
    assert event_phase("日英首脳、あす会談へ　重要鉱物で協力文書に署名",
                       "高市首相は１３日、英国のスターマー首相と会談する予定だ。", "ja", PUB) == PREVIEW
    assert event_phase("日英首脳会談、重要鉱物で合意の見通し",
                       "両首脳は協力文書に署名する見通しだ。", "ja", PUB) == PREVIEW
    assert event_phase("日英首脳、重要鉱物で協力文書に署名",
                       "高市首相は１１日、スターマー首相と会談し、協力文書に署名した。", "ja", PUB) == OUTCOME
    assert event_phase("台風が接近", "沖縄で風が強まった。", "ja", PUB) is None


def _entities_of(lang: str):
    settings = Settings()
    gazetteer = load_gazetteer(resolve_config_path(settings.enrich.entities, settings))
    return lambda text: [e["id"] for e in find_entities(text, "", lang, gazetteer)]


def test_reacting_party_names_who_reacts() -> None:
    en, ja = _entities_of("en"), _entities_of("ja")
    china_en = reacting_party("China criticises Japan-UK minerals pact", "en", en)
    china_ja = reacting_party("中国外務省、日英の鉱物協力を批判", "ja", ja)
    assert "country/cn" in china_en and "country/cn" in china_ja  # the ministry counts for China
    assert not other_party(china_en, china_ja)
    business_gb = reacting_party("British businesses welcome minerals pact with Japan", "en", en)
    assert business_gb == {"country/gb", "kind:business"}
    government_jp = reacting_party("Japan's foreign ministry welcomes minerals pact", "en", en)
    assert "country/jp" in government_jp and "kind:government" in government_jp
    assert other_party(business_gb, government_jp)
    assert other_party(china_en, business_gb)  # another country
    # no reaction verb: no party; an unnamed party is no evidence either way
    assert reacting_party("Japan, UK sign minerals pact", "en", en) == frozenset()
    assert not other_party(frozenset(), china_en)
    assert not other_party(reacting_party("経済界、日英の重要鉱物協力を歓迎", "ja", ja), business_gb)


def test_margins_keep_preview_and_outcome_and_other_parties_apart() -> None:
    # cosine 0.95: above the threshold (0.9), below it plus a margin of 0.1
    a_vec, b_vec = unit(1, 0), unit(0.95, np.sqrt(1 - 0.95 ** 2))
    params = StoryParams(same_lang=0.9, cross_lang=0.8, phase_margin=0.1, party_margin=0.1)

    def run(first: dict, second: dict) -> str:
        assigner = StoryAssigner(params)
        one, two = item("a1", "en", 0, [a_vec]), item("a2", "en", 1, [b_vec])
        for it, attrs in ((one, first), (two, second)):
            for key, value in attrs.items():
                setattr(it, key, value)
        assigner.assign(one)
        return assigner.assign(two).how

    assert run({"phase": PREVIEW}, {"phase": OUTCOME}) == NEW_STORY
    assert run({"phase": OUTCOME}, {"phase": OUTCOME}) == JOIN_SIMILAR
    assert run({"phase": PREVIEW}, {"phase": None}) == JOIN_SIMILAR
    cn, gb = frozenset({"country/cn"}), frozenset({"country/gb", "kind:business"})
    assert run({"party": cn}, {"party": gb}) == NEW_STORY
    assert run({"party": cn}, {"party": cn}) == JOIN_SIMILAR
    assert run({"party": cn}, {}) == JOIN_SIMILAR


JST = timezone(timedelta(hours=9))


def test_event_day_in_both_languages() -> None:
    thursday = datetime(2026, 11, 12, 18, 0, tzinfo=JST)  # a Thursday, in the site's own zone
    assert event_day("両国の外相は１１日、ソウルで会談し、共同声明を出した。", "ja", thursday) == date(2026, 11, 11)
    assert event_day("日本銀行は１２日の決定会合で利下げを決めた。", "ja", thursday) == date(2026, 11, 12)
    assert event_day("両首相はあす、東京で会談する。", "ja", thursday) == date(2026, 11, 13)
    assert event_day("The central bank cut its rate on Thursday.", "en", thursday) == date(2026, 11, 12)
    assert event_day("Talks resume on 20 November in Geneva.", "en", thursday) == date(2026, 11, 20)
    # another weekday is ahead in a preview and behind in a report: not read
    assert event_day("Ministers meet on Monday.", "en", thursday) is None
    assert event_day("Gales hit the coast.", "en", thursday) is None
    assert event_day("本文", "ja", None) is None


def test_an_event_on_the_publication_day_takes_its_phase_from_the_tense() -> None:
    # a meeting that opens the day the report appears is ahead of its decision: the date used
    # to read as the outcome by itself
    assert event_phase("中央銀行、きょうから政策会合　利下げの判断焦点",
                       "中央銀行は１２日から２日間の日程で政策会合を開く。利下げに踏み切るかどうかが焦点だ。",
                       "ja", PUB) == PREVIEW
    assert event_phase("中央銀行、政策金利を０．５％に引き下げ",
                       "中央銀行は１２日の政策会合で、政策金利を０．５％に引き下げることを決めた。",
                       "ja", PUB) == OUTCOME
    assert event_phase("Central bank lowers its main rate to 2.5%",
                       "The central bank lowered its main rate on Thursday, its first cut this year.",
                       "en", PUB) == OUTCOME
    assert event_phase("Central bank expected to lower rates this week",
                       "Most economists expect the bank to decide whether to cut on Thursday.",
                       "en", PUB) == PREVIEW


def test_reaction_headlines() -> None:
    assert is_reaction("Exporters welcome the new customs deal", "en")
    assert is_reaction("韓国政府、日英の合意に懸念", "ja")
    assert not is_reaction("Exporters sign the new customs deal", "en")
    assert not is_reaction("日英、関税手続きで合意", "ja")


def test_cross_language_reports_of_one_event_join_with_the_bonus() -> None:
    # cosine 0.75: under the cross-language threshold (0.8), within a bonus of 0.1
    a_vec, b_vec = unit(1, 0), unit(0.75, np.sqrt(1 - 0.75 ** 2))
    params = StoryParams(same_lang=0.9, cross_lang=0.8, cross_event_bonus=0.1)
    day = date(2026, 11, 11)
    same = {"phase": OUTCOME, "anchors": frozenset({"e:programme/gcap"}), "day": day}

    def run(first: dict, second: dict, second_lang: str = "ja") -> str:
        assigner = StoryAssigner(params)
        one, two = item("a1", "en", 0, [a_vec]), item("a2", second_lang, 1, [b_vec])
        for it, attrs in ((one, first), (two, second)):
            for key, value in attrs.items():
                setattr(it, key, value)
        assigner.assign(one)
        return assigner.assign(two).how

    assert run(same, same) == JOIN_SIMILAR
    assert run(same, {**same, "day": None}) == JOIN_SIMILAR  # one lead gives no date
    assert run(same, same, second_lang="en") == NEW_STORY  # one language: no bonus
    assert run(same, {**same, "day": date(2026, 11, 12)}) == NEW_STORY
    assert run(same, {**same, "phase": PREVIEW}) == NEW_STORY
    assert run(same, {**same, "phase": None}) == NEW_STORY
    assert run(same, {**same, "reaction": True}) == NEW_STORY
    assert run(same, {**same, "anchors": frozenset({"n:120"})}) == NEW_STORY  # a number only
    assert run({**same, "phase": PREVIEW}, {**same, "phase": PREVIEW}) == JOIN_SIMILAR
