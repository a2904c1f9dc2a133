"""`newsmon demo`: serve the bundled fictional news sites, crawl them, show what was stored.

Offline by design. The demo server answers for the sites' ``*.example`` host names and is handed
to the crawl as its HTTP proxy (the standard ``http_proxy`` variable, which the crawler honours
like any other proxy), so the demo runs the very code path of `newsmon crawl`.
"""
from __future__ import annotations

import os
import signal
import time
import tomllib
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from newsmon.app.pipeline import run
from newsmon.app.settings import PATH_KEYS, load_settings
from newsmon.cli.commands.crawl import summary_text
from newsmon.cli.commands.enrich import summary_text as enrich_summary_text
from newsmon.cli.commands.status import collect_status, status_text
from newsmon.cli.context import get_settings
from newsmon.demo.server import DemoServer
from newsmon.index.core.defaults import default_file
from newsmon.index.core.errors import ConfigError
from newsmon.index.store import Store

DEMO_CONFIG_DIR = default_file("demo")
SETTINGS_NAME = "newsmon.toml"
ACCESS_LOG_NAME = "demo-server.log"
PROXY_VARS = ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY")


def write_demo_settings(demo_dir: Path, config_dir: Path = DEMO_CONFIG_DIR) -> Path:
    """Copy config/demo/newsmon.toml into the demo folder, paths made absolute, and return it.

    The copy is what the crawl loads, and what the user passes to --config afterwards.
    """
    template = config_dir / SETTINGS_NAME
    if not template.exists():
        raise ConfigError(
            f"demo settings not found at {template}: `newsmon demo` needs the config/ folder of "
            f"a newsmon checkout (pip install -e . in a clone)"
        )
    with template.open("rb") as fh:
        data: dict[str, dict[str, Any]] = tomllib.load(fh)
    data.setdefault("data", {})["dir"] = str(demo_dir)
    for section, key in PATH_KEYS:
        value = data.get(section, {}).get(key)
        if value is not None and not Path(value).is_absolute():
            data[section][key] = str((template.parent / value).resolve())
    demo_dir.mkdir(parents=True, exist_ok=True)
    target = demo_dir / SETTINGS_NAME
    lines = [
        f"# Written by `newsmon demo` from {template}.",
        f"# Use it to look at the demo store: newsmon --config {target} status",
    ]
    for section, values in data.items():
        lines.append(f"\n[{section}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise ConfigError(f"demo settings: cannot write {value!r} (only scalar keys are expected)")


@contextmanager
def proxied_through(server: DemoServer) -> Iterator[None]:
    """Route this process's plain-HTTP requests through the demo server, then put things back."""
    saved = {name: os.environ.get(name) for name in PROXY_VARS}
    os.environ["http_proxy"] = os.environ["HTTP_PROXY"] = server.url
    # a no_proxy inherited from the shell (say ".example") would send requests past the server
    os.environ["no_proxy"] = os.environ["NO_PROXY"] = "localhost,127.0.0.1"
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _fit(text: str, width: int) -> str:
    """Cut to `width` terminal columns (a Japanese character takes two)."""
    if _width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        used += _width(ch)
        if used > width - 1:
            break
        out.append(ch)
    return "".join(out) + "…"


def _published(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M%z") if value else "-"


def _labels(topics: dict[str, dict[str, Any]]) -> str:
    return ",".join(sorted(t for t, v in topics.items() if v.get("label"))) or "-"


def articles_table(store: Store, title_width: int = 52) -> str:
    arts = sorted(store.articles.iter(),
                  key=lambda a: (a.source, a.published.isoformat() if a.published else ""))
    if not arts:
        return "(no articles stored)"
    src_w = max(len("source"), *(len(a.source) for a in arts))
    top_w = max(len("topics"), *(len(_labels(a.topics)) for a in arts))
    story_w = max(len("story"), *(len((a.story or "-")[:8]) for a in arts))
    rows = [f"{'source':<{src_w}}  lang  {'published':<21}  {'topics':<{top_w}}  "
            f"{'story':<{story_w}}  title",
            f"{'-' * src_w}  ----  {'-' * 21}  {'-' * top_w}  {'-' * story_w}  "
            f"{'-' * title_width}"]
    for a in arts:
        rows.append(f"{a.source:<{src_w}}  {(a.lang or '?'):<4}  {_published(a.published):<21}  "
                    f"{_labels(a.topics):<{top_w}}  {(a.story or '-')[:8]:<{story_w}}  "
                    f"{_fit(a.title or '(no title)', title_width)}")
    return "\n".join(rows)


def _shown_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def next_steps(settings_file: Path, commands: set[str],
               demo_data_dir: str | None = None) -> str:
    cfg = f"newsmon --config {_shown_path(settings_file)}"
    steps = [f"{cfg} status", f"{cfg} export --since 2025-03-01"]
    if "enrich" in commands:
        steps.append(f"{cfg} enrich")
    if "index" in commands:
        steps.append(f"{cfg} index")
    if "search" in commands:
        steps.append(f'{cfg} search "critical minerals"')
        steps.append(f'{cfg} search "サイバー" --lang ja')
    if "serve" in commands:
        from newsmon.cli.commands.serve import page_url
        steps.append(f"{cfg} serve    # then open {page_url()} in a browser")
    again = "newsmon demo" + (f" --data-dir {_shown_path(settings_file.parent)}"
                              if demo_data_dir else "")
    steps.append(f"{again}    # again: nothing new is fetched, feeds answer 304 Not Modified")
    return "Next, try:\n" + "\n".join(f"  {s}" for s in steps)


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
    settings = get_settings(ctx)
    demo_dir = Path(demo_data_dir).expanduser().resolve() if demo_data_dir \
        else settings.data.dir / "demo"
    settings_file = write_demo_settings(demo_dir)
    # flags beat the environment: a NEWSMON_DATA__DIR meant for the real store must not send
    # the demo there, nor NEWSMON_CRAWL__SOURCES send it to the live web
    demo_settings = load_settings(settings_file, overrides={
        "data": {"dir": demo_dir},
        "crawl": {"sources": str(DEMO_CONFIG_DIR / "sources.yaml")},
        "log": {"level": settings.log.level},
    })
    access_log = demo_dir / ACCESS_LOG_NAME
    access_log.unlink(missing_ok=True)
    try:
        server = DemoServer(port=port, access_log=access_log)
    except OSError as exc:
        raise ConfigError(f"--port {port}: cannot serve the demo there: {exc.strerror}") from None
    with server:
        click.echo(f"demo sites on {server.url}: {', '.join(server.hosts)}", err=True)
        with proxied_through(server):
            # one run, one lock: crawl then enrich, as `newsmon run` does
            outcome = run(demo_settings, command="demo", stages=("crawl", "enrich"))
        click.echo(summary_text(outcome.steps[0], outcome.run_id))
        click.echo()
        click.echo(enrich_summary_text(outcome.steps[1], outcome.run_id))
        click.echo()
        with Store(demo_settings.data.store_path) as store:
            click.echo(articles_table(store))
        click.echo()
        click.echo(status_text(collect_status(demo_settings)))
        click.echo()
        click.echo(f"server requests this run: {len(server.requests)} "
                   f"(log: {_shown_path(access_log)})")
        click.echo(next_steps(settings_file, set(ctx.find_root().command.commands),  # type: ignore[attr-defined]
                              demo_data_dir))
        alerted = 0
        if new_articles:
            from newsmon.demo.alerts import second_phase

            click.echo()
            alerted = second_phase(server, settings_file, demo_dir, click.echo)
        if keep_serving:
            host = server.hosts[0] if server.hosts else "www.harbour-times.example"
            click.echo(f"\nserving the demo sites until Ctrl-C; look with:\n"
                       f"  curl -x {server.url} http://{host}/", err=True)
            # the crawl left Scrapy's shutdown handlers in place; Ctrl-C is ours again
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                click.echo("stopped", err=True)
    ctx.exit(max(outcome.exit_code, alerted))
