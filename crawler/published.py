"""The published instant of a crawled article: the page's date reconciled with the date of the
feed or news-sitemap entry that led to it.

Pages often give a date only (``dcterms.date`` "2026-12-08", "8 December 2026") while their RSS
``pubDate`` gives the time; stored as midnight UTC, such an article is hours off (on one unseen
site, 8 articles 9 to 18 hours). Extraction keeps a date-only date as the start of its day in
the source's zone and flags it ``date_only``; here the listing's time is taken when both name
the same day in that zone. Kept out of ``crawler.extract`` so that the crawl process does not
import the extractor (it runs in worker processes).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["DATE_ONLY", "FAR_OFF", "LISTING_DATE_DIFFERS", "TIME_FROM_LISTING",
           "reconcile_published"]

DATE_ONLY = "date_only"  # article flag: the page gave a date without a time of day
TIME_FROM_LISTING = "time_from_listing"  # ...and the feed/sitemap entry gave the time
LISTING_DATE_DIFFERS = "listing_date_differs"  # page and listing dates far apart: page kept
FAR_OFF = timedelta(hours=48)


def reconcile_published(published: datetime | None, flags: list[str], listed: datetime | None,
                        tz: str) -> tuple[datetime | None, list[str]]:
    """The published instant, given the date of the feed or news-sitemap entry that led to the
    page (``listed``). A date-only page date takes the listing's time when both name the same
    day in the source's zone ``tz``; otherwise it stays the start of its day in that zone. A
    page date far from the listing's is kept and flagged, for a reader to check."""
    if listed is None:
        return published, flags
    if published is None:
        return listed, [*flags, "published_from_listing"]
    zone = ZoneInfo(tz)
    if DATE_ONLY in flags:
        if listed.astimezone(zone).date() == published.astimezone(zone).date():
            return listed, [*flags, TIME_FROM_LISTING]
        if abs(listed - published) > FAR_OFF:
            return published, [*flags, LISTING_DATE_DIFFERS]
        return published, flags
    if abs(listed - published) > FAR_OFF:
        return published, [*flags, LISTING_DATE_DIFFERS]
    return published, flags
