"""Instants as the store writes them (UTC ISO 8601, so that text comparison in SQL orders them),
and the one way every layer reads them back: `parse_iso` for stored values, `parse_since` for
what a user types (--since, the API's since/until)."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from newsmon.index.core.errors import ConfigError

RELATIVE = re.compile(r"^(\d+)([hdw])$")
UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc_iso(value: datetime | None) -> str | None:
    """An instant in UTC ISO form (naive values are taken as UTC); None stays None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def now_iso() -> str:
    return utcnow().isoformat(timespec="seconds")


def parse_iso(value: str | None) -> datetime | None:
    """A stored ISO instant, zone-aware (a value without a zone is UTC, as the store writes it);
    None or "" is None. A malformed value raises ValueError."""
    if not value:
        return None
    when = datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_since(value: str, *, now: datetime | None = None, option: str = "--since") -> datetime:
    """An ISO date or date-time (no zone = UTC), or a span back from now: 24h, 7d, 2w; in UTC.

    Anything else, or an instant outside the years 1-9999 (``999999w``, a 5000-digit count,
    ``0001-01-01T00:00+09:00``), is a ConfigError naming ``option`` and the value."""
    text = value.strip()
    match = RELATIVE.match(text)
    try:
        if match:
            now = now or datetime.now(UTC)
            return now - timedelta(**{UNITS[match[2]]: int(match[1])})
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        # ValueError after a RELATIVE match: int() refuses a count of thousands of digits
        if match or isinstance(exc, OverflowError):
            raise ConfigError(f"{option} {value!r}: out of range (a date must fall in the years "
                              f"1 to 9999)") from None
        raise ConfigError(
            f"{option} {value!r}: give an ISO date (2025-03-01), date-time "
            f"(2025-03-01T09:00+09:00) or a span such as 24h, 7d, 2w"
        ) from None


def zone(name: str, key: str = "[display].timezone") -> tzinfo:
    """The zone times are shown in: an IANA name, or "" for this machine's local zone.
    ConfigError naming ``key`` for a name the zone database lacks."""
    if not name:
        local = datetime.now().astimezone().tzinfo
        assert local is not None  # astimezone() always sets one
        return local
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(f"{key} {name!r} is not a known time zone (an IANA name such as "
                          f"\"Asia/Tokyo\", or \"\" for this machine's zone)") from None


def local_iso(value: str | datetime | None, tz: tzinfo) -> str | None:
    """An instant as ISO 8601 in the zone ``tz``, with its offset (2025-03-12T23:10:00+09:00);
    None, "" and text that is not an instant come back as they are."""
    if not value:
        return None
    if isinstance(value, str):
        try:
            when = parse_iso(value)
        except ValueError:
            return value
        assert when is not None
    else:
        when = value if value.tzinfo else value.replace(tzinfo=UTC)
    return when.astimezone(tz).isoformat()


__all__ = ["utcnow", "utc_iso", "now_iso", "parse_iso", "parse_since", "zone", "local_iso"]
