"""parse_date / find_dates: the forms news pages and feeds print, Japanese beside English."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from newsmon.crawler.dates import find_dates, parse_date

JST = ZoneInfo("Asia/Tokyo")
UTC = UTC


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, tz=JST) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz)


@pytest.mark.parametrize(
    "text, expected",
    [
        # ISO 8601 / machine-readable
        ("2026-11-13T10:45:00+00:00", at(2026, 11, 13, 10, 45, UTC)),
        ("2026-11-13T10:45:00Z", at(2026, 11, 13, 10, 45, UTC)),
        ("2026-11-13T19:20:00+09:00", at(2026, 11, 13, 19, 20)),
        ("2026-11-13T19:20:00.000+0900", at(2026, 11, 13, 19, 20)),
        ("2026-11-13 19:20", at(2026, 11, 13, 19, 20)),  # no zone: the source's zone
        ("2026-11-13", at(2026, 11, 13)),
        # RFC 2822 (RSS)
        ("Fri, 13 Nov 2026 10:45:00 GMT", at(2026, 11, 13, 10, 45, UTC)),
        ("Fri, 13 Nov 2026 19:45:00 +0900", at(2026, 11, 13, 19, 45)),
        # Japanese
        ("2026年11月15日 18時30分", at(2026, 11, 15, 18, 30)),
        ("2026年11月9日 0時40分", at(2026, 11, 9, 0, 40)),
        ("2026年11月14日 7時00分", at(2026, 11, 14, 7, 0)),
        ("２０２６年１１月１５日　１８時３０分", at(2026, 11, 15, 18, 30)),
        ("２０２６年１１月１５日", at(2026, 11, 15)),
        ("令和8年11月15日", at(2026, 11, 15)),
        ("令和元年5月1日", at(2019, 5, 1)),
        ("平成31年4月30日", at(2019, 4, 30)),
        ("2026年11月15日（日）午後7時5分", at(2026, 11, 15, 19, 5)),
        ("2026年11月15日 午前0時", at(2026, 11, 15, 0, 0)),
        ("2026/11/13 19:20", at(2026, 11, 13, 19, 20)),
        ("2026/11/13", at(2026, 11, 13)),
        ("（更新 2026/11/14 08:05）", at(2026, 11, 14, 8, 5)),
        # English prose dates
        ("Fri 13 Nov 2026 10.45 GMT", at(2026, 11, 13, 10, 45, UTC)),
        ("13 November 2026", at(2026, 11, 13)),
        ("November 13, 2026 at 6:01 am EST", datetime(2026, 11, 13, 6, 1, tzinfo=timezone(timedelta(hours=-5)))),
        ("Nov. 13, 2026, 3:05 p.m. ET", datetime(2026, 11, 13, 15, 5, tzinfo=ZoneInfo("America/New_York"))),
        ("Updated 14 November 2026 09:00 BST", datetime(2026, 11, 14, 9, 0, tzinfo=timezone(timedelta(hours=1)))),
    ],
)
def test_parse_date(text: str, expected: datetime) -> None:
    value = parse_date(text, "Asia/Tokyo")
    assert value is not None and value.tzinfo is not None
    assert value == expected  # the same instant
    assert value.utcoffset() == expected.utcoffset()


def test_default_zone_applies_only_without_a_zone() -> None:
    assert parse_date("2026/11/13 19:20", "Europe/London") == at(2026, 11, 13, 19, 20, ZoneInfo("Europe/London"))
    assert parse_date("2026-11-13T19:20:00+09:00", "Europe/London") == at(2026, 11, 13, 19, 20)
    assert parse_date("2026-11-13 19:20", None).tzinfo is not None  # falls back to UTC


@pytest.mark.parametrize("text", ["", None, "nonsense", "yesterday", "2026年13月40日", "1850-01-01", "Page 12 of 40"])
def test_unparseable_or_implausible_is_none(text: str | None) -> None:
    assert parse_date(text, "Asia/Tokyo") is None


def test_find_dates_in_visible_text_in_order() -> None:
    text = "重要鉱物で日英が枠組み\n2026年11月15日 18時30分\n関連記事（2026年11月13日 20時05分）"
    found = find_dates(text, "Asia/Tokyo")
    assert [f.value for f in found] == [at(2026, 11, 15, 18, 30), at(2026, 11, 13, 20, 5)]
    assert all(f.has_time for f in found)


def test_find_dates_english_and_iso_mixed() -> None:
    text = "By Eleanor Price · Fri 13 Nov 2026 10.45 GMT · first published 2026-11-12"
    found = find_dates(text, "Europe/London")
    assert [f.value for f in found] == [at(2026, 11, 13, 10, 45, UTC), at(2026, 11, 12, tz=ZoneInfo("Europe/London"))]
    assert [f.has_time for f in found] == [True, False]


def test_find_dates_limit() -> None:
    assert len(find_dates("2026/11/13 と 2026/11/14", "Asia/Tokyo", limit=1)) == 1
