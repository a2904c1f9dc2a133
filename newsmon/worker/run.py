"""`newsmon worker`: run procrastinate's worker on the chosen queues until SIGINT/SIGTERM.

procrastinate's schema is applied here, at a worker's start, and not by newsmon's migrations:
its version is the installed procrastinate's (which ships its own migrations for upgrades), and
a PostgreSQL store that only ever runs `newsmon run` under cron needs no queue tables. Applying
is idempotent and under an advisory lock, so any number of workers may start at once.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

from newsmon.app.settings import Settings
from newsmon.index.core.errors import ConfigError
from newsmon.worker.jobs import QUEUES, SCHEDULE_QUEUE

log = logging.getLogger(__name__)


def check_queues(queues: Sequence[str]) -> list[str]:
    unknown = [q for q in queues if q not in QUEUES]
    if unknown or not queues:
        raise ConfigError(f"--queues: unknown queue(s) {', '.join(unknown) or '(none given)'}; "
                          f"known: {', '.join(QUEUES)}")
    return list(dict.fromkeys(queues))


def worker_dsn(settings: Settings, env: Mapping[str, str] | None = None) -> str:
    """The store's DSN; ConfigError unless the store is PostgreSQL with its DSN set."""
    if settings.data.store != "postgresql":
        raise ConfigError(f'newsmon worker needs [data].store = "postgresql" (the job queue '
                          f'lives in its database); [data].store is "{settings.data.store}"')
    env = os.environ if env is None else env
    dsn = env.get(settings.data.dsn_env, "").strip()
    if not dsn:
        raise ConfigError(f"[data].dsn_env names {settings.data.dsn_env}, which is not set")
    return dsn


def check_cron(settings: Settings) -> None:
    import croniter

    for key in ("crawl_every", "stalled_every"):
        value = getattr(settings.worker, key)
        if not croniter.croniter.is_valid(value):
            raise ConfigError(f"[worker].{key} = {value!r} is not a valid cron expression")


def ensure_queue_schema(settings: Settings) -> bool:
    """Apply procrastinate's schema to the store's database unless it is there (see the module
    doc), and see the alert rules not seen yet; returns whether the schema was applied."""
    from procrastinate.schema import SchemaManager

    from newsmon.alerts import see_rules
    from newsmon.app.pipeline import open_store
    from newsmon.worker.jobs import jobs

    with open_store(settings) as store:
        applied = jobs(store).ensure_schema(SchemaManager.get_schema())
        # as `run` does before it crawls: a new rule's baseline is what was stored before now
        see_rules(settings, store)
    if applied:
        log.info("applied procrastinate's schema to the store's database")
    return applied


def run_worker(settings: Settings, *, queues: Sequence[str] = QUEUES,
               concurrency: int | None = None, name: str | None = None) -> None:
    """Work the ``queues`` (and the schedule queue) until stopped."""
    queues = check_queues(queues)
    dsn = worker_dsn(settings)
    check_cron(settings)
    ensure_queue_schema(settings)
    from newsmon.worker.app import build_app

    app = build_app(settings, dsn)
    worker = settings.worker
    log.info("worker %s: queues %s, concurrency %d", name or os.getpid(), ",".join(queues),
             concurrency or worker.concurrency)
    app.run_worker(queues=[*queues, SCHEDULE_QUEUE], concurrency=concurrency or worker.concurrency,
                   name=name or f"newsmon-{os.getpid()}",
                   update_heartbeat_interval=worker.heartbeat,
                   stalled_worker_timeout=worker.stalled_after,
                   install_signal_handlers=True)


__all__ = ["run_worker", "check_queues", "worker_dsn", "ensure_queue_schema", "check_cron"]
