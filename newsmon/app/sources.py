"""`newsmon sources`: the configured sources and their health (every source of sources.yaml
with its last crawl, last success, last error and failures in a row, for `status` and `sources
list`; the sources whose articles are still stored though sources.yaml no longer names them),
a check that fetches each entry URL once and says what it found, and the removal of a source
from sources.yaml (comments kept) and, with purge, from the store and every search backend."""
from __future__ import annotations

import os
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from newsmon.app.lock import RunLock
from newsmon.app.pipeline import open_store
from newsmon.crawler.discovery import describe_page, parse_listing
from newsmon.crawler.sources import Source, load_sources, select_sources
from newsmon.index.core import reasons
from newsmon.index.core.defaults import defaults_dir
from newsmon.index.core.errors import ConfigError, FetchError, IndexingError
from newsmon.index.core.settings import Settings
from newsmon.index.store import StoreBase


def configured_sources(settings: Settings) -> tuple[list[Source], str | None]:
    """The sources of [crawl] sources, or none and the error that kept them from loading
    (status must still show the store when sources.yaml is broken)."""
    try:
        return load_sources(settings.crawl.sources), None
    except ConfigError as exc:
        return [], str(exc)


def sources_health(settings: Settings, store: StoreBase | None) -> dict[str, Any]:
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




# -- check: fetch each entry URL once ---------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EntryCheck:
    """What one configured feed, sitemap or section URL answered."""

    source: str
    kind: str                   # feed | sitemap | section (as configured)
    url: str
    ok: bool                    # it answered what it is configured as, with something in it
    found: str                  # what it answered, in words
    http_status: int | None = None
    items: int | None = None    # entries (feed items, sitemap URLs, page links)
    articles: int | None = None  # of those, article URLs by the source's allow/deny rules

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fetch(settings: Settings, url: str) -> tuple[int, bytes, str | None, str]:
    """GET ``url`` with the crawl's user agent and timeout (and the environment's proxies)."""
    request = urllib.request.Request(url, headers={"User-Agent": settings.crawl.user_agent})
    with urllib.request.urlopen(request, timeout=settings.crawl.timeout) as response:
        body = response.read(settings.crawl.max_bytes + 1)
        return (response.status, body, response.headers.get("Content-Type"),
                response.geturl())


def check_entry(settings: Settings, source: Source, kind: str, url: str) -> EntryCheck:
    def result(ok: bool, found: str, **kw: Any) -> EntryCheck:
        return EntryCheck(source.id, kind, url, ok, found, **kw)

    try:
        status, body, ctype, final = _fetch(settings, url)
    except urllib.error.HTTPError as exc:
        return result(False, f"HTTP {exc.code}: {reasons.describe(reasons.http(exc.code))}",
                      http_status=exc.code)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        why = getattr(exc, "reason", exc)
        return result(False, f"no answer: {why}")
    moved = f" (redirected to {final})" if final != url else ""
    if len(body) > settings.crawl.max_bytes:
        return result(False, f"larger than [crawl] max_bytes ({settings.crawl.max_bytes})"
                             + moved, http_status=status)
    try:
        listing = parse_listing(body, final, content_type=ctype,
                                section_url=url if kind == "section" else None,
                                default_tz=source.default_tz(),
                                max_bytes=settings.crawl.max_bytes)
    except FetchError as exc:
        return result(False, f"{exc.reason}: {exc}{moved}", http_status=status)
    entries = listing.entries
    articles = sum(1 for e in entries if source.is_article_url(e.url))
    rules = f", {articles} of them article URLs by the source's rules"
    if listing.kind in ("rss", "rdf", "atom"):
        name = {"rss": "RSS", "rdf": "RSS 1.0 (RDF)", "atom": "Atom"}[listing.kind]
        return result(bool(entries), f"{name} feed with {len(entries)} items{rules}{moved}",
                      http_status=status, items=len(entries), articles=articles)
    if listing.kind == "sitemapindex":
        return result(kind != "feed" and bool(listing.sitemaps),
                      f"sitemap index listing {len(listing.sitemaps)} sitemaps{moved}",
                      http_status=status, items=len(listing.sitemaps))
    if listing.kind == "urlset":
        return result(kind != "feed" and bool(entries),
                      f"sitemap with {len(entries)} URLs{rules}{moved}", http_status=status,
                      items=len(entries), articles=articles)
    page = describe_page(body, final, len(entries))
    if kind != "section":
        return result(False, f"not a {kind}: {page}{moved}", http_status=status,
                      items=len(entries), articles=articles)
    return result(bool(entries), f"{page}{rules}{moved}", http_status=status,
                  items=len(entries), articles=articles)


def check_sources(settings: Settings, ids: Sequence[str] = ()) -> list[EntryCheck]:
    """Fetch every feed, sitemap and section URL of the sources named (or of every enabled
    one) once, and say what each answered."""
    chosen = select_sources(load_sources(settings.crawl.sources), list(ids))
    out: list[EntryCheck] = []
    for source in chosen:
        for kind, urls in (("feed", source.feeds), ("sitemap", source.sitemaps),
                           ("section", source.sections)):
            out.extend(check_entry(settings, source, kind, url) for url in urls)
    return out


# -- remove: out of sources.yaml, and with --purge out of the store and every index ----------
@dataclass(slots=True)
class Removed:
    source: str
    file: Path | None = None             # the sources file changed (None: it did not name it)
    previous: Path | None = None         # a copy of that file as it was
    comments_kept: bool = True
    articles: int | None = None          # articles purged (None: no purge asked)
    traces: dict[str, int] = field(default_factory=dict)   # crawl rows purged, per table
    backends: dict[str, int] = field(default_factory=dict)  # documents deleted, per backend
    backend_errors: dict[str, str] = field(default_factory=dict)


def _entry_lines(text: str, source_id: str) -> tuple[int, int] | None:
    """The lines [first, end) of the block-style entry of ``source_id``, from its dash to the
    last line of its own (comments and blank lines before the next entry stay with it); None
    when the file is written in flow style."""
    root = yaml.compose(text)
    seq = root
    if isinstance(root, yaml.MappingNode):
        seq = next((v for k, v in root.value if getattr(k, "value", None) == "sources"), None)
    if not isinstance(seq, yaml.SequenceNode) or seq.flow_style:
        return None
    items = seq.value
    lines = text.splitlines(keepends=True)
    starts = []
    for item in items:
        line = item.start_mark.line
        if not lines[line].lstrip().startswith("-"):
            line -= 1  # "-" alone on its line, the mapping below it
        starts.append(line)
    for i, item in enumerate(items):
        if not isinstance(item, yaml.MappingNode) or not any(
                getattr(k, "value", None) == "id" and getattr(v, "value", None) == source_id
                for k, v in item.value):
            continue
        if item.flow_style:
            return None
        first = starts[i]
        if i + 1 < len(items):
            end = starts[i + 1]
        else:  # the sequence ends where the next key (or the end of the file) begins
            mark = seq.end_mark
            end = mark.line if mark.column == 0 else mark.line + 1
        end = min(end, len(lines))
        dash = len(lines[first]) - len(lines[first].lstrip())
        while end - 1 > first:
            last = lines[end - 1]
            stripped = last.strip()
            indent = len(last) - len(last.lstrip())
            if not stripped or (stripped.startswith("#") and indent <= dash):
                end -= 1
            else:
                break
        return first, end
    return None


def remove_from_file(path: Path, source_id: str) -> bool:
    """Take ``source_id``'s entry out of the sources file ``path``, keeping every comment
    outside the entry when the file is in block style (returns True), else writing the file
    anew without comments (returns False). The result is loaded and checked before it
    replaces the file; a copy of the old file is left at ``<path>.bak``."""
    text = path.read_text(encoding="utf-8")
    before = [s.id for s in load_sources(path)]
    span = _entry_lines(text, source_id)
    kept = span is not None
    if span is not None:
        lines = text.splitlines(keepends=True)
        new = "".join(lines[:span[0]] + lines[span[1]:])
        if not [s for s in before if s != source_id]:
            new = re.sub(r"(?m)^sources:[ \t]*$", "sources: []", new, count=1)
    else:
        data = yaml.safe_load(text)
        entries = (data.get("sources") if isinstance(data, dict) else data) or []
        entries = [e for e in entries if not (isinstance(e, dict) and e.get("id") == source_id)]
        data = {**data, "sources": entries} if isinstance(data, dict) else entries
        new = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(new, encoding="utf-8")
    try:
        after = [s.id for s in load_sources(tmp)]
        if after != [s for s in before if s != source_id]:
            raise ConfigError(f"{path}: removing {source_id!r} would change other entries; "
                              f"edit the file by hand")
        shutil.copy2(path, path.with_name(path.name + ".bak"))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return kept


def purge_source(settings: Settings, source_id: str, out: Removed) -> None:
    """Delete the source's articles (change-feed tombstones left for every search backend),
    its crawl traces, and its documents in each search backend in use, under the run lock."""
    from newsmon.app.indexing import open_backend

    with RunLock(settings.data.lock_path, "sources remove"), open_store(settings) as store:
        ids = store.articles.ids_of_source(source_id)
        with store.transaction():
            out.articles = store.articles.delete(ids)
            out.traces = {k: v for k, v in store.crawl_health.forget(source_id).items() if v}
        names = ["sqlite"]
        if settings.index.backend == "elasticsearch" or \
                "backend:elasticsearch" in store.cursors.all():
            names.append("elasticsearch")
        for name in names:
            try:
                backend = open_backend(settings, store, name)
                try:
                    out.backends[name] = backend.delete_source(source_id)
                finally:
                    backend.close()
            except IndexingError as exc:
                # the store's tombstones remove them at that backend's next index run
                out.backend_errors[name] = str(exc).splitlines()[0] if str(exc) else \
                    type(exc).__name__


def remove_source(settings: Settings, source_id: str, *, purge: bool) -> Removed:
    """Take a source out of the sources file; with ``purge`` also out of the store and every
    search backend. A source the file no longer names can still be purged."""
    path = Path(settings.crawl.sources)
    sources = load_sources(path)
    out = Removed(source_id)
    if any(s.id == source_id for s in sources):
        if path.resolve().is_relative_to(defaults_dir().resolve()):
            raise ConfigError(
                f"{path} is newsmon's bundled sources file; make your own with `newsmon init` "
                f"(and point [crawl] sources at it) before removing sources")
        out.comments_kept = remove_from_file(path, source_id)
        out.file, out.previous = path, path.with_name(path.name + ".bak")
    elif not purge:
        raise ConfigError(f"{path} has no source {source_id!r}; known: "
                          f"{', '.join(s.id for s in sources)} (to delete the stored articles "
                          f"of a source no longer configured, add --purge)")
    if purge:
        purge_source(settings, source_id, out)
    return out


__all__ = ["configured_sources", "sources_health", "EntryCheck", "check_entry", "check_sources",
           "Removed", "remove_source", "remove_from_file", "purge_source"]
