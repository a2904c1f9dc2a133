"""Dates as news pages and feeds print them, parsed to timezone-aware datetimes.

Handles ISO 8601, RFC 2822 (feeds), Japanese forms (``2026年11月15日 18時30分``, ``令和8年``,
full-width digits, ``午後7時``), slashed dates (``2026/11/13 19:20``) and English prose dates
(``Fri 13 Nov 2026 10.45 GMT``, ``November 13, 2026 at 6:01 am EST``). A date printed without a
zone is read in the source's zone (``default_tz``), which is how the page's readers read it.
"""
from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from newsmon.crawler.text import normalize

# first year of each Japanese era (era year 1 = this Gregorian year)
_ERAS = {"令和": 2019, "平成": 1989, "昭和": 1926, "R": 2019, "H": 1989, "S": 1926}

_MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}

# Zone abbreviations common in English-language news. Ambiguous ones (IST, CST) take the reading
# used by the outlets we monitor: Indian / US Central.
_ZONES = {
    "utc": 0, "gmt": 0, "z": 0, "ut": 0, "bst": 60, "ist": 330, "cet": 60, "cest": 120,
    "eet": 120, "eest": 180, "wet": 0, "west": 60, "est": -300, "edt": -240, "cst": -360,
    "cdt": -300, "mst": -420, "mdt": -360, "pst": -480, "pdt": -420, "akst": -540,
    "akdt": -480, "hst": -600, "jst": 540, "kst": 540, "aest": 600, "aedt": 660, "acst": 570,
    "acdt": 630, "awst": 480, "nzst": 720, "nzdt": 780, "sgt": 480, "hkt": 480,
}

_MONTH_RE = (
    r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_TIME_RE = (
    r"(?:(?:,|\s+at|\s*-|\s*\|)?\s*(?P<h>\d{1,2})[:.](?P<mi>\d{2})(?:[:.](?P<s>\d{2}))?"
    r"\s*(?P<ampm>[ap]\.?m\.?)?)?"
)
_ZONE_RE = r"(?:\s*\(?(?P<tz>[A-Za-z]{1,5}|[+-]\d{2}:?\d{2}|(?:GMT|UTC)[+-]\d{1,2}(?::?\d{2})?)\)?)?"

_JA = re.compile(
    r"(?:(?P<era>令和|平成|昭和)(?P<ey>\d{1,2}|元)|(?P<y>\d{4}))\s*年\s*(?P<m>\d{1,2})\s*月\s*"
    r"(?P<d>\d{1,2})\s*日(?:\s*[（(][月火水木金土日](?:曜日?)?[）)])?"
    r"(?:\s*(?P<ampm>午前|午後)?\s*(?P<h>\d{1,2})\s*(?:時\s*(?:(?P<mi>\d{1,2})\s*分)?|[:：](?P<mi2>\d{2})))?"
)
_NUMERIC = re.compile(
    r"(?<!\d)(?P<y>\d{4})(?P<sep>[/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})(?!\d)"
    r"(?:\s*[（(][月火水木金土日A-Za-z]{1,3}\.?[）)])?"
    r"(?:[\sT]+(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?)?"
)
_DMY = re.compile(
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+"
    + _MONTH_RE + r",?\s+(?P<y>\d{4})" + _TIME_RE + _ZONE_RE,
    re.I,
)
_MDY = re.compile(
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?" + _MONTH_RE
    + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})" + _TIME_RE + _ZONE_RE,
    re.I,
)
_ISO = re.compile(
    r"(?<!\d)\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?!\d)"
)


@dataclass(frozen=True, slots=True)
class FoundDate:
    value: datetime
    start: int  # character offsets in the (NFKC-normalised) text searched
    end: int
    has_time: bool


@lru_cache(maxsize=64)
def _zone(name: str | None) -> tzinfo:
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


# Zone names printed without standard/daylight distinction: the zone's rules decide the offset.
_REGIONS = {"et": "America/New_York", "ct": "America/Chicago", "mt": "America/Denver", "pt": "America/Los_Angeles"}


def _offset(label: str | None) -> tzinfo | None:
    if not label:
        return None
    low = label.lower()
    if low in _REGIONS:
        return _zone(_REGIONS[low])
    if low in _ZONES:
        return timezone(timedelta(minutes=_ZONES[low]))
    m = re.fullmatch(r"(?:gmt|utc)?([+-])(\d{1,2}):?(\d{2})?", low)
    if m:
        minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
        return timezone(timedelta(minutes=minutes if m.group(1) == "+" else -minutes))
    return None


def _build(
    y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, tz: tzinfo | None = None
) -> datetime | None:
    try:
        return datetime(y, mo, d, h, mi, s, tzinfo=tz)
    except ValueError:
        return None


