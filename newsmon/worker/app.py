"""newsmon's procrastinate App: the tasks of each queue as thin adapters over the stages
(newsmon.app.stages), each deferring the next stage's job (newsmon.worker.jobs).

    crawl_due (periodic, [worker] crawl_every) ──► crawl(shard) per shard with sources
    crawl(shard) ── each stored batch defers, in its own transaction ──► enrich
    crawl(shard) ──► health (source health: failing or silent sources, recoveries)
    enrich ──► index ──► alert(rule) per enabled rule
    retry_stalled (periodic, [worker] stalled_every): jobs of workers whose heartbeat lapsed
        (kill -9, a lost machine) go back to the queue

Every job is safe to run twice: articles are upserts keyed by their URL's hash, enrich takes
what is pending, the index follows the change feed from its cursor, and an alert is decided once
per (rule, story) by a unique key. The chain after a crawl batch is at least once: a job that
dies after its stage committed but before it deferred the next is retried as stalled, finds its
stage done, and defers again.
"""
from __future__ import annotations

import logging
from typing import Any

from newsmon.app.settings import Settings
from newsmon.worker.jobs import (
    ALERT_TASK,
    CLEANUP_TASK,
    CRAWL_DUE_TASK,
    CRAWL_TASK,
    ENRICH_TASK,
    HEALTH_TASK,
    INDEX_TASK,
    RETRY_STALLED_TASK,
    SCHEDULE_QUEUE,
    alert_job,
    crawl_job,
    health_job,
    index_job,
    jobs,
)

log = logging.getLogger(__name__)

# a stage that failed (Elasticsearch down, a crawl's process killed) is tried again: 5 attempts,
# waiting 2, 4, 8, 16 s
RETRY_ATTEMPTS = 5
RETRY_WAIT = 2


