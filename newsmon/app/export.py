"""`newsmon export`'s use case: every stored article (or those published since an instant) as one
JSON object per line, Article.to_dict() with sorted keys, to a stream or a file."""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TextIO

from newsmon.index.core.article import Article
from newsmon.index.core.errors import ConfigError
from newsmon.index.store import Store


def articles_since(store: Store, since: datetime | None) -> Iterator[Article]:
    """Articles published at or after `since` (all of them when None), in id order. The store
    keeps `published` in UTC, so its comparison is exact whatever zone `since` is given in."""
    return store.articles.iter(since=since)


def write_jsonl(articles: Iterator[Article], out: TextIO) -> int:
    n = 0
    for art in articles:
        out.write(json.dumps(art.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
        n += 1
    return n


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def export_articles(store_path: Path, since: datetime | None, out: TextIO | Path) -> int:
    """Write the articles to the stream `out`, or replace the file `out` whole; returns how many.
    Never creates a store."""
    if not store_path.exists():
        raise ConfigError(f"no store at {store_path} yet: run `newsmon crawl` (or `newsmon demo`)")
    with Store(store_path) as store:
        if not isinstance(out, Path):
            n = write_jsonl(articles_since(store, since), out)
            out.flush()
            return n
        out.parent.mkdir(parents=True, exist_ok=True)
        # written beside the target and renamed, so a reader never sees half a file
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes it private; give it a file's usual mode
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                n = write_jsonl(articles_since(store, since), fh)
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return n


__all__ = ["articles_since", "export_articles", "write_jsonl"]
