"""decode_html: BOM > header > <meta> > detection, with declarations checked against the bytes.
Japanese pages (Shift_JIS, EUC-JP) side by side with English ones."""
from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from newsmon.crawler.extract.charset import charset_from_meta, decode_html, normalize_charset

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TOHTO = SHARED / "devset" / "site" / "tohto-shimbun.example"

JA_TEXT = (
    "日英両政府が１３日に署名した重要鉱物に関する協力枠組みは、電動車や風力発電機の磁石に欠かせない"
    "希土類を中心に、特定の国への過度な依存から脱することを目指すものだ。価格は２割高い。"
)
EN_TEXT = "Britain and Japan signed a critical minerals framework — café owners in Tokyo cheered."


def page(charset_meta: str | None, body: str) -> str:
    meta = f'<meta http-equiv="Content-Type" content="text/html; charset={charset_meta}">' if charset_meta else ""
    return f"<!DOCTYPE html><html lang=\"ja\"><head>{meta}<title>テスト</title></head><body><p>{body}</p></body></html>"


@pytest.mark.parametrize(
    "label, codec",
    [
        ("Shift_JIS", "cp932"), ("shift-jis", "cp932"), ("x-sjis", "cp932"), ("SJIS", "cp932"),
        ("Windows-31J", "cp932"), ("MS_Kanji", "cp932"), ("EUC-JP", "euc_jp"), ("x-euc-jp", "euc_jp"),
        ("ISO-2022-JP", "iso2022_jp_ext"), ("utf8", "utf-8"), ("UTF-8", "utf-8"),
        ("iso-8859-1", "cp1252"), ("us-ascii", "cp1252"), ("windows-1251", "cp1251"),
        ("no-such-charset", None), ("", None),
    ],
)
def test_labels_map_to_codecs(label: str, codec: str | None) -> None:
    assert normalize_charset(label) == codec


@pytest.mark.parametrize("encoding, label", [("cp932", "Shift_JIS"), ("euc_jp", "EUC-JP")])
def test_japanese_with_correct_header(encoding: str, label: str) -> None:
    body = page(label, JA_TEXT).encode(encoding)
    text, used = decode_html(body, f"text/html; charset={label}")
    assert JA_TEXT in text
    assert used == normalize_charset(label)


@pytest.mark.parametrize("encoding, label", [("cp932", "Shift_JIS"), ("euc_jp", "EUC-JP")])
def test_japanese_with_only_meta_charset(encoding: str, label: str) -> None:
    body = page(label, JA_TEXT).encode(encoding)
    text, used = decode_html(body, "text/html")
    assert JA_TEXT in text
    assert used == normalize_charset(label)


def test_html5_meta_charset_is_read() -> None:
    body = f'<html><head><meta charset="euc-jp"></head><body>{JA_TEXT}</body></html>'.encode("euc_jp")
    assert charset_from_meta(body) == "euc-jp"
    assert decode_html(body, None)[0].endswith(f"{JA_TEXT}</body></html>")


@pytest.mark.parametrize("encoding", ["cp932", "euc_jp"])
def test_header_that_lies_loses_to_the_bytes(encoding: str) -> None:
    # the server says UTF-8, the page is really Shift_JIS / EUC-JP and says so in <meta>
    label = "Shift_JIS" if encoding == "cp932" else "EUC-JP"
    body = page(label, JA_TEXT).encode(encoding)
    text, used = decode_html(body, "text/html; charset=utf-8")
    assert JA_TEXT in text
    assert used == normalize_charset(label)


def test_lying_header_and_no_meta_falls_back_to_detection() -> None:
    body = page(None, JA_TEXT * 3).encode("cp932")
    text, used = decode_html(body, "text/html; charset=utf-8")
    assert JA_TEXT in text
    assert used in ("cp932", "shift_jis_2004")


def test_utf8_bytes_beat_a_stale_legacy_meta() -> None:
    # Mercury's Japanese fixtures: UTF-8 bytes whose <meta> still says Shift_JIS
    body = page("Shift_JIS", JA_TEXT).encode("utf-8")
    assert decode_html(body, None) == (page("Shift_JIS", JA_TEXT), "utf-8")
    assert decode_html(body, "text/html; charset=Shift_JIS")[0] == page("Shift_JIS", JA_TEXT)


def test_latin1_header_over_shift_jis_bytes_is_mojibake_and_loses() -> None:
    body = page(None, JA_TEXT * 3).encode("cp932")
    text, used = decode_html(body, "text/html; charset=iso-8859-1")
    assert JA_TEXT in text
    assert used != "cp1252"


@pytest.mark.parametrize(
    "bom, codec",
    [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")],
)
def test_bom_wins_over_every_declaration(bom: bytes, codec: str) -> None:
    html = page("Shift_JIS", JA_TEXT)
    text, used = decode_html(bom + html.encode(codec), "text/html; charset=Shift_JIS")
    assert text == html
    assert used == codec


def test_english_side_by_side() -> None:
    html = f"<html><head><title>x</title></head><body><p>{EN_TEXT}</p></body></html>"
    assert decode_html(html.encode("utf-8"), "text/html; charset=utf-8") == (html, "utf-8")
    text, used = decode_html(html.encode("cp1252"), "text/html; charset=iso-8859-1")
    assert text == html and used == "cp1252"
    ascii_html = "<html><body><p>plain</p></body></html>"
    assert decode_html(ascii_html.encode(), None)[0] == ascii_html


def test_wave_dash_decodes_as_in_jis_not_as_fullwidth_tilde() -> None:
    # cp932 maps 0x8160 to U+FF5E; JIS X 0208 (and EUC-JP decoding) give U+301C
    sjis = page("Shift_JIS", "１〜２割").encode("shift_jis")
    eucjp = page("EUC-JP", "１〜２割").encode("euc_jp")
    assert "１〜２割" in decode_html(sjis, None)[0]
    assert "１〜２割" in decode_html(eucjp, None)[0]


def test_nec_extension_characters_decode() -> None:
    # ① and ㈱ exist in cp932 (Windows-31J) but not in strict Shift_JIS
    text, used = decode_html(page("Shift_JIS", "①㈱髙橋").encode("cp932"), "text/html; charset=Shift_JIS")
    assert "①㈱髙橋" in text and used == "cp932"


def test_undecodable_bytes_are_replaced_not_raised() -> None:
    body = page("Shift_JIS", JA_TEXT).encode("cp932") + b"\x81\xff\xfe<p>end</p>"
    text, _ = decode_html(body, "text/html; charset=utf-8")
    assert JA_TEXT in text


@pytest.mark.shared("devset/site")
def test_devset_shift_jis_pages_decode_strictly() -> None:
    pages = sorted(TOHTO.glob("news/*/*.html"))
    assert pages, "no 東都新聞 article pages"
    for path in pages:
        body = path.read_bytes()
        text, used = decode_html(body, "text/html; charset=Shift_JIS")
        assert used == "cp932"
        assert "東都新聞" in text and "\ufffd" not in text
        # and with a lying header the same text comes back
        assert decode_html(body, "text/html; charset=utf-8")[0] == text
