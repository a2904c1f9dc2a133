"""`newsmon export`'s use case: the stored articles that pass the filters (published since/until
an instant, sources, languages, topics), as JSON lines (Article.to_dict() with sorted keys) or
as CSV (one row per article, the columns of CSV_COLUMNS, lists joined), to a stream or a file.

Times are ISO 8601 with their offset in both formats, as the article was published."""
from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from newsmon.index.core.article import Article
from newsmon.index.core.errors import ConfigError
from newsmon.index.core.settings import Settings
from newsmon.index.store import StoreBase, open_store

FORMATS = ("jsonl", "csv")
# what a spreadsheet needs, in reading order; every field is in the jsonl export
CSV_COLUMNS = ("id", "published", "source", "lang", "title", "url", "authors", "topics",
               "entities", "story", "section", "description", "text", "fetched_at", "status",
               "stage")
# lists in a CSV cell: joined by this, which no topic name or entity id contains
LIST_SEPARATOR = "; "


@dataclass(frozen=True, slots=True)
class ExportFilter:
    """Which articles to export: each given filter must hold (an empty one holds for all).

    ``until`` is exclusive. An article without a publication date passes only when neither
    ``since`` nor ``until`` is given; ``topics`` are topic labels (an article tagged with any
    of them passes)."""
    since: datetime | None = None
    until: datetime | None = None
    sources: Collection[str] = ()
    langs: Collection[str] = ()
    topics: Collection[str] = ()

    def admits(self, art: Article) -> bool:
        if self.until is not None and (art.published is None or art.published >= self.until):
            return False
        if self.langs and art.lang not in self.langs:
            return False
        if self.topics and not any(_labelled(art, t) for t in self.topics):
            return False
        return True


def _labelled(art: Article, topic: str) -> bool:
    return bool((art.topics.get(topic) or {}).get("label"))


def articles_since(store: StoreBase, since: datetime | None) -> Iterator[Article]:
    """Articles published at or after `since` (all of them when None), in id order. The store
    keeps `published` in UTC, so its comparison is exact whatever zone `since` is given in."""
    return store.articles.iter(since=since)


def select_articles(store: StoreBase, flt: ExportFilter) -> Iterator[Article]:
    """The articles `flt` admits, in id order (source by source when sources are named)."""
    if not flt.sources:
        yield from filter(flt.admits, articles_since(store, flt.since))
        return
    for source in dict.fromkeys(flt.sources):
        yield from filter(flt.admits, store.articles.iter(since=flt.since, source=source))


def write_jsonl(articles: Iterator[Article], out: TextIO) -> int:
    n = 0
    for art in articles:
        out.write(json.dumps(art.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
        n += 1
    return n


def csv_row(art: Article) -> dict[str, Any]:
    """One CSV row: scalars as they are, times ISO with offset, lists joined by LIST_SEPARATOR
    (topics: the labelled ones; entities: their ids, most mentioned first)."""
    d = art.to_dict()
    row = {key: d.get(key) for key in CSV_COLUMNS}
    row["authors"] = LIST_SEPARATOR.join(art.authors)
    row["topics"] = LIST_SEPARATOR.join(sorted(t for t in art.topics if _labelled(art, t)))
    row["entities"] = LIST_SEPARATOR.join(str(e.get("id")) for e in art.entities)
    return {k: "" if v is None else v for k, v in row.items()}


def write_csv(articles: Iterator[Article], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    n = 0
    for art in articles:
        writer.writerow(csv_row(art))
        n += 1
    return n


WRITERS: dict[str, Callable[[Iterator[Article], TextIO], int]] = {
    "jsonl": write_jsonl, "csv": write_csv}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_topics(topics: Collection[str], topics_file: Path) -> None:
    """ConfigError when a --topic names no topic of the topics file (the filter would quietly
    export nothing)."""
    from newsmon.enrich.topics import topic_names

    known = topic_names(topics_file)
    for name in topics:
        if name not in known:
            raise ConfigError(f"--topic {name!r}: no such topic in {topics_file}; known "
                              f"topics: {', '.join(sorted(known))}")


def export_articles(settings: Settings, since: datetime | None, out: TextIO | Path, *,
                    fmt: str = "jsonl", flt: ExportFilter | None = None,
                    topics_file: Path | None = None) -> int:
    """Write the articles to the stream `out`, or replace the file `out` whole; returns how many.
    Never creates a store. ``flt`` (its own ``since`` wins over ``since``) selects them; its
    topics are checked against ``topics_file`` when given."""
    if fmt not in WRITERS:
        raise ConfigError(f"--format {fmt!r}: known formats: {', '.join(FORMATS)}")
    if flt is not None and flt.topics and topics_file is not None:
        check_topics(flt.topics, topics_file)
    store_path = settings.data.store_path
    if settings.data.store == "sqlite" and not store_path.exists():
        raise ConfigError(f"no store at {store_path} yet: run `newsmon crawl` (or `newsmon demo`)")
    flt = flt or ExportFilter(since=since)
    write = WRITERS[fmt]
    with open_store(settings) as store:
        if not isinstance(out, Path):
            n = write(select_articles(store, flt), out)
            out.flush()
            return n
        out.parent.mkdir(parents=True, exist_ok=True)
        # written beside the target and renamed, so a reader never sees half a file
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes it private; give it a file's usual mode
        try:
            # newline="": the csv module writes its own line ends
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                n = write(select_articles(store, flt), fh)
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return n


__all__ = ["CSV_COLUMNS", "ExportFilter", "FORMATS", "articles_since", "check_topics", "csv_row",
           "export_articles", "select_articles", "write_csv", "write_jsonl"]
