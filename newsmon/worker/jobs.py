"""The jobs newsmon queues, as data: task names, queues and locks, in one place.

| job            | queue  | lock (one running)   | queueing lock (one waiting) |
|----------------|--------|----------------------|-----------------------------|
| crawl(shard)   | crawl  | crawl:shard:N        | crawl:shard:N               |
| enrich         | enrich | enrich               | enrich                      |
| index          | index  | index                | index                       |
| alert(rule)    | alert  | alert:RULE           | alert:RULE                  |
| health         | alert  | health               | health                      |
| crawl_due      | crawl  | (periodic: once per period by procrastinate's own key)  |
| retry_stalled  | schedule (every worker listens to it)                            |
| delete_old_jobs| schedule, daily: finished jobs older than [worker] keep_jobs_days |

One running enrich job at a time keeps story assignment race-free across workers (stories are
decided against the articles already assigned); each waiting job covers everything pending when
it starts, so a queueing lock loses nothing.
"""
from __future__ import annotations

from newsmon.index.core.article import Article
from newsmon.index.store.base import StoreBase
from newsmon.index.store.postgres import PgStore
from newsmon.index.store.repos.jobs import JobRepo, JobSpec

QUEUES = ("crawl", "enrich", "index", "alert")
# periodic housekeeping every worker runs whatever its queues
SCHEDULE_QUEUE = "schedule"

CRAWL_TASK = "newsmon.crawl"
CRAWL_DUE_TASK = "newsmon.crawl_due"
ENRICH_TASK = "newsmon.enrich"
INDEX_TASK = "newsmon.index"
ALERT_TASK = "newsmon.alert"
HEALTH_TASK = "newsmon.health"
RETRY_STALLED_TASK = "newsmon.retry_stalled"
CLEANUP_TASK = "newsmon.delete_old_jobs"


def crawl_job(shard: int) -> JobSpec:
    key = f"crawl:shard:{shard}"
    return JobSpec(CRAWL_TASK, "crawl", {"shard": shard}, lock=key, queueing_lock=key)


def enrich_job() -> JobSpec:
    return JobSpec(ENRICH_TASK, "enrich", {}, lock="enrich", queueing_lock="enrich")


def index_job() -> JobSpec:
    return JobSpec(INDEX_TASK, "index", {}, lock="index", queueing_lock="index")


def alert_job(rule: str) -> JobSpec:
    key = f"alert:{rule}"
    return JobSpec(ALERT_TASK, "alert", {"rule": rule}, lock=key, queueing_lock=key)


def health_job() -> JobSpec:
    return JobSpec(HEALTH_TASK, "alert", {}, lock="health", queueing_lock="health")


def defer_enrich(store: StoreBase, articles: list[Article]) -> None:
    """The crawl's batch hook (CrawlJob.on_batch): runs inside the transaction that stores the
    batch, so the batch and its enrich job commit together or not at all."""
    if articles:
        jobs(store).defer(enrich_job())


def jobs(store: StoreBase) -> JobRepo:
    """The store's job queue; only a PostgreSQL store has one."""
    if not isinstance(store, PgStore):
        raise TypeError(f"store {store.location} has no job queue (a PostgreSQL store has)")
    return store.jobs

__all__ = ["QUEUES", "SCHEDULE_QUEUE", "CRAWL_TASK", "CRAWL_DUE_TASK", "ENRICH_TASK",
           "INDEX_TASK", "ALERT_TASK", "HEALTH_TASK", "RETRY_STALLED_TASK", "CLEANUP_TASK", "crawl_job",
           "enrich_job", "index_job", "alert_job", "health_job", "defer_enrich", "jobs"]
