"""`newsmon export`: every stored article as one JSON object per line (Article.to_dict())."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from newsmon.app.export import export_articles
from newsmon.cli.context import get_settings
from newsmon.cli.options import since_option, since_value


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True,
              help="Output format: one JSON object per article per line.")
@since_option("Only articles published since DATE: 2025-03-01, an ISO date-time, or 7d/24h.",
              metavar="DATE")
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
    since_at = since_value(since)
    n = export_articles(settings.data.store_path, since_at,
                        sys.stdout if output == "-" else Path(output))
    where = "" if output == "-" else f" to {output}"
    click.echo(f"exported {n} article(s){where}", err=True)
