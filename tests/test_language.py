"""Language detection: en / ja / other, with confidence."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsmon.enrich.language import detect_language

DEVSET = Path(__file__).resolve().parents[1].parent / "shared" / "devset" / "articles.jsonl"


@pytest.mark.parametrize(
    "text",
    [
        "日英首脳、サイバー・重要鉱物で協力文書に署名　次期戦闘機GCAPも加速",
        "日英伊防衛相、ＧＣＡＰの開発前倒しで一致した。",
        # many English words in a Japanese sentence do not flip it
        "英国のNational Cyber Security Centre（NCSC）とJPCERT/CCは、Global Combat Air Programmeについて協議した。",
        "防衛費増額",  # short kanji-only headline: Japanese, never Chinese
    ],
)
def test_japanese(text: str) -> None:
    lang, conf = detect_language(text)
    assert lang == "ja"
    assert 0.0 < conf <= 1.0


@pytest.mark.parametrize(
    "text",
    [
        "Starmer and Takaichi sign cyber, minerals and fighter jet pacts in Tokyo",
        "The agreement, signed in Tokyo on Friday, covers rare earths and the GCAP fighter. "
        "Officials said that 重要鉱物 (critical minerals) would be at the heart of it.",
    ],
)
def test_english(text: str) -> None:
    lang, conf = detect_language(text)
    assert lang == "en"
    assert 0.0 < conf <= 1.0


@pytest.mark.parametrize(
    "text",
    [
        "我们在这里讨论中国的经济发展问题，这是一个重要的话题。政府表示将继续推进改革开放。",  # Chinese
        "中国外交部发言人表示",  # short, simplified-only characters
        "La France et le Japon ont signé un accord sur les minerais critiques et la cybersécurité.",
        "Deutschland und Japan unterzeichnen ein Abkommen über kritische Rohstoffe.",
        "한국과 일본이 사이버 안보 협력에 합의했다",
        "Россия и Япония обсудили вопросы безопасности",
    ],
)
def test_other(text: str) -> None:
    assert detect_language(text)[0] == "other"


def test_nothing_to_go_on() -> None:
    assert detect_language("") == ("other", 0.0)
    assert detect_language("12345 !!! 。、") == ("other", 0.0)


def test_confidence_grows_with_evidence() -> None:
    short = detect_language("Cyber attack hits hospital")[1]
    long = detect_language(
        "A ransomware attack on a hospital group forced it to postpone operations on Tuesday, "
        "and the national cyber agency said it was working with the company to restore systems."
    )[1]
    assert short < long


@pytest.mark.shared("devset/articles.jsonl")
def test_devset_language_accuracy() -> None:
    articles = [json.loads(line) for line in DEVSET.read_text(encoding="utf-8").splitlines() if line.strip()]
    wrong = [
        (a["id"], detect_language(a["title"] + "\n\n" + a["text"]))
        for a in articles
        if detect_language(a["title"] + "\n\n" + a["text"])[0] != a["lang"]
    ]
    assert not wrong, wrong
    # the body alone and the headline alone are enough too
    assert all(detect_language(a["text"])[0] == a["lang"] for a in articles)
    assert all(detect_language(a["title"])[0] == a["lang"] for a in articles)
    assert min(detect_language(a["title"] + "\n\n" + a["text"])[1] for a in articles) >= 0.9
