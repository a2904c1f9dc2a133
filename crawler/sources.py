"""Sources are data (config/sources.yaml), loaded into frozen objects and validated strictly."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from newsmon.crawler.urls import Domains, host_of
from newsmon.index.core.errors import ConfigError
from newsmon.index.core.yamlfile import load_yaml

LANGS = ("en", "ja")
KEYS = {
    "id": "unique short name, [a-z0-9-]",
    "name": "display name",
    "lang": "en, ja, or a list of both",
    "feeds": "RSS/Atom feed URLs",
    "sitemaps": "sitemap or sitemap-index URLs (Google News sitemaps too)",
    "robots_sitemaps": "also read Sitemap: lines of each host's robots.txt (true/false)",
    "sections": "section/list pages whose links are article candidates",
    "allow": "regexes; an article URL must match one (default: any URL on the domains)",
    "deny": "regexes; an article URL matching one is skipped",
    "domains": "hosts that may be fetched (default: hosts of feeds, sitemaps and sections)",
    "tz": "time zone for dates printed without one (default: Asia/Tokyo for ja, UTC for en)",
    "enabled": "false to skip the source",
    "notes": "free text",
}
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
HOST_RE = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")


@dataclass(frozen=True, slots=True)
class Source:
    id: str
    name: str
    langs: tuple[str, ...]
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    robots_sitemaps: bool = False
    sections: tuple[str, ...] = ()
    allow: tuple[re.Pattern[str], ...] = ()
    deny: tuple[re.Pattern[str], ...] = ()
    domains: tuple[str, ...] = ()
    tz: str | None = None
    enabled: bool = True
    notes: str = ""

    @property
    def lang(self) -> str:
        """The main language (the first listed)."""
        return self.langs[0]

    @property
    def start_urls(self) -> tuple[str, ...]:
        return self.feeds + self.sitemaps + self.sections

    def default_tz(self) -> str:
        if self.tz:
            return self.tz
        return "Asia/Tokyo" if self.lang == "ja" else "UTC"

    @property
    def site(self) -> Domains:
        """Where the source's pages live: `domains` (and subdomains), and the exact hosts of the
        configured feeds, sitemaps and sections (feeds often live on another host, e.g. a CDN)."""
        return Domains(self.domains, tuple(dict.fromkeys(host_of(u) for u in self.start_urls)))

    def allows_domain(self, url: str) -> bool:
        """Whether `url` may be fetched: on the source's `site`."""
        return self.site.allows(url)

    def is_article_url(self, url: str) -> bool:
        """Whether a discovered URL may be an article of this source (domain, allow, deny)."""
        if not self.allows_domain(url):
            return False
        if any(p.search(url) for p in self.deny):
            return False
        return not self.allow or any(p.search(url) for p in self.allow)


def _where(path: Path, index: int, sid: Any) -> str:
    return f"{path}: sources[{index}]" + (f" (id={sid})" if sid else "")


def _url_list(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list):
        raise ConfigError(f"{where}: '{key}' must be a list of URLs")
    out = []
    for url in value:
        parts = urlsplit(url) if isinstance(url, str) else None
        if not parts or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{where}: '{key}' has {url!r}, which is not an http(s) URL")
        out.append(url)
    return tuple(out)


