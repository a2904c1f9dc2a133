"""The bilingual lexicon (config/lexicon.yaml): it loads, every phrase has words in both
languages, and a bad file fails at load with a message naming the file, the entry and the key."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from newsmon.app.searchtext import query_tokens
from newsmon.enrich.lexicon import LEXICON_FIELDS, load_lexicon
from newsmon.index.core.errors import ConfigError

CONFIG = Path(__file__).resolve().parents[1] / "config" / "lexicon.yaml"


def test_bundled_lexicon_loads_and_covers_every_field() -> None:
    lex = load_lexicon(CONFIG, query_tokens)
    assert {e.field for e in lex.entries} == set(LEXICON_FIELDS)
    tr = lex.translations(query_tokens)
    # the issue's own examples, either way round
    pairs = {(src, d) for src, dsts in tr["en"] for d in dsts}
    assert (frozenset(query_tokens("economic security")), frozenset(query_tokens("経済安全保障"))) in pairs
    back = {(src, d) for src, dsts in tr["ja"] for d in dsts}
    assert (frozenset(query_tokens("防衛装備移転")),
            frozenset(query_tokens("defence equipment transfer"))) in back


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["terms"][0].pop("ja"), "term #1: missing key 'ja'"),
        (lambda d: d["terms"][1].__setitem__("de", ["Cybersicherheit"]), "term #2: unknown key(s) ['de']"),
        (lambda d: d["terms"][0].__setitem__("field", "sport"), "key 'field' must be one of"),
        (lambda d: d["terms"][0].__setitem__("en", []), "key 'en': must be a non-empty list"),
        (lambda d: d["terms"][0]["ja"].append(""), "a phrase must be a non-empty string"),
        (lambda d: d["terms"][0]["ja"].append("・"), "has no word in it"),
        (lambda d: d.__setitem__("words", []), "top level"),
    ],
)
def test_validation_errors(tmp_path: Path, mutate, expected: str) -> None:
    doc = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    mutate(doc)
    p = tmp_path / "lexicon.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_lexicon(p, query_tokens)
    assert str(p) in str(info.value) and expected in str(info.value)
