"""What `newsmon demo` prints at each step of newsmon.demo.flow: the run summaries, the stored
articles as a table, the store's status, and the commands to try next."""
from __future__ import annotations

import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import click

# status's text still lives beside its command; it moves to newsmon.app.status (issue 15)
from newsmon.app.outcome import StageOutcome
from newsmon.app.status import collect_status
from newsmon.cli.presenters.runs import crawl_summary, enrich_summary
from newsmon.cli.presenters.status import status_text
from newsmon.demo.flow import DemoRun
from newsmon.demo.server import DemoServer
from newsmon.index.core.titles import display_title
from newsmon.index.store import StoreBase, open_store
from newsmon.serve.address import page_url


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


def articles_table(store: StoreBase, title_width: int = 52) -> str:
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
                    f"{_fit(display_title(a.title) or '(no title)', title_width)}")
    return "\n".join(rows)


def index_summary(step: StageOutcome, run_id: int) -> str:
    s = step.stats
    if s.get("error"):
        return f"index run {run_id}: {step.status} in {step.elapsed_s:.1f}s: {s['error']}"
    return (f"index run {run_id}: {step.status} in {step.elapsed_s:.1f}s ({s.get('backend')}: "
            f"{s.get('upserted', 0)} upserted, {s.get('documents', 0)} documents searchable)")


def _shown_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def next_steps(settings_file: Path, commands: set[str],
               demo_data_dir: str | None = None) -> str:
    cfg = f"newsmon --config {_shown_path(settings_file)}"
    # the demo has crawled, enriched and indexed: each of these finds the demo's articles
    # (tests/test_demo.py runs them)
    steps = [f"{cfg} status", f"{cfg} export --since 2025-03-01"]
    if "search" in commands:
        steps.append(f'{cfg} search "critical minerals"')
        steps.append(f'{cfg} search "サイバー" --lang ja')
    if "serve" in commands:
        steps.append(f"{cfg} serve    # then open {page_url()} in a browser")
    again = "newsmon demo" + (f" --data-dir {_shown_path(settings_file.parent)}"
                              if demo_data_dir else "")
    steps.append(f"{again}    # again: nothing new is fetched, feeds answer 304 Not Modified")
    return "Next, try:\n" + "\n".join(f"  {s}" for s in steps)


class DemoPrinter:
    """newsmon.demo.flow's view on the terminal: the report on stdout, the server on stderr.

    `commands` are the CLI's command names, so that only commands this install has are
    suggested next."""

    def __init__(self, commands: set[str], demo_data_dir: str | None) -> None:
        self.commands = commands
        self.demo_data_dir = demo_data_dir

    def sites_up(self, server: DemoServer) -> None:
        click.echo(f"demo sites on {server.url}: {', '.join(server.hosts)}", err=True)

    def first_run(self, demo: DemoRun) -> None:
        outcome = demo.outcome
        click.echo(crawl_summary(outcome.steps[0], outcome.run_id))
        click.echo()
        click.echo(enrich_summary(outcome.steps[1], outcome.run_id))
        click.echo(index_summary(outcome.steps[2], outcome.run_id))
        click.echo()
        with open_store(demo.settings) as store:
            click.echo(articles_table(store))
        click.echo()
        click.echo(status_text(collect_status(demo.settings)))
        click.echo()
        click.echo(f"server requests this run: {len(demo.server.requests)} "
                   f"(log: {_shown_path(demo.access_log)})")
        click.echo(next_steps(demo.settings_file, self.commands, self.demo_data_dir))

    def line(self, text: str) -> None:
        click.echo(text)

    def serving(self, server: DemoServer) -> None:
        host = server.hosts[0] if server.hosts else "www.harbour-times.example"
        click.echo(f"\nserving the demo sites until Ctrl-C; look with:\n"
                   f"  curl -x {server.url} http://{host}/", err=True)

    def stopped(self) -> None:
        click.echo("stopped", err=True)


__all__ = ["DemoPrinter", "articles_table", "next_steps"]
