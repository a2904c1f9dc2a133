"""Queue overhead: from a crawl batch's commit to its enrich job starting on an idle worker.

A real `newsmon worker --queues enrich` waits on a fresh PostgreSQL database. Each round commits
one batch the way a crawl does (the article upserted and its enrich job deferred in one
transaction, newsmon.worker.jobs.defer_enrich), notes the commit time, and reads when the job
started from procrastinate's own event (the worker's fetch), then waits for the job to end before
the next round, so the worker is idle at every commit. The first round loads the model and is
left out. Baseline, in the same run: a bare PostgreSQL LISTEN/NOTIFY round trip between two
connections (the wake-up procrastinate's worker relies on), timed the same way.

    NEWSMON_TEST_PG_URL=postgresql://… nice -n 10 .venv/bin/python bench/queue_overhead.py [--rounds 40]

Prints one JSON object (milliseconds; ratio = p95 over the baseline's p95).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.pgdb import fresh_database  # noqa: E402
from tests.helpers.workers import Workers, article_html, wait_for, worker_env  # noqa: E402


def summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 2),
            "p95_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.95))], 2),
            "max_ms": round(ms[-1], 2)}


def notify_round_trips(dsn: str, rounds: int) -> list[float]:
    import psycopg

    out = []
    with psycopg.connect(dsn, autocommit=True) as listener, \
            psycopg.connect(dsn, autocommit=True) as sender:
        listener.execute("LISTEN bench")
        for _ in range(rounds):
            started = time.perf_counter()
            sender.execute("NOTIFY bench")
            next(listener.notifies(timeout=10, stop_after=1))
            out.append((time.perf_counter() - started) * 1000)
    return out


def job_events(dsn: str, job_id: int) -> tuple[float | None, bool]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            """SELECT (SELECT EXTRACT(EPOCH FROM MIN(at)) FROM procrastinate_events
                        WHERE job_id = %s AND type = 'started'),
                      (SELECT status::text FROM procrastinate_jobs WHERE id = %s)""",
            (job_id, job_id)).fetchone()
    return (float(row[0]) if row[0] is not None else None), row[1] in ("succeeded", "failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    server = os.environ.get("NEWSMON_TEST_PG_URL") or sys.exit("set NEWSMON_TEST_PG_URL")

    from newsmon.index.core.article import Article
    from newsmon.index.store.postgres import PgStore
    from newsmon.worker.jobs import enrich_job

    with tempfile.TemporaryDirectory() as tmp, fresh_database(server) as dsn:
        folder = Path(tmp)
        config = folder / "newsmon.toml"
        config.write_text(
            f'[data]\ndir = "{folder / "data"}"\nstore = "postgresql"\ndsn_env = "TEST_PG_DSN"\n'
            '[index]\nbackend = "elasticsearch"\nes_url = "http://127.0.0.1:9"\n'
            '[log]\nlevel = "WARNING"\n'
            '[worker]\ncrawl_every = "0 0 1 1 *"\n', encoding="utf-8")
        baseline = notify_round_trips(dsn, args.rounds)
        text = article_html("127.0.0.2", 1).decode()
        overhead: list[float] = []
        with Workers(config, worker_env(dsn), folder / "logs") as workers, PgStore(dsn) as store:
            workers.start("enrich-1", "enrich")
            wait_for(store.jobs.schema_present, 120, "the queue schema")
            time.sleep(2)
            for i in range(args.rounds + 1):
                article = Article(id=f"bench{i:04d}", url=f"http://127.0.0.2/news/{i}.html",
                                  canonical_url=f"http://127.0.0.2/news/{i}.html",
                                  source="bench", lang="en", title=f"Bench article {i}",
                                  text=text)
                with store.transaction():
                    store.articles.upsert([article])
                    job_id = store.jobs.defer(enrich_job())
                committed = time.time()
                assert job_id is not None, "an enrich job was still waiting"
                started = wait_for(lambda j=job_id: job_events(dsn, j)[0], 60, "the job to start",
                                   every=0.05)
                wait_for(lambda j=job_id: job_events(dsn, j)[1], 300, "the job to end", every=0.1)
                if i:  # round 0 loads the model
                    overhead.append((started - committed) * 1000)
        base = summary(baseline)
        over = summary(overhead)
        print(json.dumps({"commit_to_start": over, "notify_round_trip": base,
                          "ratio_p95": round(over["p95_ms"] / base["p95_ms"], 1)}, indent=2))


if __name__ == "__main__":
    main()
