"""An Atom feed as a feed reader reads it (feedparser), and RFC 4287's required elements."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import feedparser

ATOM = "{http://www.w3.org/2005/Atom}"
A = ATOM


def check_atom(raw: bytes) -> feedparser.FeedParserDict:
    """RFC 4287's required elements, read by ElementTree, and the feed as feedparser reads it."""
    root = ET.fromstring(raw)
    assert root.tag == f"{A}feed"
    for tag in ("id", "title", "updated"):
        assert len(root.findall(f"{A}{tag}")) == 1, tag
    feed_author = root.find(f"{A}author/{A}name") is not None
    for entry in root.findall(f"{A}entry"):
        for tag in ("id", "title", "updated"):
            assert len(entry.findall(f"{A}{tag}")) == 1, tag
        # an author on the feed or on every entry; a link or content on every entry
        assert feed_author or entry.find(f"{A}author/{A}name") is not None
        assert entry.find(f"{A}content") is not None or entry.find(
            f"{A}link[@rel='alternate']") is not None
    parsed = feedparser.parse(raw)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed
