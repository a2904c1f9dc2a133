"""The configured sources and their health: every source of sources.yaml with its last crawl,
last success, last error and failures in a row (`newsmon status`, `newsmon sources list`), and
the sources whose articles are still stored though sources.yaml no longer names them."""
from __future__ import annotations

from typing import Any

from newsmon.crawler.sources import Source, load_sources
from newsmon.index.core.errors import ConfigError
from newsmon.index.core.settings import Settings
from newsmon.index.store import Store


def configured_sources(settings: Settings) -> tuple[list[Source], str | None]:
    """The sources of [crawl] sources, or none and the error that kept them from loading
    (status must still show the store when sources.yaml is broken)."""
    try:
        return load_sources(settings.crawl.sources), None
    except ConfigError as exc:
        return [], str(exc)


def sources_health(settings: Settings, store: Store | None) -> dict[str, Any]:
    """``sources``: one entry per configured source (its health, or ``never crawled``, and
    its stored articles); ``unconfigured``: sources not in sources.yaml any more whose articles
    are still stored (purge them with `newsmon sources remove ID --purge`); ``error``: why
    sources.yaml could not be read, if it could not."""
    sources, error = configured_sources(settings)
    health = store.crawl_health.all() if store is not None else {}
    articles = store.articles.count_by("source") if store is not None else {}
    out = []
    for src in sources:
        h = health.get(src.id)
        entry: dict[str, Any] = h.as_dict() if h else {"source": src.id, "state": "never crawled"}
        if not src.enabled:
            entry["state"] = "disabled"
        entry["name"] = src.name
        entry["articles"] = articles.get(src.id, 0)
        out.append(entry)
    known = {s.id for s in sources}
    unconfigured = [] if error else [
        {"source": sid, "articles": n} for sid, n in sorted(articles.items()) if sid not in known]
    return {"sources": out, "unconfigured": unconfigured, "error": error,
            "file": str(settings.crawl.sources)}


__all__ = ["configured_sources", "sources_health"]
