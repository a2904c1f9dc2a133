"""Japanese bylines out of the body into fields, and date precision against the listing date."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from newsmon.crawler.extract.dates import has_time
from newsmon.crawler.extract.ja_byline import split_byline
from newsmon.crawler.published import (
    DATE_ONLY,
    LISTING_DATE_DIFFERS,
    TIME_FROM_LISTING,
    reconcile_published,
)

P1 = "日英両政府は８日、初の合同サイバー演習を東京とロンドンで実施したと発表した。"
P2 = "両政府は演習を毎年行うことで合意しており、次回は２０２７年にロンドンで開く予定だ。"
JST = timezone(timedelta(hours=9))


def test_bun_line_under_the_date() -> None:
    by = split_byline(["2026年12月8日 19時10分", "文／小川正樹", P1, P2])
    assert by.authors == ["小川正樹"] and by.dateline is None
    assert by.paragraphs == ["2026年12月8日 19時10分", P1, P2]


def test_kisha_lines_with_and_without_a_desk() -> None:
    for line in ("記者　佐藤健一", "政治部　記者　佐藤健一", "佐藤健一記者", "経済部・佐藤 健一 記者"):
        by = split_byline([line, P1, P2])
        assert by.authors == ["佐藤健一"], line
        assert by.paragraphs == [P1, P2]


def test_dateline_opening_the_first_paragraph() -> None:
    by = split_byline([f"【北京＝伊藤和也】{P1}", P2])
    assert by.authors == ["伊藤和也"] and by.dateline == "北京"
    assert by.paragraphs == [P1, P2]
    place_only = split_byline([f"【ロンドン】{P1}", P2])
    assert place_only.authors == [] and place_only.dateline == "ロンドン"
    assert place_only.paragraphs == [P1, P2]


def test_writer_in_brackets_closing_the_body_even_before_a_copyright_line() -> None:
    assert split_byline([P1, P2, "（田中美咲）"]).authors == ["田中美咲"]
    by = split_byline([P1, P2, "（経済部・高橋直樹）", "Copyright (C) 北陸時事新聞社"])
    assert by.authors == ["高橋直樹"]
    assert by.paragraphs == [P1, P2, "Copyright (C) 北陸時事新聞社"]


def test_what_is_not_a_byline_stays() -> None:
    for paras in ([P1, "（３３）"], [P1, "（共同）"], [P1, "（写真は会見する報道官）"],
                  ["記者会見で報道官は述べた。", P1], [P1, "（田中美咲）", P2 * 2]):
        by = split_byline(paras)
        assert by.authors == [] and by.paragraphs == paras, paras


def test_has_time() -> None:
    assert has_time("2026-12-08T14:25:00+00:00") and has_time("2026年12月8日 18時30分")
    assert has_time("Tue, 08 Dec 2026 14:25:00 +0000") and has_time("8 Dec 2026 14:25")
    assert not has_time("2026-12-08") and not has_time("2026年12月8日")
    assert not has_time("8 December 2026")


def test_date_only_takes_the_listing_time_on_the_same_day() -> None:
    page = datetime(2026, 12, 8, tzinfo=JST)  # the start of the day in the source's zone
    listed = datetime(2026, 12, 8, 10, 30, tzinfo=JST)
    value, flags = reconcile_published(page, [DATE_ONLY], listed, "Asia/Tokyo")
    assert value == listed and flags == [DATE_ONLY, TIME_FROM_LISTING]
    # the listing names another day: the page's date stays, at the start of its day in Tokyo
    other = datetime(2026, 12, 9, 10, 30, tzinfo=JST)
    value, flags = reconcile_published(page, [DATE_ONLY], other, "Asia/Tokyo")
    assert value == page and value.utcoffset() == timedelta(hours=9)
    assert flags == [DATE_ONLY]


def test_listing_date_is_a_cross_check_and_a_fallback() -> None:
    page = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    far = page + timedelta(days=5)
    assert reconcile_published(page, [], far, "UTC") == (page, [LISTING_DATE_DIFFERS])
    assert reconcile_published(page, [], page + timedelta(hours=2), "UTC") == (page, [])
    assert reconcile_published(None, [], far, "UTC") == (far, ["published_from_listing"])
    assert reconcile_published(page, [], None, "UTC") == (page, [])


# -- bylines with a role, and Japanese byline forms, through the whole extraction ------------

def _page_with(lang: str, meta_line: str, paras: list[str], closing: str = "") -> str:
    body = "".join(f"<p>{p}</p>" for p in paras)
    title = "Ferry operators cut winter sailings" if lang == "en" else "フェリー各社、冬季の便数を削減"
    return f"""<html lang="{lang}"><head><meta charset="utf-8"><title>{title} | Harbour Post</title>
