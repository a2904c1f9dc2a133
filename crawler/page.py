"""A fetched page on its way to extraction: plain data, picklable, so extraction can run in
worker processes beside the crawler."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from newsmon.crawler.urls import Domains


@dataclass(frozen=True, slots=True)
class Page:
    url: str  # final URL, after redirects
    body: bytes  # raw bytes as received (decompressed), decoded by extraction
    source: str  # source id
    lang: str  # the source's main language: "en" or "ja"
    tz: str  # zone for dates printed without one, e.g. "Asia/Tokyo"
    fetched_at: datetime
    content_type: str | None = None  # the Content-Type header, with any charset parameter
    requested_url: str | None = None  # the URL as discovered, before redirects
    etag: str | None = None
    last_modified: str | None = None
    http_status: int = 200
    site: Domains | None = None  # the source's domains; None: the page's own host
