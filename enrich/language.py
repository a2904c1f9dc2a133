"""Language of an article's main text: "en", "ja" or "other", with a confidence in [0, 1].

Decided from scripts, not from a statistical model: kana occur only in Japanese, so a text
whose CJK part carries kana is Japanese, however many English acronyms and names it quotes. CJK
text with no kana at all is Chinese (reported as "other") once it is long enough for that to be
telling; a short kanji-only string — a Japanese headline such as 防衛費増額 — stays Japanese unless
it uses simplified-only characters. Latin text is English when English function words make up a
normal share of its words; French, German and the like come out "other".
"""
from __future__ import annotations

import re
import unicodedata

__all__ = ["detect_language"]

# A CJK character carries roughly as much text as a few Latin letters; without this weight a
# Japanese article quoting "Global Combat Air Programme" would look half English.
_CJK_WEIGHT = 3.0
_NAME_WEIGHT = 0.3
# Kanji-only running text this long is not Japanese prose (Japanese needs kana for grammar).
_HAN_ONLY_LIMIT = 30
# Characters of simplified Chinese that Japanese never uses (Japanese writes 们→-, 这→這/この, 时→時 …).
_SIMPLIFIED_ONLY = set("们这说还没为关发经动时进过东车长门问间现实务业资华让从总见")
_EN_FUNCTION_WORDS = frozenset(
    """a about after all also an and are as at be been but by can could for from had has have
    he her his how i if in into is it its more my no not of on or our over she so than that the
    their them there they this to up was we were what when which who will with would you""".split()
)
# Function words of the other common Latin-script languages (none of them English words), so
# that a short French or German sentence is not taken for English by default.
_OTHER_FUNCTION_WORDS = frozenset(
    """der das und ist nicht ein eine einen mit für auf dem des von zu im sich auch über
    le la les et est une des du dans pour que qui sur au aux ce sont avec
    el los las y es por con para una del se lo como más
    il di che della non sono gli dei delle nel
    os em não um uma com para
    het een van niet op voor zijn""".split()
)
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


def _script_counts(text: str) -> tuple[int, int, int, int, int]:
    kana = han = latin = other = simplified = 0
    for ch in text:
        o = ord(ch)
        if 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF:
            if ch not in "・ー゠":  # these also appear in Chinese-language text
                kana += 1
        elif 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF or ch == "々":
            han += 1
            if ch in _SIMPLIFIED_ONLY:
                simplified += 1
        elif ch.isalpha():
            if ch.isascii() or unicodedata.name(ch, "").startswith("LATIN"):
                latin += 1
            else:
                other += 1  # Hangul, Cyrillic, Arabic, Thai …
    return kana, han, latin, other, simplified


def _length_factor(weighted_chars: float) -> float:
    # A handful of characters cannot carry much confidence, whatever the script.
    return min(1.0, 0.5 + weighted_chars / 120.0)


def detect_language(text: str) -> tuple[str, float]:
    """("en" | "ja" | "other", confidence) for ``text`` (use the title plus body when you have it)."""
    text = unicodedata.normalize("NFKC", text or "")
    kana, han, latin, other, simplified = _script_counts(text)
    cjk = kana + han
    weighted_cjk = _CJK_WEIGHT * cjk
    total = weighted_cjk + latin + other
    if total == 0:
        return "other", 0.0

    words = [w.lower() for w in _WORD.findall(text)]
    function_share = sum(w in _EN_FUNCTION_WORDS for w in words) / len(words) if words else 0.0
    # Latin words without English grammar around them are names and acronyms (GCAP, NCSC,
    # "Global Combat Air Programme" quoted in a Japanese article): they count for less.
    latin_weight = latin if function_share >= 0.12 else latin * _NAME_WEIGHT
    if weighted_cjk >= latin_weight + other and cjk:
        share = weighted_cjk / total
        kana_ratio = kana / cjk
        if kana_ratio >= 0.05:
            # Real Japanese prose is 30–60 % kana; kanji-heavy headlines lower, still clearly ja.
            conf = share * min(1.0, 0.6 + kana_ratio * 2.0)
            return "ja", round(conf * _length_factor(total), 3)
        if kana == 0 and (han >= _HAN_ONLY_LIMIT or simplified > 0):
            return "other", round(share * _length_factor(total), 3)
        # Short kanji-only text, or a trace of kana: Japanese, but without much certainty.
        return "ja", round(0.5 * share * _length_factor(total), 3)

    if latin >= other and words:
        share = latin / total
        foreign_share = sum(w in _OTHER_FUNCTION_WORDS for w in words) / len(words)
        if foreign_share > function_share:
            return "other", round(share * min(1.0, 0.5 + foreign_share * 2.0) * _length_factor(total), 3)
        # English running text has ~35–50 % function words; headlines far fewer.
        evidence = min(1.0, function_share / 0.25)
        if function_share >= 0.12 or (len(words) < 12 and function_share > 0):
            return "en", round(share * (0.5 + 0.5 * evidence) * _length_factor(total), 3)
        if len(words) < 12:
            # Too short to tell English from another Latin-script language; English is the
            # likelier of the two for this monitor, but say so with low confidence.
            return "en", round(0.4 * share * _length_factor(total), 3)
        return "other", round(share * (1.0 - evidence) * _length_factor(total), 3)
    return "other", round((other / total) * _length_factor(total), 3)
