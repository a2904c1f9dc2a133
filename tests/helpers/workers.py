"""`newsmon worker` processes for tests, and a loopback web of several hosts for them to crawl.

``Workers(config, env, logs)`` starts named workers (``start("crawl-1", "crawl")``), kills one
(``kill("crawl-1")``: SIGKILL, as a lost machine) and stops the rest when its ``with`` block
ends; the cluster scenario reuses it with more workers. ``LoopbackWeb(hosts, …)`` serves one
small news site per loopback address (127.0.0.2, 127.0.0.3, …; Linux routes all of 127/8 to
the loopback interface), each with an RSS feed and article pages, recording every request with
the time it came and the time its answer was sent.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsmon.demo.server import LocalServer, Reply

ROOT = Path(__file__).resolve().parents[2]


class Workers:
    """Named `newsmon worker` subprocesses on one settings file (see the module doc)."""

    def __init__(self, config: Path, env: Mapping[str, str], logs: Path) -> None:
        self.config = config
        self.env = dict(env)
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        logs.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, queues: str = "crawl,enrich,index,alert", *,
              concurrency: int = 1) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "newsmon", "--config", str(self.config), "worker",
             "--queues", queues, "--concurrency", str(concurrency), "--name", name],
            cwd=ROOT, env={**self.env, "PYTHONUNBUFFERED": "1"}, stdout=log,
            stderr=subprocess.STDOUT)
        log.close()
        self.procs[name] = proc
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        proc.send_signal(sig)
        proc.wait(timeout=30)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def alive(self) -> list[str]:
        return [n for n, p in self.procs.items() if p.poll() is None]

    def stop(self, timeout: float = 20) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


@dataclass(frozen=True)
class Request:
    host: str
    path: str
    started: float
    answered: float


ARTICLE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta property="og:title" content="{title}">
<meta property="article:published_time" content="2026-12-0{day}T0{hour}:00:00Z"></head><body>
<article><h1>{title}</h1>
{paragraphs}
</article></body></html>"""

WORDS = ("harbour council approves new ferry timetable after months of consultation with "
         "residents and operators who warned about crowding at the northern pier during the "
         "summer season while the mayor promised funds for repairs").split()


def article_html(host: str, n: int) -> bytes:
    title = f"Report {n} from {host}: council and harbour news number {n}"
    paragraphs = "\n".join(
        "<p>" + " ".join(WORDS[(n + i + j) % len(WORDS)] for j in range(40)) + f" ({host} {n}.{i})</p>"
        for i in range(6))
    return ARTICLE.format(title=title, day=1 + n % 6, hour=n % 10,
                          paragraphs=paragraphs).encode("utf-8")


def rss(base: str, n_articles: int) -> bytes:
    items = "".join(f"<item><title>Report {i}</title><link>{base}/news/{i}.html</link>"
                    f"<guid>{base}/news/{i}.html</guid></item>" for i in range(n_articles))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{base}'
            f"</title><link>{base}/</link>{items}</channel></rss>").encode()


class LoopbackWeb:
    """One site per loopback address (see the module doc); ``delay`` slows every answer."""

    def __init__(self, n_hosts: int, articles: int = 3, *, delay: float = 0.0,
                 first: int = 2) -> None:
        self.hosts = [f"127.0.0.{first + i}" for i in range(n_hosts)]
        self.articles = articles
        self.delay = delay
        self.requests: list[Request] = []
        self.servers: list[LocalServer] = []
        for host in self.hosts:
            self.servers.append(LocalServer(self._resolver(host), host=host))

    def _resolver(self, host: str) -> Callable[[str, str, str], Reply | None]:
        def resolve(_host: str, path: str, _method: str) -> Reply | None:
            started = time.time()
            base = self.base(host)
            if path == "/robots.txt":
                reply = Reply(b"User-agent: *\nAllow: /\n", "text/plain")
            elif path == "/feed.xml":
                reply = Reply(rss(base, self.articles), "application/rss+xml", conditional=False)
            elif path.startswith("/news/") and path.endswith(".html"):
                reply = Reply(article_html(host, int(path[6:-5])), delay=self.delay)
            else:
                reply = None
            self.requests.append(Request(host, path, started, started + self.delay))
            return reply
        return resolve

    def base(self, host: str) -> str:
        return f"http://{host}:{self.servers[self.hosts.index(host)].port}"

    def sources_yaml(self, path: Path) -> Path:
        sources = [{"id": f"site-{h.rsplit('.', 1)[1]}", "name": f"Site {h}", "lang": "en",
                    "feeds": [f"{self.base(h)}/feed.xml"]} for h in self.hosts]
        path.write_text(json.dumps({"sources": sources}), encoding="utf-8")  # JSON is YAML
        return path

    def by_host(self) -> dict[str, list[Request]]:
        out: dict[str, list[Request]] = {h: [] for h in self.hosts}
        for r in sorted(self.requests, key=lambda r: r.started):
            out[r.host].append(r)
        return out

    def __enter__(self) -> LoopbackWeb:
        for server in self.servers:
            server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self.servers:
            server.stop()


def job_rows(dsn: str, task: str) -> list[dict[str, Any]]:
    """procrastinate's jobs of ``task``: id, args, status, attempts, first start, last end."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """SELECT j.id, j.args, j.status::text, j.attempts,
                      (SELECT MIN(at) FROM procrastinate_events e WHERE e.job_id = j.id
                        AND e.type = 'started'),
                      (SELECT MAX(at) FROM procrastinate_events e WHERE e.job_id = j.id
                        AND e.type IN ('succeeded', 'failed'))
               FROM procrastinate_jobs j WHERE task_name = %s ORDER BY id""", (task,)).fetchall()
    return [{"id": r[0], "args": r[1], "status": r[2], "attempts": r[3], "started": r[4],
             "ended": r[5]} for r in rows]


def defer_crawls(dsn: str, *shards: int) -> list[int | None]:
    """Defer one crawl job per shard (None where one already waits)."""
    from newsmon.index.store.postgres import PgStore
    from newsmon.worker.jobs import crawl_job

    with PgStore(dsn) as store:
        return [store.jobs.defer(crawl_job(s)) for s in shards]


def wait_queue_schema(dsn: str, timeout: float = 60) -> None:
    """Until a starting worker has applied procrastinate's schema."""
    from newsmon.index.store.postgres import PgStore

    def ready() -> bool:
        with PgStore(dsn) as store:
            return store.jobs.schema_present()
    wait_for(ready, timeout, "a worker to apply procrastinate's schema")


def worker_env(dsn: str, dsn_env: str = "TEST_PG_DSN") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NEWSMON_") and not k.lower().endswith("_proxy")}
    env[dsn_env] = dsn
    return env


__all__ = ["Workers", "LoopbackWeb", "Request", "wait_for", "worker_env", "article_html",
           "job_rows", "defer_crawls", "wait_queue_schema"]
