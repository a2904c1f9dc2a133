"""MinHash near-duplicates and story assignment, on small hand-made cases (no model needed)."""
from __future__ import annotations

import numpy as np
import pytest

from newsmon.enrich.minhash import MinHasher, from_bytes, shingles, similarity, to_bytes
from newsmon.enrich.stories import (
    JOIN_DUPLICATE,
    JOIN_SIMILAR,
    NEW_STORY,
    LanguageMeans,
    StoryAssigner,
    StoryItem,
    StoryParams,
    alignment,
    anchors,
    body_vectors,
    center,
    is_opinion,
)

EN = ("Britain and Japan signed a package of agreements on Friday covering cyber security, "
      "critical minerals and a jointly developed fighter jet, in what officials called the "
      "broadest upgrade of their security relationship in a decade. The leaders met in Tokyo "
      "for talks that ran almost an hour over schedule, aides said.")
EN_EDITED = EN.replace("Friday", "Friday evening").replace("aides said", "officials said") \
    .replace("developed", "built")
EN_OTHER = ("Heavy rain from the typhoon flooded homes across Okinawa on Tuesday, and airlines "
            "cancelled more than two hundred flights as the storm moved north towards Kyushu.")
JA = ("日英両政府は13日、サイバー安全保障、重要鉱物、次期戦闘機の共同開発に関する合意文書に署名した。"
      "両首脳は東京で会談し、安全保障関係を大きく引き上げると表明した。")
JA_EDITED = JA.replace("13日", "１３日").replace("表明した", "強調した")
JA_OTHER = "台風の大雨で沖縄の住宅が浸水し、航空各社は２００便以上を欠航した。"


@pytest.fixture(scope="module")
def hasher() -> MinHasher:
    return MinHasher(128)


def sig(hasher: MinHasher, text: str, lang: str) -> np.ndarray:
    return hasher.signature(shingles("", text, lang))


def test_minhash_sees_small_edits_as_near_duplicates(hasher: MinHasher) -> None:
    assert similarity(sig(hasher, EN, "en"), sig(hasher, EN, "en")) == 1.0
    assert similarity(sig(hasher, EN, "en"), sig(hasher, EN_EDITED, "en")) >= 0.5
    assert similarity(sig(hasher, EN, "en"), sig(hasher, EN_OTHER, "en")) < 0.1


def test_minhash_japanese_uses_character_ngrams(hasher: MinHasher) -> None:
    # no spaces in Japanese: word shingles would make one giant token; character 3-grams work,
    # and full-width digits (NFKC) do not count as an edit
    grams = shingles("", JA, "ja")
    assert "サイバ" in grams and len(grams) > 50
    assert similarity(sig(hasher, JA, "ja"), sig(hasher, JA_EDITED, "ja")) >= 0.6
    assert similarity(sig(hasher, JA, "ja"), sig(hasher, JA_OTHER, "ja")) < 0.1


def test_minhash_is_the_same_in_every_process(hasher: MinHasher) -> None:
    again = MinHasher(128)
    a = sig(hasher, EN, "en")
    np.testing.assert_array_equal(a, again.signature(shingles("", EN, "en")))
    np.testing.assert_array_equal(from_bytes(to_bytes(a)), a)
    assert len(to_bytes(a)) == 128 * 4


def test_empty_text_matches_nothing(hasher: MinHasher) -> None:
    empty = hasher.signature([])
    assert similarity(empty, sig(hasher, EN, "en")) == 0.0
    with pytest.raises(ValueError):
        similarity(empty, MinHasher(64).signature(["x"]))


# --- story assignment ------------------------------------------------------------------------
DIM = 8


def unit(*values: float) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


def item(aid: str, lang: str, hours: float, paragraphs: list[np.ndarray],
         signature: np.ndarray | None = None) -> StoryItem:
    if signature is None:  # a unique fingerprint: never a near-duplicate of anything
        signature = np.arange(16, dtype=np.uint32) + np.uint32(abs(hash(aid)) % 1_000_000 * 16)
    return StoryItem(aid, lang, hours, signature, np.stack(paragraphs))


PARAMS = StoryParams(dup_threshold=0.5, dup_window_hours=720, window_hours=72,
                     same_lang=0.9, cross_lang=0.8)


