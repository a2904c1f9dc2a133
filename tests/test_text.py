"""Japanese and English text utilities, side by side."""
from __future__ import annotations

import threading

import pytest

from newsmon.enrich.text import PhraseMatcher, analyze, char_ngrams, normalize, sentences, stem, tokenize


class TestNormalize:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("ＧＣＡＰ", "GCAP"),
            ("２＋２", "2+2"),
            ("ＮＣＳＣとＪＰＣＥＲＴ", "NCSCとJPCERT"),
            ("４１・２７％", "41・27%"),
            ("ｻｲﾊﾞｰ", "サイバー"),  # half-width katakana
            ("日英首脳会談\u3000サイバー", "日英首脳会談 サイバー"),  # ideographic space
        ],
    )
    def test_nfkc(self, raw: str, expected: str) -> None:
        assert normalize(raw) == expected

    def test_japanese_is_kept_intact(self) -> None:
        text = "重要鉱物で日英が枠組み。希土類の対中依存、供給網の多角化急ぐ。"
        assert normalize(text) == text

    def test_whitespace_folding_keeps_paragraphs(self) -> None:
        raw = "  First   line\twith  gaps \r\n\n\n\n  Second\u200b paragraph \nnext line  "
        assert normalize(raw) == "First line with gaps\n\nSecond paragraph\nnext line"

    def test_empty(self) -> None:
        assert normalize("") == ""
        assert normalize(" \n\n ") == ""


class TestTokenize:
    def test_english_lowercases_stems_and_drops_punctuation(self) -> None:
        toks = tokenize("Britain's minerals: rare earths, cobalt & lithium!", "en")
        assert toks == ["britain", "miner", "rare", "earth", "cobalt", "lithium"]

    def test_english_inflections_meet(self) -> None:
        assert tokenize("attacks attacked attacking", "en") == ["attack"] * 3
        assert tokenize("mineral", "en") == tokenize("Minerals", "en")

    def test_japanese_uses_morphology_not_whitespace(self) -> None:
        # no spaces at all: a whitespace tokenizer would return one token
        toks = tokenize("次期戦闘機の共同開発で一致した", "ja")
        assert len(toks) > 5
        assert "戦闘" in toks and "開発" in toks
        assert "。" not in toks and "、" not in tokenize("重要鉱物、希土類", "ja")

    def test_japanese_spelling_variants_meet(self) -> None:
        # Sudachi's normalised form unifies 希土類 and 稀土類
        assert tokenize("希土類", "ja") == tokenize("稀土類", "ja")

    def test_full_width_and_half_width_give_same_tokens(self) -> None:
        assert tokenize("ＧＣＡＰと２＋２", "ja") == tokenize("GCAPと2+2", "ja")
        assert "2+2" in tokenize("日英「２＋２」、来年1月に", "ja")

    def test_latin_words_in_japanese_match_english_tokens(self) -> None:
        ja = tokenize("ＧＣＡＰの開発とランサムウェア対策、NATO艦艇", "ja")
        en = tokenize("GCAP and NATO ships", "en")
        assert "gcap" in ja and "gcap" in en
        assert "nato" in ja and "nato" in en

    def test_two_plus_two_is_one_token_in_both_languages(self) -> None:
        assert "2+2" in tokenize("the UK-Japan 2+2 talks", "en")
        assert "2+2" in tokenize("日英２＋２", "ja")

    def test_empty(self) -> None:
        assert tokenize("", "en") == [] and tokenize("", "ja") == []
        assert tokenize("。、！", "ja") == []

    def test_long_japanese_without_punctuation(self) -> None:
        # longer than Sudachi's input limit in bytes; must be chunked, not fail
        text = "日英の協力" * 5000
        toks = tokenize(text, "ja")
        assert toks.count("協力") >= 4999

    def test_threads_get_their_own_tokenizer(self) -> None:
        results: list[list[str]] = []
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(20):
                    results.append(tokenize("防衛装備の移転手続きを簡素化する方針だ。" * 3 + str(len(results)), "ja"))
            except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert len(results) == 80 and all("防衛" in r for r in results)