def build_app(settings: Settings, dsn: str) -> Any:
    """The App on the store's database (``dsn``) with newsmon's tasks registered."""
    import procrastinate

    from newsmon.app.pipeline import crawl_sources, open_store
    from newsmon.worker.crawlproc import CrawlProcessError, crawl_in_child
    from newsmon.worker.shards import shard_sources
    from newsmon.worker.stage import run_recorded

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))
    retry = procrastinate.RetryStrategy(max_attempts=RETRY_ATTEMPTS, exponential_wait=RETRY_WAIT)
    # a crawl is tried again only when its process died (a crash, the OOM killer): one that
    # reached nothing (the sites down) waits for the next period rather than knock again
    crawl_retry = procrastinate.RetryStrategy(max_attempts=RETRY_ATTEMPTS,
                                              exponential_wait=RETRY_WAIT,
                                              retry_exceptions={CrawlProcessError})
    shards = settings.worker.crawl_shards

    @app.periodic(cron=settings.worker.crawl_every, periodic_id="crawl")
    @app.task(name=CRAWL_DUE_TASK, queue="crawl")
    def crawl_due(timestamp: int) -> dict[str, Any]:
        """Defer one crawl job per shard that has sources (a shard still waiting keeps its job)."""
        from newsmon.alerts import see_rules

        by_shard = shard_sources(crawl_sources(settings), shards)
        with open_store(settings) as store, store.transaction():
            # a rule added since is first seen before these crawls store anything
            see_rules(settings, store)
            deferred = [shard for shard in by_shard if jobs(store).defer(crawl_job(shard))]
        log.info("crawl due (period %d): %d of %d shard(s) deferred", timestamp, len(deferred),
                 len(by_shard))
        return {"shards": list(by_shard), "deferred": deferred}

    @app.task(name=CRAWL_TASK, queue="crawl", retry=crawl_retry)
    def crawl(shard: int) -> dict[str, Any]:
        sources = shard_sources(crawl_sources(settings), shards).get(shard, [])
        if not sources:
            log.info("crawl shard %d: no sources (the sources or crawl_shards changed)", shard)
            return {"shard": shard, "sources": []}
        try:
            result = crawl_in_child(settings, [s.id for s in sources])
        finally:
            # a crawl whose every source failed ends failed: that is when health must look
            with open_store(settings) as store:
                jobs(store).defer(health_job())
        return {"shard": shard, **result}

    # the model, loaded by the first enrich job that has work and kept for the next ones (a
    # load takes seconds; enrich jobs run one at a time, so one context serves them all). The
    # engine is chosen once, for that first job's workload; settings are read once per worker.
    loaded: list[Any] = []

    @app.task(name=ENRICH_TASK, queue="enrich", retry=retry)
    def enrich() -> dict[str, Any]:
        from newsmon.enrich.pipeline import build_context, current_version

        with open_store(settings) as store:
            if not loaded:
                pending = len(store.articles.enrich_pending(current_version(settings)))
                if pending:
                    loaded.append(build_context(settings, workload=pending))
            step = run_recorded(settings, store, "enrich",
                                context=loaded[0] if loaded else None)
            jobs(store).defer(index_job())
        return step.stats

    @app.task(name=INDEX_TASK, queue="index", retry=retry)
    def index() -> dict[str, Any]:
        from newsmon.alerts.service import load_config

        rules = [r.id for r in load_config(settings).rules if r.enabled]
        with open_store(settings) as store:
            step = run_recorded(settings, store, "index")
            with store.transaction():
                for rule in rules:
                    jobs(store).defer(alert_job(rule))
        return step.stats

    @app.task(name=ALERT_TASK, queue="alert", retry=retry)
    def alert(rule: str) -> dict[str, Any]:
        with open_store(settings) as store:
            return run_recorded(settings, store, "alert", rule=rule).stats

    @app.task(name=HEALTH_TASK, queue="alert", retry=retry)
    def health() -> dict[str, Any]:
        """Source health after a crawl, as `newsmon alert` decides it when no rule is named:
        one alert when a source starts failing or goes silent, one notice when it recovers."""
        with open_store(settings) as store:
            return run_recorded(settings, store, "alert", health_only=True).stats

    @app.periodic(cron=settings.worker.stalled_every, periodic_id="stalled")
    @app.task(name=RETRY_STALLED_TASK, queue=SCHEDULE_QUEUE)
    async def retry_stalled(timestamp: int) -> list[int]:
        """Put back in the queue the running jobs of workers whose heartbeat lapsed."""
        stalled = await app.job_manager.get_stalled_jobs(
            seconds_since_heartbeat=settings.worker.stalled_after)
        retried: list[int] = []
        for job in stalled:
            assert job.id is not None  # a job read from the database has its id
            log.warning("job %s (%s %s) stalled: its worker's heartbeat lapsed; retrying it",
                        job.id, job.task_name, job.task_kwargs)
            try:
                await app.job_manager.retry_job(job)
            except procrastinate.exceptions.UniqueViolation:
                # the same work already waits under the job's queueing lock (a later batch's
                # enrich, the next period's crawl of the shard), and every job is safe to run
                # again: that one does it. Left 'doing', this one would fail every retry.
                log.warning("job %s: an equal job already waits (queueing lock); ending this "
                            "one aborted", job.id)
                await app.job_manager.finish_job(job, status=procrastinate.jobs.Status.ABORTED,
                                                 delete_job=False)
                continue
            retried.append(job.id)
        return retried

    @app.periodic(cron="17 4 * * *", periodic_id="cleanup")
    @app.task(name=CLEANUP_TASK, queue=SCHEDULE_QUEUE)
    async def delete_old_jobs(timestamp: int) -> None:
        """Finished jobs older than [worker] keep_jobs_days go, with their events (failed ones
        too: their error is in the run records and the log)."""
        await app.job_manager.delete_old_jobs(nb_hours=24 * settings.worker.keep_jobs_days,
                                              include_failed=True, include_cancelled=True,
                                              include_aborted=True)

    return app


__all__ = ["build_app", "RETRY_ATTEMPTS", "RETRY_WAIT"]