def test_first_article_founds_a_story_named_after_it() -> None:
    a = StoryAssigner(PARAMS)
    result = a.assign(item("a1", "en", 0, [unit(1, 0)]))
    assert (result.story, result.how, result.via) == ("a1", NEW_STORY, None)


def test_same_event_joins_and_the_story_keeps_its_first_id() -> None:
    a = StoryAssigner(PARAMS)
    a.assign(item("a1", "en", 0, [unit(1, 0), unit(0, 1)]))
    second = a.assign(item("a2", "en", 5, [unit(1, 0.1), unit(0.1, 1)]))
    third = a.assign(item("a3", "en", 10, [unit(1, 0.05), unit(0, 1)]))
    assert (second.story, second.how, second.via) == ("a1", JOIN_SIMILAR, "a1")
    assert third.story == "a1" and third.score >= 0


def test_cross_language_pairs_use_their_own_threshold() -> None:
    # cosine 0.85: below the one-language threshold (0.9), above the cross-language one (0.8)
    a_vec, b_vec = unit(1, 0), unit(0.85, np.sqrt(1 - 0.85 ** 2))
    same = StoryAssigner(PARAMS)
    same.assign(item("en1", "en", 0, [a_vec]))
    assert same.assign(item("en2", "en", 1, [b_vec])).how == NEW_STORY
    cross = StoryAssigner(PARAMS)
    cross.assign(item("en1", "en", 0, [a_vec]))
    joined = cross.assign(item("ja1", "ja", 1, [b_vec]))
    assert (joined.story, joined.how) == ("en1", JOIN_SIMILAR)


def test_outside_the_time_window_is_a_new_story() -> None:
    a = StoryAssigner(PARAMS)
    a.assign(item("a1", "en", 0, [unit(1, 0)]))
    assert a.assign(item("a2", "en", 73, [unit(1, 0)])).how == NEW_STORY
    assert a.assign(item("a3", "en", 72 + 71, [unit(1, 0)])).story == "a2"


def test_near_duplicate_joins_even_days_later_and_with_other_vectors(hasher: MinHasher) -> None:
    a = StoryAssigner(PARAMS)
    a.assign(item("orig", "en", 0, [unit(1, 0)], sig(hasher, EN, "en")))
    copy = a.assign(item("copy", "en", 24 * 5, [unit(0, 1)], sig(hasher, EN_EDITED, "en")))
    assert (copy.story, copy.how, copy.via) == ("orig", JOIN_DUPLICATE, "orig")
    assert copy.score >= 0.5


def test_best_story_wins_by_mean_margin() -> None:
    a = StoryAssigner(PARAMS)
    a.assign(item("s1", "en", 0, [unit(1, 0, 0)]))
    a.assign(item("s2", "en", 1, [unit(0, 0, 1)]))
    chosen = a.assign(item("x", "en", 2, [unit(0.1, 0, 1)]))
    assert chosen.story == "s2"


def test_assignment_is_deterministic() -> None:
    def run() -> list[str]:
        a = StoryAssigner(PARAMS)
        out = []
        for i, vec in enumerate([unit(1, 0), unit(1, 0.05), unit(0, 1), unit(0.05, 1),
                                 unit(1, 0.02)]):
            out.append(a.assign(item(f"a{i}", "en" if i % 2 else "ja", i, [vec])).story)
        return out

    assert run() == run() == ["a0", "a0", "a2", "a2", "a0"]


def test_vectors_of_another_model_are_never_compared() -> None:
    a = StoryAssigner(PARAMS)
    a.assign(item("a1", "en", 0, [unit(1, 0)]))
    other = StoryItem("b1", "en", 1, np.zeros(16, dtype=np.uint32) + 7,
                      np.ones((1, DIM * 2), dtype=np.float32) / np.sqrt(DIM * 2))
    assert a.assign(other).how == NEW_STORY


def test_pool_needs_stories_and_forgets_old_articles() -> None:
    with pytest.raises(ValueError):
        StoryAssigner(PARAMS, [item("a1", "en", 0, [unit(1, 0)])])
    old = item("old", "en", 0, [unit(1, 0)])
    old.story = "old"
    a = StoryAssigner(PARAMS, [old])
    a.forget_before(721.0)
    assert len(a) == 0