def test_stem() -> None:
    assert stem("earths") == "earth"
    assert stem("minister's") == "minist"
    assert stem("2026") == "2026"


class TestCharNgrams:
    def test_english(self) -> None:
        assert char_ngrams("Cyber!", 3) == ["cyb", "ybe", "ber"]
        assert char_ngrams("a  b", 2) == ["a ", " b"]

    def test_japanese_and_width_variants(self) -> None:
        assert char_ngrams("次期戦闘機", 2) == ["次期", "期戦", "戦闘", "闘機"]
        assert char_ngrams("ＧＣＡＰ加速", 3) == char_ngrams("GCAP 加速", 3)[:0] + char_ngrams("gcap加速", 3)

    def test_short_and_empty(self) -> None:
        assert char_ngrams("ab", 3) == ["ab"]
        assert char_ngrams("", 3) == [] and char_ngrams("、。", 3) == []
        with pytest.raises(ValueError):
            char_ngrams("abc", 0)


class TestSentences:
    def test_english(self) -> None:
        text = 'Mr. Smith met the U.S. envoy. "Is it done?" he asked! Talks resume in 2027.\n\nNew paragraph'
        assert sentences(text, "en") == [
            "Mr. Smith met the U.S. envoy.",
            '"Is it done?" he asked!',
            "Talks resume in 2027.",
            "New paragraph",
        ]

    def test_english_does_not_split_decimals_or_initials(self) -> None:
        assert sentences("Prices rose 3.5 per cent, said J. Smith of Acme.", "en") == [
            "Prices rose 3.5 per cent, said J. Smith of Acme."
        ]

    def test_japanese(self) -> None:
        text = "日英首脳が会談した。「協力を深める」と述べた。本当か！？\n\n見出しのみ"
        assert sentences(text, "ja") == ["日英首脳が会談した。", "「協力を深める」と述べた。", "本当か!?", "見出しのみ"]

    def test_japanese_quotation_does_not_end_the_sentence(self) -> None:
        assert sentences("首相は「加速する。」と語った。次へ。", "ja") == ["首相は「加速する。」と語った。", "次へ。"]
        assert sentences("「加速する。」", "ja") == ["「加速する。」"]


def test_analyze_keeps_paragraph_index_and_tokens() -> None:
    doc = analyze("日英が署名した。サイバー協力。\n\n次の段落だ。", "ja")
    assert [s.paragraph for s in doc] == [0, 0, 1]
    assert all(t.norm for s in doc for t in s.tokens)
    assert analyze("日英が署名した。サイバー協力。\n\n次の段落だ。", "ja") is doc  # cached


class TestPhraseMatcher:
    def test_longest_match_wins_and_matches_do_not_overlap(self) -> None:
        m = PhraseMatcher()
        m.add("cyber", "en", "short")
        m.add("cyber attack", "en", "long")
        toks = analyze("A cyber attack, then more cyber attacks and cyber.", "en")[0].tokens
        assert [x.key for x in m.find(toks)] == ["long", "long", "short"]

    def test_japanese_phrase_on_tokens(self) -> None:
        m = PhraseMatcher()
        m.add("重要鉱物", "ja", "cm")
        m.add("次期戦闘機", "ja", "fx")
        toks = [t for s in analyze("重要鉱物で合意。次期戦闘機の開発も。鉱物の話。", "ja") for t in s.tokens]
        assert [x.key for x in m.find(toks)] == ["cm", "fx"]

    def test_case_sensitive_acronyms(self) -> None:
        m = PhraseMatcher()
        m.add("US", "en", "usa", case_sensitive=True)
        toks = analyze("Let us talk to the US envoy.", "en")[0].tokens
        hits = m.find(toks)
        assert len(hits) == 1 and toks[hits[0].start].surface == "US"

    def test_phrase_without_tokens_is_refused(self) -> None:
        assert PhraseMatcher().add("。、", "ja", "x") is False
