"""`newsmon crawl`: fetch new articles from the configured sources into the store of record."""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

import click

from newsmon.crawler.sources import Source, load_sources, select_sources
from newsmon.index.errors import ConfigError
from newsmon.index.store import Store
from newsmon.cli import EXIT_OK, EXIT_PARTIAL, cli, get_settings
from newsmon.lock import RunLock
from newsmon.progress import Progress
from newsmon.runs import RUN_FAILED, RUN_OK, RUN_PARTIAL
from newsmon.settings import Settings

log = logging.getLogger(__name__)



@dataclass(slots=True)
class CrawlOutcome:
    """What one crawl did, as `crawl` prints it and `demo` shows it."""

    run_id: int
    status: str
    sources: list[str]
    elapsed_s: float
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.status == RUN_OK else EXIT_PARTIAL

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "sources": self.sources,
                "elapsed_s": self.elapsed_s, "stats": self.stats}


def run_status(stats: Any) -> str:
    """ok when nothing failed; failed when the crawl reached nothing at all; else partial."""
    if stats.ok:
        return RUN_OK
    answered = stats.feeds_fetched + stats.not_modified + stats.fetched_articles
    return RUN_FAILED if answered == 0 and stats.stored == 0 else RUN_PARTIAL


def crawl_sources(settings: Settings, source_ids: tuple[str, ...] | list[str] = (), *,
                  command: str = "crawl", progress_stream: TextIO | None = None) -> CrawlOutcome:
    """The crawl code path shared by `crawl`, `demo` (and `run`): sources, lock, store, run log.

    Raises ConfigError for bad sources, LockHeld when another run holds the lock. A crawl that
    raises is recorded as a failed run before the error goes on.
    """
    sources: list[Source] = select_sources(load_sources(settings.crawl.sources),
                                           list(source_ids))
    if not sources:
        raise ConfigError(f"{settings.crawl.sources}: no enabled sources to crawl")
    with RunLock(settings.data.lock_path, command):
        # imported here: Scrapy is heavy, and `newsmon --help` or a locked-out run need not pay
        from newsmon.crawler.run import run_crawl

        with Store(settings.data.store_path) as store:
            return _crawl_and_record(settings, sources, store, command, progress_stream,
                                     run_crawl)


def _crawl_and_record(settings: Settings, sources: list[Source], store: Store, command: str,
                      progress_stream: TextIO | None, run_crawl: Any) -> CrawlOutcome:
    run_id = store.runs.start(command)
    log.info("crawl run %d: %d source(s): %s", run_id, len(sources),
             ", ".join(s.id for s in sources))
    started = time.monotonic()
    try:
        with Progress("crawl", stream=progress_stream) as progress:
            stats = run_crawl(settings, sources, store, run_id=run_id, progress=progress)
    except BaseException as exc:
        store.runs.finish(run_id, RUN_FAILED, {
            "error": str(exc) or type(exc).__name__,
            "reason": getattr(exc, "reason", type(exc).__name__),
        })
        raise
    status = run_status(stats)
    store.runs.finish(run_id, status, stats.to_dict())
    return CrawlOutcome(run_id=run_id, status=status, sources=[s.id for s in sources],
                        elapsed_s=round(time.monotonic() - started, 2), stats=stats.to_dict())


SUMMARY_FIELDS = (
    ("requests", "requests"), ("feeds_fetched", "listings read"),
    ("not_modified", "not modified (304)"), ("discovered", "candidates"),
    ("skipped_known", "already known"), ("fetched_articles", "articles fetched"),
    ("stored", "stored"), ("flagged", "flagged"), ("rejected", "rejected"),
    ("failed", "failed"), ("listing_failures", "listings failed"),
    ("robots_blocked", "blocked by robots.txt"), ("offsite_blocked", "off-site, skipped"),
)


def summary_text(outcome: CrawlOutcome) -> str:
    s = outcome.stats
    lines = [
        f"crawl run {outcome.run_id}: {outcome.status} in {outcome.elapsed_s:.1f}s "
        f"({len(outcome.sources)} source(s): {', '.join(outcome.sources)})",
    ]
    width = max(len(label) for _, label in SUMMARY_FIELDS)
    for key, label in SUMMARY_FIELDS:
        if key in s:
            lines.append(f"  {label:<{width}}  {s[key]}")
    if s.get("finish_reason") not in (None, "", "finished"):
        lines.append(f"  crawl stopped early: {s['finish_reason']}")
    reasons = s.get("reasons") or {}
    if reasons:
        lines.append("  reasons: " + ", ".join(f"{k} {v}" for k, v in reasons.items()))
    if outcome.status != RUN_OK:
        lines.append("  details: newsmon status (failures by reason) and the log above")
    return "\n".join(lines)


@cli.command("crawl")
@click.option("--source", "source_ids", multiple=True, metavar="ID",
              help="Crawl only this source (repeatable); default: every enabled source.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.pass_context
def crawl_command(ctx: click.Context, source_ids: tuple[str, ...], as_json: bool) -> None:
    """Fetch new articles from the sources into the store of record.

    Reads feeds, sitemaps and section pages, fetches only URLs not already stored, extracts and
    stores the articles. Exit code 1 when some items failed (see `newsmon status`), 3 when another
    run holds the lock.

    \b
    Example:
      newsmon crawl
      newsmon crawl --source gov-uk-fcdo --source nhk-world --json
    """
    settings = get_settings(ctx)
    outcome = crawl_sources(settings, source_ids)
    if as_json:
        click.echo(json.dumps(outcome.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(summary_text(outcome))
    ctx.exit(outcome.exit_code)
