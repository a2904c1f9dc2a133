"""Japanese bylines out of the body into fields, and date precision against the listing date."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

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
