"""`newsmon worker`: work the job queues in the PostgreSQL store's database (newsmon.worker)."""
from __future__ import annotations

import click

from newsmon.cli.context import get_settings

QUEUE_NAMES = "crawl,enrich,index,alert"


@click.command("worker")
@click.option("--queues", default=QUEUE_NAMES, show_default=True, metavar="Q,Q,…",
              help="The queues this worker takes jobs from (comma-separated).")
@click.option("--concurrency", type=click.IntRange(min=1), default=None,
              help="Jobs run at once (default: [worker] concurrency).")
@click.option("--name", default=None, help="The worker's name in logs (default: its pid).")
@click.pass_context
def worker_command(ctx: click.Context, queues: str, concurrency: int | None,
                   name: str | None) -> None:
    """Run jobs from the queues until SIGINT or SIGTERM (only on [data] store = "postgresql").

    Crawl jobs hold their shard's lock (one Scrapy process per host across all machines);
    batches stored by a crawl defer their enrich job in the same transaction; enrich defers
    index, index defers one alert job per rule. Periodic crawls ([worker] crawl_every) are
    deferred once per period however many workers run, and jobs of a killed worker are retried
    once its heartbeat lapses ([worker] stalled_after). Start any number, on any machines.

    \b
    Example:
      newsmon worker
      newsmon worker --queues crawl --concurrency 2
      newsmon worker --queues enrich,index,alert
    """
    from newsmon.worker.run import run_worker

    run_worker(get_settings(ctx), queues=[q.strip() for q in queues.split(",") if q.strip()],
               concurrency=concurrency, name=name)