<meta property="og:site_name" content="Harbour Post"><meta property="og:type" content="article"></head><body>
<div id="col"><div class="story"><h1>{title}</h1>{meta_line}{body}{closing}</div></div>
<div id="footer"><p>About us</p></div></body></html>"""


EN = ["Three ferry operators said on Monday they would cut winter sailings between the islands by a "
      "fifth, blaming fuel costs and a shortage of crew that has grown since the spring.",
      "The island councils said the cuts would leave commuters without a morning crossing on two days "
      "a week, and asked the regional government to subsidise the early sailing until March."]


@pytest.mark.parametrize("line, want", [
    ("By Maria Lopez, Seoul correspondent", ["Maria Lopez"]),
    ("Maria Lopez, Seoul correspondent", ["Maria Lopez"]),
    ("Maria Lopez | Transport editor", ["Maria Lopez"]),
    ("By Maria Lopez in Seoul", ["Maria Lopez"]),
    ("By Maria Lopez and Tom Reid, Business Reporters", ["Maria Lopez", "Tom Reid"]),
    ("By Maria Lopez, Tom Reid", ["Maria Lopez", "Tom Reid"]),
])
def test_english_byline_with_a_role_names_only_the_writer(line: str, want: list[str]) -> None:
    from newsmon.crawler.extract import extract_article
    from tests.test_extract import page

    art = extract_article(page(_page_with("en", f'<p class="by">{line}</p>', EN)))
    assert art.authors == want, line
    assert art.text.split("\n\n")[0] == EN[0]


JA = ["県内のフェリー３社は１日、来年１月から３月までの冬季ダイヤで、島との間の便数を約２割減らすと発表した。",
      "燃料費の高騰と船員不足が理由で、通勤客からは朝の便の維持を求める声が上がっている。"]


@pytest.mark.parametrize("meta_line, closing, want", [
    ("", "<p>（記者　山口真一）</p>", ["山口真一"]),
    ("", "<p>（写真と文・山口真一）</p>", ["山口真一"]),
    ("<p>文・写真／山口真一</p>", "", ["山口真一"]),
    ("<p>山口真一記者</p>", "", ["山口真一"]),
    ("<p>社会部　山口真一</p>", "", ["山口真一"]),
    ("", "<p>（社会部　山口真一記者）</p>", ["山口真一"]),
])
def test_japanese_byline_forms(meta_line: str, closing: str, want: list[str]) -> None:
    from newsmon.crawler.extract import extract_article
    from tests.test_extract import page

    art = extract_article(page(_page_with("ja", meta_line, JA, closing), lang="ja", tz="Asia/Tokyo",
                               url="https://harbour.example.jp/news/20261201/a0042.html"))
    assert art.authors == want, (meta_line, closing)
    assert [p.strip() for p in art.text.split("\n\n")] == JA


def test_japanese_byline_under_the_headline_outside_the_body() -> None:
    from newsmon.crawler.extract import extract_article
    from tests.test_extract import page

    html = f"""<html lang="ja"><head><meta charset="utf-8"><title>フェリー各社、冬季の便数を削減｜湾岸日報</title>
<meta property="og:type" content="article"></head><body><div class="head"><h1>フェリー各社、冬季の便数を削減</h1>
<div class="hiduke">2026年12月1日 9時00分</div><div class="kisha">文／山口真一</div></div>
<article>{"".join(f"<p>{p}</p>" for p in JA)}</article></body></html>"""
    art = extract_article(page(html, lang="ja", tz="Asia/Tokyo", url="https://wangan.example.jp/news/20261201/a0042.html"))
    assert art.authors == ["山口真一"]
    assert [p.strip() for p in art.text.split("\n\n")] == JA
