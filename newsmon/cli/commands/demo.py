"""`newsmon demo`: serve the bundled fictional news sites, crawl them, show what was stored
(the steps are newsmon.demo.flow's, the text newsmon.cli.presenters.demo's)."""
from __future__ import annotations

import click

from newsmon.cli.context import get_settings
from newsmon.cli.presenters.demo import DemoPrinter
from newsmon.demo.flow import run_demo


@click.command("demo")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port of the demo web server (0: any free port).")
@click.option("--data-dir", "demo_data_dir", type=click.Path(file_okay=False),
              help="Folder for the demo store [default: <data dir>/demo].")
@click.option("--keep-serving", is_flag=True,
              help="Keep the demo sites up after the crawl, until Ctrl-C.")
@click.option("--new-articles", is_flag=True,
              help="Then publish new articles on the demo sites and run again, as cron would: "
                   "shows an alert arriving.")
@click.pass_context
def demo_command(ctx: click.Context, port: int, demo_data_dir: str | None,
                 keep_serving: bool, new_articles: bool) -> None:
    """Crawl and enrich the bundled demo news sites (offline) and show what was stored.

    Starts a local server with three fictional news sites (English and Japanese, an RSS feed, an
    Atom feed, a Google News sitemap, a section page, a Shift_JIS page, robots.txt), crawls them
    with the same code as `newsmon crawl` into a separate demo store, enriches them as `newsmon
    enrich` does (language, topics, entities, embedding, story), then prints the articles and
    the status. Running it again fetches nothing new.

    \b
    Example:
      newsmon demo
      newsmon demo --data-dir /tmp/newsmon-demo --keep-serving
      newsmon demo --new-articles   # then new articles appear, and an alert arrives
    """
    group = ctx.find_root().command
    commands = set(group.commands) if isinstance(group, click.Group) else set()
    ctx.exit(run_demo(get_settings(ctx), DemoPrinter(commands, demo_data_dir), port=port,
                      demo_data_dir=demo_data_dir, keep_serving=keep_serving,
                      new_articles=new_articles))
