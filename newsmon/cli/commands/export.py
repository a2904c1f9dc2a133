"""`newsmon export`: the stored articles, filtered, as JSON lines (Article.to_dict()) or CSV."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from newsmon.app.export import CSV_COLUMNS, FORMATS, ExportFilter, export_articles
from newsmon.cli.context import get_settings
from newsmon.cli.options import since_option, since_value, until_value


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True,
              help="jsonl: one JSON object per article per line, every stored field; csv: one "
                   "row per article with a header row, lists joined by '; '.")
@since_option("Only articles published since DATE: 2025-03-01, an ISO date-time, or 7d/24h.",
              metavar="DATE")
@click.option("--until", metavar="DATE",
              help="Only articles published before DATE (a date includes that whole day).")
@click.option("--source", "sources", multiple=True, metavar="ID",
              help="Only articles of this source (repeatable).")
@click.option("--lang", "langs", multiple=True, type=click.Choice(["en", "ja"]),
              help="Only articles in this language (repeatable).")
@click.option("--topic", "topics", multiple=True, metavar="TOPIC",
              help="Only articles tagged with this topic (repeatable: any of them).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              help="Write to FILE (replaced whole when done) instead of standard output.")
@click.pass_context
def export_command(ctx: click.Context, fmt: str, since: str | None, until: str | None,
                   sources: tuple[str, ...], langs: tuple[str, ...], topics: tuple[str, ...],
                   output: str) -> None:
    """Export stored articles: jsonl with every stored field (id, url, canonical_url, source,
    lang, title, text, published, authors, topics with scores and evidence, entities, story,
    fetched_at, stage, ...), or csv with the columns below.

    Times are ISO 8601 with the offset the article was published with. Articles without a
    publication date are left out when --since or --until is given.

    \b
    csv columns: {columns}

    \b
    Example:
      newsmon export > articles.jsonl
      newsmon export --since 7d --output recent.jsonl
      newsmon export --format csv --lang ja --topic minerals --until 2025-03-31 -o ja.csv
    """
    settings = get_settings(ctx)
    flt = ExportFilter(since=since_value(since), until=until_value(until), sources=sources,
                       langs=langs, topics=topics)
    n = export_articles(settings, flt.since,
                        sys.stdout if output == "-" else Path(output), fmt=fmt, flt=flt,
                        topics_file=settings.enrich.topics)
    where = "" if output == "-" else f" to {output}"
    click.echo(f"exported {n} article(s){where}", err=True)


export_command.help = (export_command.help or "").replace("{columns}", ", ".join(CSV_COLUMNS))