def _patterns(value: Any, where: str, key: str) -> tuple[re.Pattern[str], ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(f"{where}: '{key}' must be a list of regexes")
    out = []
    for pattern in value:
        try:
            out.append(re.compile(str(pattern)))
        except re.error as exc:
            raise ConfigError(f"{where}: '{key}' has a bad regex {pattern!r}: {exc}") from None
    return tuple(out)


def parse_source(raw: Any, path: Path, index: int) -> Source:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: sources[{index}] must be a mapping with keys {sorted(KEYS)}")
    sid = raw.get("id")
    where = _where(path, index, sid)
    unknown = set(raw) - set(KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
            f"allowed: {', '.join(sorted(KEYS))}"
        )
    if not isinstance(sid, str) or not ID_RE.match(sid):
        raise ConfigError(f"{where}: 'id' must be lower-case letters, digits and '-'")
    name = raw.get("name") or sid
    if not isinstance(name, str):
        raise ConfigError(f"{where}: 'name' must be a string")
    lang = raw.get("lang")
    langs = tuple(lang) if isinstance(lang, list) else (lang,)
    if not langs or any(code not in LANGS for code in langs):
        raise ConfigError(f"{where}: 'lang' is {lang!r}; allowed values: en, ja (or a list)")
    feeds = _url_list(raw.get("feeds"), where, "feeds")
    sitemaps = _url_list(raw.get("sitemaps"), where, "sitemaps")
    sections = _url_list(raw.get("sections"), where, "sections")
    robots_sitemaps = raw.get("robots_sitemaps", False)
    enabled = raw.get("enabled", True)
    for key, value in (("robots_sitemaps", robots_sitemaps), ("enabled", enabled)):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: '{key}' must be true or false, not {value!r}")
    if not (feeds or sitemaps or sections):
        raise ConfigError(f"{where}: give at least one of 'feeds', 'sitemaps', 'sections'")
    domains_raw = raw.get("domains")
    if domains_raw is None:
        domains = tuple(sorted({(urlsplit(u).hostname or "").lower()
                                for u in feeds + sitemaps + sections}))
    elif isinstance(domains_raw, list) and all(
        isinstance(d, str) and HOST_RE.match(d.lstrip(".")) for d in domains_raw
    ):
        domains = tuple(d.lower().lstrip(".") for d in domains_raw)
    else:
        # A URL here ("https://bbc.com") would never equal a host, so every link would be dropped.
        raise ConfigError(
            f"{where}: 'domains' must be a list of host names (like 'bbc.co.uk'), "
            f"got {domains_raw!r}"
        )
    tz = raw.get("tz")
    if tz is not None:
        try:
            ZoneInfo(str(tz))
        except (ZoneInfoNotFoundError, ValueError, OSError):
            # OSError: a key naming a tzdata folder ("America") raises IsADirectoryError.
            raise ConfigError(f"{where}: 'tz' {tz!r} is not a known time zone") from None
    notes = raw.get("notes", "")
    return Source(
        id=sid, name=name, langs=langs, feeds=feeds, sitemaps=sitemaps,
        robots_sitemaps=robots_sitemaps, sections=sections,
        allow=_patterns(raw.get("allow"), where, "allow"),
        deny=_patterns(raw.get("deny"), where, "deny"),
        domains=domains, tz=str(tz) if tz else None, enabled=enabled, notes=str(notes),
    )


def load_sources(path: str | Path) -> list[Source]:
    """Load and validate a sources file; raise ConfigError naming the file, entry and key."""
    path = Path(path)
    data = load_yaml(path, "sources")
    if isinstance(data, dict) and set(data) <= {"sources", "version"}:
        data = data.get("sources")
    if not isinstance(data, list):
        raise ConfigError(f"{path}: expected a list of sources (or a mapping with 'sources:')")
    sources = [parse_source(raw, path, i) for i, raw in enumerate(data)]
    seen: set[str] = set()
    for i, src in enumerate(sources):
        if src.id in seen:
            raise ConfigError(f"{_where(path, i, src.id)}: duplicate id {src.id!r}")
        seen.add(src.id)
    return sources


def select_sources(sources: list[Source], ids: list[str] | tuple[str, ...] | None) -> list[Source]:
    """The enabled sources, or exactly those named (an unknown name is a usage error)."""
    if not ids:
        return [s for s in sources if s.enabled]
    by_id = {s.id: s for s in sources}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise ConfigError(
            f"unknown source id(s): {', '.join(missing)}; known: {', '.join(sorted(by_id))}"
        )
    return [by_id[i] for i in ids]


__all__ = ["Source", "LANGS", "load_sources", "parse_source", "select_sources"]
