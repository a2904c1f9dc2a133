"""When the article was published and updated: declared dates first (JSON-LD, meta tags,
microdata, a <time> under the headline), then dates printed under the headline."""
from __future__ import annotations

import re
from datetime import datetime

from newsmon.crawler.dates import find_dates, parse_date
from newsmon.crawler.extract.metadata import PageMetadata
from newsmon.crawler.extract.visible import Visible
from newsmon.crawler.published import DATE_ONLY
from newsmon.crawler.text import normalize

__all__ = ["DATE_ONLY", "has_time", "page_dates"]



_UPDATED_MARK = re.compile(r"(更新|updated|modified|last updated)", re.I)
# a time of day in a declared date string: "T10:30", "10:30", "18時", "18時30分"
_HAS_TIME = re.compile(r"T\d{1,2}|\d{1,2}\s*[:：]\s*\d{2}|\d{1,2}\s*時")


def has_time(raw: str) -> bool:
    """Whether a declared date string gives a time of day (else it is a date only)."""
    return bool(_HAS_TIME.search(normalize(raw)))


def page_dates(meta: PageMetadata, vis: Visible, tz: str
               ) -> tuple[datetime | None, datetime | None, str | None, bool]:
    """(published, updated, where published came from: jsonld, meta, itemprop, time or visible,
    whether published has a time of day). A date without a time is kept as the start of that
    day in the source's zone ``tz``, never UTC midnight, and reported as date-only."""
    published: datetime | None = None
    origin: str | None = None
    precise = False
    for origin_name, values in (
        ("jsonld", [meta.ld_published]),
        ("meta", meta.meta_published),
        ("itemprop", meta.itemprop_published),
        ("time", vis.time_after_h1),
    ):
        for raw in values:
            value = parse_date(raw, tz)
            if value is not None:
                published, origin, precise = value, origin_name, raw is not None and has_time(raw)
                break
        if published is not None:
            break
    window = vis.after_h1(300)
    seen = find_dates(window, tz) if window else []
    if published is None and seen:
        published, origin, precise = seen[0].value, "visible", seen[0].has_time
    updated: datetime | None = None
    for raw in [meta.ld_modified, *meta.meta_modified, *meta.itemprop_modified]:
        updated = parse_date(raw, tz)
        if updated is not None:
            break
    if updated is None and seen:
        norm_window = normalize(window)  # the text find_dates' offsets point into
        for found in seen:
            if _UPDATED_MARK.search(norm_window[max(0, found.start - 12) : found.start]) and (
                published is None or found.value >= published
            ):
                updated = found.value
                break
    return published, updated, origin, precise