def test_alignment_is_symmetric_and_rewards_matching_paragraphs() -> None:
    x = np.stack([unit(1, 0, 0), unit(0, 1, 0)])
    y = np.stack([unit(0, 1, 0), unit(1, 0, 0), unit(0, 0, 1)])
    assert alignment(x, y) == pytest.approx(alignment(y, x))
    assert alignment(x, x) == pytest.approx(1.0)
    assert alignment(x, y) < 1.0
    assert alignment(x, np.zeros((0, DIM))) == -1.0


def test_centring_removes_the_shared_component() -> None:
    shared = unit(1, 0, 0, 0)
    a = np.stack([shared * 3 + unit(0, 1, 0, 0)])
    b = np.stack([shared * 3 + unit(0, 0, 1, 0)])
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    raw = float((a @ b.T)[0, 0])
    means = LanguageMeans(DIM, min_articles=1)
    means.add("en", a)
    means.add("en", b)
    ca, cb = center(a, means.mean("en")), center(b, means.mean("en"))
    assert raw > 0.8
    assert float((ca @ cb.T)[0, 0]) < 0.0


def test_language_means_fall_back_to_all_languages_while_few() -> None:
    means = LanguageMeans(DIM, min_articles=2)
    assert means.mean("en") is None
    means.add("en", np.stack([unit(1, 0)]))
    assert means.mean("en") is None  # one article: nothing to centre by
    means.add("ja", np.stack([unit(0, 1)]))
    np.testing.assert_allclose(means.mean("en"), (unit(1, 0) + unit(0, 1)) / 2, atol=1e-6)
    means.add("en", np.stack([unit(1, 0)]))
    np.testing.assert_allclose(means.mean("en"), unit(1, 0), atol=1e-6)
    assert means.counts() == {"en": 2, "ja": 1}


def test_a_language_is_centred_by_its_own_mean_from_its_second_article() -> None:
    means = LanguageMeans(DIM, min_articles=10)
    means.add("en", np.stack([unit(1, 0)]))
    means.add("ja", np.stack([unit(0, 1)]))
    means.add("en", np.stack([unit(1, 1)]))
    np.testing.assert_allclose(means.mean("en"), (unit(1, 0) + unit(1, 1)) / 2, atol=1e-6)
    assert not means.has_own("en")  # a small sample: joins need the early margin


def test_a_small_sample_language_needs_the_early_margin() -> None:
    # cosine 0.92: above the one-language threshold (0.9), below it plus an early margin of 0.05
    a_vec, b_vec = unit(1, 0), unit(0.92, np.sqrt(1 - 0.92 ** 2))
    params = StoryParams(same_lang=0.9, cross_lang=0.8, early_margin=0.05)
    trusted = StoryAssigner(params)
    trusted.assign(item("a1", "en", 0, [a_vec]))
    assert trusted.assign(item("a2", "en", 1, [b_vec])).how == JOIN_SIMILAR
    early = StoryAssigner(params)
    early.assign(item("a1", "en", 0, [a_vec]))
    young = item("a2", "en", 1, [b_vec])
    young.own_mean = False
    assert early.assign(young).how == NEW_STORY


def test_anchors_are_specific_entities_and_numbers_in_either_script() -> None:
    entities = [{"id": "programme/gcap", "type": "programme"},
                {"id": "country/jp", "type": "country"}]
    en = anchors("GCAP deal", "About 120 officials met for 3 days in 2026; costs rose 4.5 and "
                 "reached 1,250.", entities)
    assert en == {"e:programme/gcap", "n:120", "n:1250"}
    # full-width digits fold (NFKC): the Japanese report of the same drill shares "n:120"
    ja = anchors("合同演習", "両国の担当者約１２０人が参加した。２０２６年、３日間。", [])
    assert ja == {"n:120"} and en & ja == {"n:120"}
    assert anchors("", "", None) == frozenset()