def _hour(h: str | None, ampm: str | None) -> int:
    hour = int(h or 0)
    if ampm:
        pm = ampm.lower().startswith("p") or ampm == "午後"
        if pm and hour < 12:
            hour += 12
        elif not pm and hour == 12:
            hour = 0
    return hour


def _plausible(value: datetime) -> bool:
    return 1990 <= value.year <= 2100


def _match_ja(m: re.Match[str], tz: tzinfo) -> datetime | None:
    if m.group("era"):
        ey = m.group("ey")
        year = _ERAS[m.group("era")] + (1 if ey == "元" else int(ey)) - 1
    else:
        year = int(m.group("y"))
    minute = m.group("mi") or m.group("mi2")
    return _build(year, int(m.group("m")), int(m.group("d")), _hour(m.group("h"), m.group("ampm")),
                  int(minute or 0), tz=tz)


def _match_numeric(m: re.Match[str], tz: tzinfo) -> datetime | None:
    return _build(
        int(m.group("y")), int(m.group("m")), int(m.group("d")),
        int(m.group("h") or 0), int(m.group("mi") or 0), int(m.group("s") or 0), tz=tz,
    )


def _match_english(m: re.Match[str], tz: tzinfo) -> datetime | None:
    month = _MONTHS.get(m.group("mon").lower().rstrip("."))
    if month is None:
        return None
    zone = _offset(m.group("tz")) or tz
    return _build(
        int(m.group("y")), month, int(m.group("d")), _hour(m.group("h"), m.group("ampm")),
        int(m.group("mi") or 0), int(m.group("s") or 0), tz=zone,
    )


def _iso(text: str, tz: tzinfo) -> datetime | None:
    value = text.strip()
    if len(value) == 10:
        try:
            return datetime.combine(date.fromisoformat(value), time(), tz)
        except ValueError:
            return None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T", 1) if len(value) > 10 and value[10] == " " else value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def parse_date(text: str | None, default_tz: str | None = "UTC") -> datetime | None:
    """Parse one date string into an aware datetime, or None when it is not a date we can read.

    ``default_tz`` (an IANA zone name) applies when the string carries no zone of its own.
    """
    if not text:
        return None
    tz = _zone(default_tz)
    raw = normalize(text)
    if not raw:
        return None
    value = _iso(raw, tz)
    if value is None and re.match(r"^\d{4}-\d{2}-\d{2}", raw):
        m = _ISO.match(raw)
        value = _iso(m.group(0), tz) if m else None
    if value is None and re.search(r"[A-Za-z]{3}.*\d{2}:\d{2}", raw):
        try:
            value = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            value = None
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=tz)
        if value is not None and "-0000" in raw:
            value = value.replace(tzinfo=UTC)  # RFC 2822: -0000 means UTC, zone unknown
    if value is None:
        found = find_dates(raw, default_tz, limit=1)
        value = found[0].value if found else None
    if value is None:
        # epoch seconds or milliseconds, as some JSON APIs and data attributes carry them
        if re.fullmatch(r"\d{10}(\d{3})?", raw):
            secs = int(raw) / (1000 if len(raw) == 13 else 1)
            value = datetime.fromtimestamp(secs, tz=UTC)
    if value is not None and not _plausible(value):
        return None
    return value


def find_dates(text: str, default_tz: str | None = "UTC", limit: int | None = None) -> list[FoundDate]:
    """Dates printed in visible text, in order of appearance (offsets into ``normalize(text)``)."""
    tz = _zone(default_tz)
    norm = normalize(text)
    found: list[FoundDate] = []
    taken: list[tuple[int, int]] = []

    def add(m: re.Match[str], value: datetime | None, has_time: bool) -> None:
        if value is None or not _plausible(value):
            return
        if any(m.start() < e and s < m.end() for s, e in taken):
            return
        taken.append((m.start(), m.end()))
        found.append(FoundDate(value, m.start(), m.end(), has_time))

    for m in _ISO.finditer(norm):
        add(m, _iso(m.group(0), tz), len(m.group(0)) > 10)
    for m in _JA.finditer(norm):
        add(m, _match_ja(m, tz), m.group("h") is not None)
    for m in _NUMERIC.finditer(norm):
        add(m, _match_numeric(m, tz), m.group("h") is not None)
    for rx in (_DMY, _MDY):
        for m in rx.finditer(norm):
            add(m, _match_english(m, tz), m.group("h") is not None)
    found.sort(key=lambda f: f.start)
    return found[:limit] if limit else found


__all__ = ["FoundDate", "find_dates", "parse_date"]
