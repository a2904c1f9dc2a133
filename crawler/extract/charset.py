"""Turn the bytes of an HTML page into text with the right character encoding.

Order of evidence: byte-order mark > HTTP ``Content-Type`` charset > ``<meta charset>`` /
``http-equiv`` > detection. Declarations are checked, not trusted: servers and templates lie
(a header saying UTF-8 over Shift_JIS bytes, a ``<meta>`` left at Shift_JIS after a site moved to
UTF-8), so a declared charset that fails to decode strictly, or decodes to mojibake while another
candidate decodes cleanly, loses to the clean one.
"""
from __future__ import annotations

import codecs
import logging
import re

from charset_normalizer import from_bytes
from charset_normalizer.md import mess_ratio

log = logging.getLogger(__name__)

# Japanese legacy charsets as labelled in the wild, mapped to the Python codec that decodes what
# those labels really carry: pages labelled Shift_JIS are written with Windows-31J (cp932, which
# adds NEC/IBM extensions such as ①, ㈱, 髙), and EUC-JP pages use JIS X 0212/0213 extensions.
_ALIASES: dict[str, str] = {
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "s-jis": "cp932",
    "x-sjis": "cp932",
    "x-shift_jis": "cp932",
    "x-shift-jis": "cp932",
    "shiftjis": "cp932",
    "ms_kanji": "cp932",
    "ms-kanji": "cp932",
    "csshiftjis": "cp932",
    "windows-31j": "cp932",
    "cswindows31j": "cp932",
    "ms932": "cp932",
    "cp932": "cp932",
    "euc-jp": "euc_jp",
    "euc_jp": "euc_jp",
    "eucjp": "euc_jp",
    "x-euc-jp": "euc_jp",
    "x-euc": "euc_jp",
    "ujis": "euc_jp",
    "cseucpkdfmtjapanese": "euc_jp",
    "eucjp-ms": "euc_jp",
    "euc-jis-2004": "euc_jis_2004",
    "iso-2022-jp": "iso2022_jp_ext",
    "csiso2022jp": "iso2022_jp_ext",
    # WHATWG: these labels mean windows-1252 on the web
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "ascii": "cp1252",
    "us-ascii": "cp1252",
    "windows-1252": "cp1252",
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
}

# When a Japanese codec fails strictly, its superset may still decode the page cleanly.
_FALLBACKS: dict[str, tuple[str, ...]] = {
    "euc_jp": ("euc_jis_2004",),
    "cp932": ("shift_jis_2004",),
    "iso2022_jp_ext": ("iso2022_jp_2004",),
}

# cp932 follows Microsoft's table for seven JIS X 0208 row-1 characters; the JIS standard (and
# Python's shift_jis / euc_jp codecs) map them to the characters the writer meant: 〜 not ～.
# Decoding Shift_JIS with cp932's repertoire and JIS's mapping keeps Shift_JIS and EUC-JP copies
# of one text identical.
_JIS_ROW1 = str.maketrans({
    "\uff5e": "\u301c",  # FULLWIDTH TILDE -> WAVE DASH
    "\u2225": "\u2016",  # PARALLEL TO -> DOUBLE VERTICAL LINE
    "\uff0d": "\u2212",  # FULLWIDTH HYPHEN-MINUS -> MINUS SIGN
    "\u2015": "\u2014",  # HORIZONTAL BAR -> EM DASH
    "\uffe0": "\u00a2",  # FULLWIDTH CENT SIGN -> CENT SIGN
    "\uffe1": "\u00a3",  # FULLWIDTH POUND SIGN -> POUND SIGN
    "\uffe2": "\u00ac",  # FULLWIDTH NOT SIGN -> NOT SIGN
})

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:+-]+)""", re.I)
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9._:+-]+)""", re.I
)
# how much of the document a <meta> declaration may hide in (the spec says 1024; real pages
# put long scripts first)
_META_WINDOW = 8192
# above this share of "messy" characters a decoding is treated as mojibake
_MESS_LIMIT = 0.2


def normalize_charset(label: str | None) -> str | None:
    """The Python codec name for a charset label, or None when the label is unknown."""
    if not label:
        return None
    key = label.strip().strip("\"'").lower()
    if key in _ALIASES:
        return _ALIASES[key]
    try:
        name = codecs.lookup(key).name
    except LookupError:
        return None
    # the codec registry knows its own names for the Japanese codecs; route them through the map
    return _ALIASES.get(name.replace("_", "-"), _ALIASES.get(name, name))


