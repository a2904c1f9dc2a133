"""Bilingual gazetteer: loading, validation and matching on normalised tokens."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from newsmon.enrich.entities import find_entities, load_gazetteer
from newsmon.index.core.errors import ConfigError

CONFIG = Path(__file__).resolve().parents[1] / "config" / "entities.yaml"
DEVSET = Path(__file__).resolve().parents[1].parent / "shared" / "devset" / "articles.jsonl"


@pytest.fixture(scope="module")
def gaz():
    return load_gazetteer(CONFIG)


def _ids(found: list[dict]) -> dict[str, int]:
    return {e["id"]: e["count"] for e in found}


def test_shipped_gazetteer_covers_the_domain(gaz) -> None:
    types = {e.type for e in gaz.entities}
    assert types == {"country", "person", "organisation", "programme", "mineral"}
    for eid in ("country/gb", "person/takaichi-sanae", "org/uk-ncsc", "org/jp-meti", "programme/gcap", "mineral/gallium"):
        e = gaz[eid]
        assert e.names["en"] and e.names["ja"]


def test_output_shape_and_order(gaz) -> None:
    found = find_entities("Starmer meets Takaichi", "Keir Starmer met Sanae Takaichi in Tokyo. Japan and Britain agreed.", "en", gaz)
    assert found[0] == {"id": "person/starmer-keir", "type": "person", "name": "Keir Starmer", "count": 2}
    assert all(set(e) == {"id", "type", "name", "count"} for e in found)
    counts = [e["count"] for e in found]
    assert counts == sorted(counts, reverse=True)


def test_english_and_japanese_names_meet_on_one_id(gaz) -> None:
    en = _ids(find_entities("UK and Japan sign rare earths deal", "Britain will buy gallium and rare-earth elements.", "en", gaz))
    ja = _ids(find_entities("日英がレアアースで合意", "英国はガリウムと希土類を調達する。", "ja", gaz))
    for eid in ("country/gb", "mineral/rare-earths", "mineral/gallium"):
        assert eid in en and eid in ja
    assert en["country/gb"] == 2 and en["mineral/rare-earths"] == 2


def test_japanese_uses_tokens_not_whitespace(gaz) -> None:
    # no spaces anywhere; names sit inside longer runs of kanji
    found = _ids(find_entities("", "経済産業省と外務省は高市首相の指示で次期戦闘機の協議に入った。", "ja", gaz))
    assert {"org/jp-meti", "org/jp-mofa", "person/takaichi-sanae", "programme/gcap"} <= set(found)


def test_full_width_acronyms(gaz) -> None:
    found = _ids(find_entities("ＧＣＡＰ加速", "ＮＣＳＣとＪＰＣＥＲＴが協力する。", "ja", gaz))
    assert {"programme/gcap", "org/uk-ncsc", "org/jpcert"} <= set(found)


def test_acronyms_keep_their_capitals(gaz) -> None:
    found = _ids(find_entities("", "Let us mod the game. The US and the MoD disagree.", "en", gaz))
    assert found.get("country/us") == 1
    assert found.get("org/uk-mod") == 1


def test_longest_name_wins(gaz) -> None:
    found = _ids(find_entities("", "中国外務省の報道官が会見した。", "ja", gaz))
    assert "org/cn-mfa" in found and "org/jp-mofa" not in found


def test_one_name_counts_several_entities(gaz) -> None:
    found = _ids(find_entities("日英首脳会談", "", "ja", gaz))
    assert found == {"country/jp": 1, "country/gb": 1}


def test_nothing_found(gaz) -> None:
    assert find_entities("", "", "en", gaz) == []
    assert find_entities("紅葉の夜間拝観", "京都の寺で紅葉の夜間拝観が始まった。", "ja", gaz) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["entities"][0].__setitem__("type", "planet"), "entity 'country/jp': key 'type' must be one of"),
        (lambda d: d["entities"][1].pop("names"), "entity 'country/gb': missing key 'names'"),
        (lambda d: d["entities"][1]["names"].__setitem__("fr", ["Royaume-Uni"]), "key 'names.fr': language must be"),
        (lambda d: d["entities"].append(dict(d["entities"][0])), "entity 'country/jp': key 'id' is a duplicate"),
        (lambda d: d["entities"][0]["names"]["en"].append({"name": "JP", "case": True}), "unknown key(s) ['case']"),
        (lambda d: d["entities"][0]["names"]["ja"].append("・"), "has no word in it"),
        (lambda d: d.__setitem__("people", []), "top level"),
    ],
)
def test_validation_errors(tmp_path: Path, mutate, expected: str) -> None:
    doc = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    mutate(doc)
    p = tmp_path / "entities.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_gazetteer(p)
    assert str(p) in str(info.value) and expected in str(info.value)


def test_explicit_case_sensitivity(tmp_path: Path) -> None:
    doc = {"entities": [{"id": "org/acme", "type": "organisation",
                         "names": {"en": [{"name": "Acme", "case_sensitive": True}]}}]}
    p = tmp_path / "g.yaml"
    p.write_text(yaml.safe_dump(doc), encoding="utf-8")
    g = load_gazetteer(p)
    assert _ids(find_entities("", "acme and Acme.", "en", g)) == {"org/acme": 1}


@pytest.mark.shared("devset/articles.jsonl")
def test_devset_tricky_cases(gaz) -> None:
    arts = {a["id"]: a for a in map(json.loads, DEVSET.read_text(encoding="utf-8").splitlines())}

    def ids(aid: str) -> dict[str, int]:
        a = arts[aid]
        return _ids(find_entities(a["title"], a["text"], a["lang"], gaz))

    assert "programme/gcap" in ids("ja-006")  # never says GCAP, only 次期戦闘機
    assert "programme/gcap" in ids("ja-009")  # full-width ＧＣＡＰ
    assert {"mineral/critical-minerals", "mineral/rare-earths"} <= set(ids("ja-005"))  # kanji only
    assert {"person/takaichi-sanae", "person/starmer-keir", "country/jp", "country/gb"} <= set(ids("en-001"))
    assert "org/uk-ncsc" in ids("en-018")
    assert "mineral/gallium" in ids("ja-017")
    assert ids("ja-028") == {}  # autumn leaves in Kyoto
