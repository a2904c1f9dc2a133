"""`newsmon export`: every stored article as one JSON object per line (Article.to_dict())."""
from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TextIO

import click

from newsmon.cli.context import get_settings
from newsmon.index.core.article import Article
from newsmon.index.core.errors import ConfigError
from newsmon.index.core.times import parse_since
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


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True,
              help="Output format: one JSON object per article per line.")
@click.option("--since", metavar="DATE",
              help="Only articles published since DATE: 2025-03-01, an ISO date-time, or 7d/24h.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              help="Write to FILE (replaced whole when done) instead of standard output.")
@click.pass_context
def export_command(ctx: click.Context, fmt: str, since: str | None, output: str) -> None:
    """Export stored articles with every stored field (id, url, canonical_url, source, lang,
    title, text, published, authors, topics with scores and evidence, entities, story,
    fetched_at, stage, ...).

    Articles without a publication date are left out when --since is given.

    \b
    Example:
      newsmon export > articles.jsonl
      newsmon export --since 7d --output recent.jsonl
    """
    settings = get_settings(ctx)
    try:
        since_at = parse_since(since) if since else None
    except ConfigError as exc:  # a bad option value is a usage error, not the configuration's
        raise click.UsageError(str(exc)) from None
    path = settings.data.store_path
    if not path.exists():
        raise ConfigError(f"no store at {path} yet: run `newsmon crawl` (or `newsmon demo`)")
    with Store(path) as store:
        if output == "-":
            n = write_jsonl(articles_since(store, since_at), sys.stdout)
            sys.stdout.flush()
        else:
            target = Path(output)
            target.parent.mkdir(parents=True, exist_ok=True)
            # written beside the target and renamed, so a reader never sees half a file
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes it private; give it a file's usual mode
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    n = write_jsonl(articles_since(store, since_at), fh)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
    where = "" if output == "-" else f" to {output}"
    click.echo(f"exported {n} article(s){where}", err=True)
