"""`newsmon sources list | check [ID…] | remove ID [--purge]` (newsmon.app.sources)."""
from __future__ import annotations

import json

import click

from newsmon.app.outcome import EXIT_OK, EXIT_PARTIAL
from newsmon.app.pipeline import open_store, store_exists
from newsmon.app.sources import check_sources, remove_source, sources_health
from newsmon.cli.context import get_settings
from newsmon.cli.options import json_option
from newsmon.cli.presenters.sources import check_text, list_text, removed_text


@click.group("sources")
def sources_group() -> None:
    """The configured sources: their health, what their URLs answer, and removing one.

    \b
    Example:
      newsmon sources list
      newsmon sources check bbc-news
      newsmon sources remove bbc-news --purge
    """


@sources_group.command("list")
@json_option("Print the sources and their health as JSON.")
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """Every source of the sources file with its health: state, stored articles, last success,
    last error (URL and reason) and failed runs in a row; and the sources no longer configured
    whose articles are still stored.

    \b
    Example:
      newsmon sources list
    """
    settings = get_settings(ctx)
    if store_exists(settings):
        with open_store(settings) as store:
            sh = sources_health(settings, store)
    else:
        sh = sources_health(settings, None)
    click.echo(json.dumps(sh, ensure_ascii=False, indent=2) if as_json else list_text(sh))


@sources_group.command("check")
@click.argument("source_ids", nargs=-1, metavar="[ID]...")
@json_option("Print what each URL answered as JSON.")
@click.pass_context
def check_command(ctx: click.Context, source_ids: tuple[str, ...], as_json: bool) -> None:
    """Fetch each feed, sitemap and section URL of the sources named (default: every enabled
    one) once, with the configured user agent and timeout, and say what it found: a feed and
    its items, a sitemap and its URLs, an HTML page and its links, or the HTTP error. Exits 1
    when a URL does not answer what it is configured as.

    \b
    Example:
      newsmon sources check
      newsmon sources check bbc-news nhk-world
    """
    results = check_sources(get_settings(ctx), source_ids)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in results], ensure_ascii=False, indent=2))
    else:
        click.echo(check_text(results))
    ctx.exit(EXIT_OK if all(r.ok for r in results) else EXIT_PARTIAL)


@sources_group.command("remove")
@click.argument("source_id", metavar="ID")
@click.option("--purge", is_flag=True,
              help="Also delete its articles from the store and from every search index.")
@click.pass_context
def remove_command(ctx: click.Context, source_id: str, purge: bool) -> None:
    """Take the source ID out of the sources file (comments outside its entry are kept; the
    previous file is kept as <file>.bak). Its articles stay searchable unless --purge, which
    deletes them from the store and from the embedded and Elasticsearch indexes (under the run
    lock: not while a run is going on).

    \b
    Example:
      newsmon sources remove old-blog
      newsmon sources remove old-blog --purge
    """
    click.echo(removed_text(remove_source(get_settings(ctx), source_id, purge=purge)))
