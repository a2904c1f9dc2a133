"""Which crawl shard a source belongs to: its registrable domain, hashed into one of S shards.

A crawl job holds its shard's lock, so every host of one registrable domain (www., feeds.,
the bare domain) is in at most one Scrapy process at a time, and Scrapy's per-process delay,
AutoThrottle and robots handling hold on any number of machines.

The registrable domain is the public suffix plus one label. The full Public Suffix List has
~10,000 rules and changes monthly; tldextract fetches it over the network at first use. The
sites newsmon monitors are English and Japanese news, so this module knows the multi-label
suffixes they live under (co.uk, co.jp, ne.jp, go.jp, com.au, …) and otherwise takes the last
two labels. A suffix missing here only merges or splits shards, never breaks a crawl: two
registrable domains wrongly in one shard are crawled one after the other, which is still polite.
"""
from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from newsmon.crawler.sources import Source

# second-level public suffixes under the country codes of the news newsmon reads (from the
# Public Suffix List's ICANN section); a registrable domain under one takes three labels
_SECOND_LEVEL = frozenset(
    f"{label}.{tld}" for tld, labels in {
        "uk": "co ac gov ltd me net nhs org plc police sch",
        "jp": "ac ad co ed go gr lg ne or",
        "au": "com net org edu gov asn id",
        "nz": "co ac govt net org school",
        "za": "co ac gov net org",
        "in": "co net org gen firm ind ac edu gov res",
        "kr": "co ne or re go ac",
        "cn": "com net org gov edu ac",
        "hk": "com net org gov edu idv",
        "tw": "com net org gov edu idv",
        "sg": "com net org gov edu per",
        "br": "com net org gov edu",
        "il": "co ac org gov net muni",
    }.items() for label in labels.split())
# Japanese prefecture names are public suffixes too (e.g. city.shibuya.tokyo.jp): a geographic
# .jp name takes four labels
_JP_PREFECTURES = frozenset(
    "aichi akita aomori chiba ehime fukui fukuoka fukushima gifu gunma hiroshima hokkaido hyogo "
    "ibaraki ishikawa iwate kagawa kagoshima kanagawa kochi kumamoto kyoto mie miyagi miyazaki "
    "nagano nagasaki nara niigata oita okayama okinawa osaka saga saitama shiga shimane shizuoka "
    "tochigi tokushima tokyo tottori toyama wakayama yamagata yamaguchi yamanashi".split())


def registrable_domain(host: str) -> str:
    """``www.bbc.co.uk`` → ``bbc.co.uk``; ``news.yahoo.co.jp`` → ``yahoo.co.jp``; an IP
    address (a loopback test web) is its own."""
    host = host.strip().rstrip(".").lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    labels = host.split(".")
    if len(labels) <= 2:
        return host
    keep = 2
    if ".".join(labels[-2:]) in _SECOND_LEVEL:
        keep = 3
    elif labels[-1] == "jp" and labels[-2] in _JP_PREFECTURES:
        keep = 4  # city.<city>.<prefecture>.jp names register under <city>.<prefecture>.jp
    return ".".join(labels[-keep:])


def source_domain(source: Source) -> str:
    """The registrable domain of the source's first listing (feed, sitemap or section)."""
    for url in source.start_urls:
        host = urlsplit(url).hostname
        if host:
            return registrable_domain(host)
    # a source with no listing is never crawled; its id keeps its shard stable
    return source.id


def shard_of(domain: str, shards: int) -> int:
    """A stable shard number in [0, shards): the same on every machine and Python (not
    ``hash()``, which is salted per process)."""
    digest = hashlib.blake2b(domain.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def shard_sources(sources: Iterable[Source], shards: int) -> dict[int, list[Source]]:
    """shard -> its sources (only shards that have some), in source order."""
    out: dict[int, list[Source]] = {}
    for source in sources:
        out.setdefault(shard_of(source_domain(source), shards), []).append(source)
    return dict(sorted(out.items()))


__all__ = ["registrable_domain", "source_domain", "shard_of", "shard_sources"]