def charset_from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = _HEADER_CHARSET.search(content_type)
    return m.group(1) if m else None


def charset_from_meta(body: bytes) -> str | None:
    m = _META_CHARSET.search(body[:_META_WINDOW])
    return m.group(1).decode("ascii", "replace") if m else None


def _decode(body: bytes, codec: str, errors: str = "strict") -> str:
    text = body.decode(codec, errors)
    return text.translate(_JIS_ROW1) if codec == "cp932" else text


def _strict(body: bytes, codec: str) -> str | None:
    try:
        return _decode(body, codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _strict_with_fallbacks(body: bytes, codec: str) -> tuple[str, str] | None:
    for name in (codec, *_FALLBACKS.get(codec, ())):
        text = _strict(body, name)
        if text is not None:
            return text, name
    return None


def _is_single_byte(codec: str) -> bool:
    try:
        name = codecs.lookup(codec).name
    except LookupError:
        return False
    return name in {"latin-1", "koi8-r", "koi8-u", "mac-roman"} or name.startswith(("iso8859", "cp125"))


def _non_ascii_sample(text: str, limit: int = 20000) -> str:
    """A slice of the text around its non-ASCII characters, enough to judge mojibake quickly."""
    first = next((i for i, ch in enumerate(text) if ord(ch) > 127), None)
    if first is None:
        return ""
    return text[max(0, first - 200) : first + limit]


def _messy(text: str) -> bool:
    sample = _non_ascii_sample(text)
    return bool(sample) and mess_ratio(sample, _MESS_LIMIT) >= _MESS_LIMIT


def _detect(body: bytes) -> tuple[str, str] | None:
    best = from_bytes(body[:200_000]).best()
    if best is None:
        return None
    codec = normalize_charset(best.encoding) or best.encoding
    decoded = _strict_with_fallbacks(body, codec)
    return decoded


def decode_html(body: bytes, content_type: str | None) -> tuple[str, str]:
    """Decode an HTML page; returns (text, codec used).

    Never raises on bad bytes: when nothing decodes strictly, the best candidate is decoded with
    replacement characters and that is visible in the returned codec's result only as U+FFFD.
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, "replace"), codec

    declared: list[str] = []
    for label in (charset_from_content_type(content_type), charset_from_meta(body)):
        named = normalize_charset(label)
        if named and named not in declared:
            declared.append(named)

    is_ascii = body.isascii()
    if is_ascii and (not declared or not declared[0].startswith(("utf-16", "utf-32", "iso2022"))):
        return body.decode("ascii"), declared[0] if declared else "ascii"

    # Valid UTF-8 with non-ASCII bytes is almost never an accident: legacy Japanese or Latin bytes
    # fail UTF-8's strict structure within a few characters. So it beats a legacy declaration.
    utf8 = _strict(body, "utf-8")
    if utf8 is not None and not any(c.startswith(("utf-16", "utf-32")) for c in declared):
        if declared and declared[0] != "utf-8":
            log.debug("declared %s but bytes are valid UTF-8; using UTF-8", declared[0])
        return utf8, "utf-8"

    for codec in declared:
        if codec == "utf-8":
            continue  # already failed strictly above
        decoded = _strict_with_fallbacks(body, codec)
        if decoded is None:
            log.debug("declared charset %s does not decode strictly", codec)
            continue
        text, used = decoded
        if _is_single_byte(used) and _messy(text):
            # a single-byte charset decodes anything; check whether a real detection does better
            detected = _detect(body)
            if detected is not None and not _is_single_byte(detected[1]) and not _messy(detected[0]):
                log.debug("declared %s gives mojibake; detected %s decodes cleanly", used, detected[1])
                return detected
        return text, used

    detected = _detect(body)
    if detected is not None:
        return detected

    # Nothing decodes strictly: pick the candidate with the fewest broken characters.
    candidates = [*declared, "utf-8", "cp932", "euc_jp", "cp1252"]
    best_codec = min(
        dict.fromkeys(candidates), key=lambda c: body.decode(c, "replace").count("\ufffd")
    )
    return _decode(body, best_codec, "replace"), best_codec


__all__ = ["decode_html", "normalize_charset", "charset_from_content_type", "charset_from_meta"]
