"""What `newsmon status` reports: the store's counts, the last runs with their steps, the work
queued per stage, the model that embedded, the alert outbox, and who holds the run lock.

Gathering never creates anything: a data folder without a store gets the same shape, empty.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from newsmon.alerts import status as alerts_status
from newsmon.app.lock import running_holder
from newsmon.app.pipeline import open_store
from newsmon.app.settings import Settings
from newsmon.app.sources import sources_health
from newsmon.index.store import StoreBase, store_exists

RECENT_RUNS = 5


def last_embedding(store: StoreBase) -> dict[str, Any] | None:
    """Model and engine of the latest run that embedded (from its recorded stats)."""
    best = None
    for command in ("enrich", "demo-enrich", "run"):
        run = store.runs.last(command)
        if run is None:
            continue
        stats = run.stats or {}
        if "engine" not in stats and isinstance(stats.get("enrich"), dict):
            stats = stats["enrich"]  # a run that crawls and enriches nests the enrich stats
        if stats.get("engine") and (best is None or run.id > best["run"]):
            best = {"model": stats.get("model"), "engine": stats["engine"], "run": run.id}
    return best


def empty_status(path: Path) -> dict[str, Any]:
    """The shape of Store.status() for a store not created yet (status never creates one)."""
    return {"store": str(path), "articles": 0, "by_source": {}, "by_lang": {}, "by_stage": {},
            "by_status": {}, "feeds": 0, "failures_by_reason": {}, "last_run": None,
            "runs": [], "queued": {}, "indexed": {},
            "embedding": None}


def queued(settings: Settings, store: StoreBase) -> dict[str, int]:
    """Work waiting per stage: URLs to retry (crawl), articles not enriched with this version,
    change-feed entries the search backend has not taken (index)."""
    from newsmon.enrich.pipeline import current_version  # topics and gazetteer, not the model

    backend = f"backend:{settings.index.backend}"
    return {"crawl": store.frontier.retry_count(max_attempts=settings.crawl.max_attempts),
            "enrich": len(store.articles.enrich_pending(current_version(settings))),
            # articles changed since the configured search backend's cursor (each once, however
            # many times it changed)
            "index": store.changes.pending_articles(store.cursors.get(backend))}


def indexed(store: StoreBase) -> dict[str, int]:
    """backend -> how many articles it has indexed as they are now: the stage after
    `enriched`, per backend, since each search backend keeps its own cursor."""
    return {name[len("backend:"):]: store.changes.caught_up(seq)
            for name, seq in store.cursors.all().items() if name.startswith("backend:")}


def queue_status(settings: Settings, store: StoreBase) -> dict[str, Any] | None:
    """The job queue of a PostgreSQL store (newsmon.worker): jobs waiting and running per
    queue, running jobs (stalled: their worker's heartbeat lapsed), live workers and per crawl
    shard the oldest due crawl; None for a store without one (SQLite, or no worker ever ran)."""
    from newsmon.index.store.postgres import PgStore

    if not isinstance(store, PgStore) or not store.jobs.schema_present():
        return None
    from newsmon.worker.jobs import CRAWL_TASK, QUEUES

    stalled_after = settings.worker.stalled_after
    depth = store.jobs.depth()
    running = store.jobs.running(stalled_after)
    return {"queues": {q: depth.get(q, {"todo": 0, "doing": 0})
                       for q in (*QUEUES, *sorted(set(depth) - set(QUEUES)))},
            "running": running,
            "stalled": sum(j["stalled"] for j in running),
            "workers": store.jobs.workers(stalled_after),
            "shards": {str(k): v for k, v in store.jobs.shard_lag(CRAWL_TASK).items()}}


def collect_status(settings: Settings) -> dict[str, Any]:
    path = settings.data.store_path
    exists = store_exists(settings)
    if exists:
        with open_store(settings) as store:
            out = store.status()
            out["alerts"] = alerts_status(store)
            out["runs"] = [r.as_dict() for r in store.runs.recent(RECENT_RUNS)]
            out["queued"] = queued(settings, store)
            out["indexed"] = indexed(store)
            out["embedding"] = last_embedding(store)
            out["source_health"] = sources_health(settings, store)
            out["jobs"] = queue_status(settings, store)
    else:
        out = empty_status(path)
        out["source_health"] = sources_health(settings, None)
    out["exists"] = exists
    out["running"] = running_holder(settings.data.lock_path)
    return out


__all__ = ["collect_status", "queue_status", "empty_status", "last_embedding", "queued", "indexed",
           "RECENT_RUNS"]
