"""`newsmon search`: keyword, semantic or hybrid search from the command line (thin caller of
newsmon.app.search.Searcher)."""
from __future__ import annotations

import html
import json
import re

import click

from newsmon.app.search import MAX_LIMIT, Searcher, SearchRequest, SearchResponse
from newsmon.app.settings import Settings
from newsmon.cli.context import get_settings
from newsmon.cli.options import json_option, since_option, since_value, source_option
from newsmon.index.core.errors import ConfigError
from newsmon.index.search.backend import MODES, Mode

_TAGS = re.compile(r"</?mark>")


@click.command("search")
@click.argument("query")
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option("--lang", type=click.Choice(["en", "ja"]), help="Only articles in this language.")
@click.option("--topic", "topics", multiple=True, help="Only articles labelled with this topic "
              "(repeat for several: all must apply).")
@click.option("--min-topic-score", type=click.FloatRange(0, 1),
              help="With --topic: the topic's score must be at least this.")
@source_option("sources", help="Only this source id (repeatable).", metavar=None)
@click.option("--entity", "entities", multiple=True, help="Only articles naming this entity.")
@since_option("Published at or after: ISO date/date-time or 24h, 7d, 2w.")
@click.option("--until", help="Published before: ISO date/date-time or 24h, 7d, 2w.")
@click.option("--limit", type=click.IntRange(1, MAX_LIMIT), default=10, show_default=True)
@click.option("--backend", type=click.Choice(["sqlite", "elasticsearch"]),
              help="Search backend (default: [index] backend).")
@json_option("Print results as one JSON object.")
@click.pass_context
def search_command(ctx: click.Context, query: str, mode: Mode, lang: str | None,
                   topics: tuple[str, ...], min_topic_score: float | None,
                   sources: tuple[str, ...], entities: tuple[str, ...], since: str | None,
                   until: str | None, limit: int, backend: str | None, as_json: bool) -> None:
    """Search the indexed articles in English or Japanese; one result per story, with the
    story's other coverage.

    \b
    Example:
      newsmon search "what did Britain and Japan agree on rare earths?"
      newsmon search 日英 次期戦闘機 --lang ja --since 7d
      newsmon search GCAP --mode keyword --topic defence --json | jq '.results[].url'
    """
    since_at, until_at = since_value(since), since_value(until, option="--until")
    try:
        req = SearchRequest(query=query, mode=mode, lang=lang, topics=topics,
                            min_topic_score=min_topic_score, sources=sources,
                            entities=entities, since=since_at, until=until_at, limit=limit)
        resp = _run(get_settings(ctx), backend, req)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(resp.to_json(), ensure_ascii=False))
        return
    if not resp.results:
        click.echo("no results")
        return
    if not resp.confident:
        click.echo("(no good answer: the best results are only loosely related)")
    for n, hit in enumerate(resp.results, start=1):
        if n == resp.cut + 1 and resp.cut:
            click.echo("--- weaker matches below ---")
        topics_s = ", ".join(f"{t} {s:.2f}" for t, s in hit.topics.items())
        click.echo(f"{n}. {hit.title}  [{hit.lang}] {hit.source} {hit.published or ''}"
                   + (f"  ({topics_s})" if topics_s else ""))
        click.echo(f"   relevance: {hit.strength} {_bar(hit.relevance)} {hit.relevance:.2f}")
        click.echo(f"   {hit.url}")
        click.echo(f"   {html.unescape(_TAGS.sub('*', hit.snippet))}")
        for other in hit.also:
            click.echo(f"   also: [{other['lang']}] {other['source']}: {other['title']}")


def _bar(relevance: float, width: int = 10) -> str:
    full = round(max(0.0, min(1.0, relevance)) * width)
    return "[" + "#" * full + "." * (width - full) + "]"


def _run(settings: Settings, backend: str | None, req: SearchRequest) -> SearchResponse:
    with Searcher(settings, backend=backend) as searcher:
        return searcher.search(req)
