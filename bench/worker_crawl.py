"""Crawl throughput with 1, 2 and 3 `newsmon worker --queues crawl` processes on a loopback web
of several hosts (127.0.0.2, 127.0.0.3, …), each with a 1 s download delay, and the smallest gap
observed between two requests to one host.

For each worker count, in the same run: a fresh PostgreSQL database, the same web (robots.txt,
an RSS feed and article pages per host), the workers started and the queue schema applied, then
one crawl job per shard deferred and the clock run until the last crawl job ended (procrastinate's
own event times). Throughput is requests answered per second of that span; the ratio is against
the 1-worker run of the same invocation. Politeness is the per-host gap: newsmon keeps every
gap ≥ the configured delay (Scrapy's jitter is applied above it: 1 to 1.5 × delay), and two
processes on one host would show gaps near 0.

    NEWSMON_TEST_PG_URL=postgresql://… nice -n 10 .venv/bin/python bench/worker_crawl.py \\
        [--hosts 10] [--articles 5] [--delay 1.0] [--workers 1,2,3] [--shards 16]

Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.pgdb import fresh_database  # noqa: E402
from tests.helpers.workers import LoopbackWeb, Workers, wait_for, worker_env  # noqa: E402


def config_file(folder: Path, web: LoopbackWeb, delay: float, shards: int) -> Path:
    sources = web.sources_yaml(folder / "sources.yaml")
    config = folder / "newsmon.toml"
    config.write_text(
        f'[data]\ndir = "{folder / "data"}"\nstore = "postgresql"\ndsn_env = "TEST_PG_DSN"\n\n'
        f'[crawl]\nsources = "{sources}"\ndownload_delay = {delay}\nautothrottle = false\n'
        'retries = 0\ntimeout = 10\nbatch_size = 5\nconcurrency = 16\nper_host_concurrency = 1\n'
        'extract_workers = 1\nuser_agent = "newsmon-bench/0.1 (+https://example.invalid/b)"\n\n'
        '[index]\nbackend = "elasticsearch"\nes_url = "http://127.0.0.1:9"\n\n'
        '[log]\nlevel = "WARNING"\n\n'
        f'[worker]\ncrawl_shards = {shards}\ncrawl_every = "0 0 1 1 *"\nheartbeat = 2\n'
        'stalled_after = 20\n', encoding="utf-8")
    return config


def crawl_jobs(dsn: str) -> list[tuple[str, object, object]]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute(
            """SELECT j.status::text,
                      (SELECT MIN(at) FROM procrastinate_events e WHERE e.job_id = j.id
                        AND e.type = 'started'),
                      (SELECT MAX(at) FROM procrastinate_events e WHERE e.job_id = j.id
                        AND e.type IN ('succeeded', 'failed'))
               FROM procrastinate_jobs j WHERE task_name = 'newsmon.crawl'""").fetchall()


def one_run(server_dsn: str, n_workers: int, args: argparse.Namespace) -> dict:
    from newsmon.app.settings import load_settings
    from newsmon.crawler.sources import load_sources
    from newsmon.index.store.postgres import PgStore
    from newsmon.worker.jobs import crawl_job
    from newsmon.worker.shards import shard_sources

    with tempfile.TemporaryDirectory() as tmp, fresh_database(server_dsn) as dsn, \
            LoopbackWeb(args.hosts, articles=args.articles) as web:
        folder = Path(tmp)
        config = config_file(folder, web, args.delay, args.shards)
        shards = shard_sources(load_sources(load_settings(config).crawl.sources), args.shards)
        with Workers(config, worker_env(dsn), folder / "logs") as workers:
            for i in range(n_workers):
                workers.start(f"crawl-{i + 1}", "crawl")

            def schema() -> bool:
                with PgStore(dsn) as store:
                    return store.jobs.schema_present()
            wait_for(schema, 120, "the queue schema")
            time.sleep(3)  # every worker listening before the jobs arrive
            with PgStore(dsn) as store, store.transaction():
                for shard in shards:
                    store.jobs.defer(crawl_job(shard))
            wait_for(lambda: all(s == "succeeded" for s, _, _ in crawl_jobs(dsn)), 900,
                     "every crawl job", every=1.0)
            jobs = crawl_jobs(dsn)
            with PgStore(dsn) as store:
                stored = store.articles.count()
        span = (max(j[2] for j in jobs) - min(j[1] for j in jobs)).total_seconds()
        gaps = [after.started - before.started
                for reqs in web.by_host().values() for before, after in zip(reqs, reqs[1:])]
        return {"workers": n_workers, "shards_with_sources": len(shards),
                "largest_shard_hosts": max(len(v) for v in shards.values()),
                "requests": len(web.requests), "articles_stored": stored,
                "seconds": round(span, 2), "requests_per_s": round(len(web.requests) / span, 3),
                "min_host_gap_s": round(min(gaps), 3),
                "p5_host_gap_s": round(sorted(gaps)[len(gaps) // 20], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--articles", type=int, default=5)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--shards", type=int, default=16)
    args = parser.parse_args()
    server = os.environ.get("NEWSMON_TEST_PG_URL") or sys.exit("set NEWSMON_TEST_PG_URL")
    runs = [one_run(server, int(n), args) for n in args.workers.split(",")]
    base = runs[0]["requests_per_s"]
    for run in runs:
        run["ratio_vs_first"] = round(run["requests_per_s"] / base, 2)
    print(json.dumps({"hosts": args.hosts, "articles_per_host": args.articles,
                      "delay_s": args.delay, "polite_floor_s": round(args.delay * 0.5, 3),
                      "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