def test_a_pair_sharing_no_anchor_needs_the_anchor_margin() -> None:
    # cosine 0.92: above the one-language threshold (0.9), below it plus an anchor margin of 0.05
    a_vec, b_vec = unit(1, 0), unit(0.92, np.sqrt(1 - 0.92 ** 2))
    params = StoryParams(same_lang=0.9, cross_lang=0.8, anchor_margin=0.05)

    def run(first: frozenset[str], second: frozenset[str]) -> str:
        assigner = StoryAssigner(params)
        one, two = item("a1", "en", 0, [a_vec]), item("a2", "en", 1, [b_vec])
        one.anchors, two.anchors = first, second
        assigner.assign(one)
        return assigner.assign(two).how

    assert run(frozenset({"n:120", "e:org/uk-ncsc"}), frozenset({"n:120"})) == JOIN_SIMILAR
    assert run(frozenset({"n:120"}), frozenset({"n:300"})) == NEW_STORY
    assert run(frozenset(), frozenset()) == NEW_STORY
    # a strong match needs no anchor
    c_vec = unit(0.99, np.sqrt(1 - 0.99 ** 2))
    strong = StoryAssigner(params)
    strong.assign(item("a1", "en", 0, [a_vec]))
    assert strong.assign(item("a3", "en", 1, [c_vec])).how == JOIN_SIMILAR


def test_a_paragraph_repeated_within_one_source_is_not_evidence() -> None:
    # two unrelated articles of one site that both carry the same advertisement paragraph
    ad = unit(0, 0, 1)
    sumo, snow = [unit(1, 0), ad], [unit(0, 1), ad]
    assert alignment(np.stack(sumo), np.stack(snow)) == pytest.approx(0.5)
    assert alignment(np.stack(sumo), np.stack(snow), skip_identical=True) == pytest.approx(0.0)
    params = StoryParams(same_lang=0.4, cross_lang=0.3)
    for source, joined in (("kaigan", NEW_STORY), ("", JOIN_SIMILAR)):
        assigner = StoryAssigner(params)
        first, second = item("a1", "ja", 0, sumo), item("a2", "ja", 1, snow)
        first.source = second.source = source
        assigner.assign(first)
        assert assigner.assign(second).how == joined, source
    # across sources the same paragraph (wire text, a quoted statement) still counts
    assigner = StoryAssigner(params)
    first, second = item("a1", "ja", 0, sumo), item("a2", "ja", 1, snow)
    first.source, second.source = "kaigan", "hokuriku"
    assigner.assign(first)
    assert assigner.assign(second).how == JOIN_SIMILAR
    # two copies of one article keep their alignment (nothing would be left to compare)
    assert alignment(np.stack(sumo), np.stack(sumo), skip_identical=True) == pytest.approx(1.0)


def test_an_opinion_piece_is_its_own_story_unless_a_copy(hasher: MinHasher) -> None:
    assert is_opinion("社説　鉱物の共同備蓄　日英協力を", "http://x.example/news/1.html")
    assert is_opinion("The Tokyo pact is long on ambition", "http://x.example/opinion/2026/a")
    assert is_opinion("Opinion: the pact needs money", "http://x.example/a")
    assert not is_opinion("Comments sought on the pact", "http://x.example/news/a")
    a = StoryAssigner(PARAMS)
    a.assign(item("news", "en", 0, [unit(1, 0)], sig(hasher, EN, "en")))
    editorial = item("ed", "en", 1, [unit(1, 0)])
    editorial.opinion = True
    assert a.assign(editorial).how == NEW_STORY  # same vectors, but opinion
    later = a.assign(item("news2", "en", 2, [unit(1, 0.01)]))
    assert later.story == "news"  # and nothing joins the editorial's story by similarity
    copy = item("ed-copy", "en", 3, [unit(0, 1)], sig(hasher, EN_EDITED, "en"))
    copy.opinion = True
    assert a.assign(copy).how == JOIN_DUPLICATE


def test_headline_chunk_is_left_out_of_alignment() -> None:
    chunks = np.stack([unit(1, 0), unit(0, 1), unit(1, 1)])
    assert body_vectors(chunks, True).shape == (2, DIM)
    assert body_vectors(chunks, False).shape == (3, DIM)
    assert body_vectors(chunks[:1], True).shape == (1, DIM)
