"""Run one crawl in a child process (``python -m newsmon.crawler.run``): a Twisted reactor runs once
per process, and incremental-crawl tests need several crawls."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# fast and deterministic: no politeness delay against our own local server
TEST_SETTINGS = {
    "crawl.download_delay": "0",
    "crawl.autothrottle": "false",
    "crawl.timeout": "1.5",
    "crawl.retries": "1",
    "crawl.extract_workers": "2",
    "crawl.batch_size": "3",
    "crawl.user_agent": "newsmon-test/0.1 (+https://example.invalid/newsmon)",
}


@dataclass
class CrawlResult:
    returncode: int
    stats: dict
    stderr: str


def crawl_command(data_dir: Path, sources: Path, **overrides: str) -> list[str]:
    settings = {**TEST_SETTINGS, **{k.replace("__", "."): v for k, v in overrides.items()}}
    cmd = [sys.executable, "-m", "newsmon.crawler.run", "--data-dir", str(data_dir),
           "--sources", str(sources), "--log-level", "INFO"]
    for key, value in settings.items():
        cmd += ["--set", f"{key}={value}"]
    return cmd


def crawl_env(proxy: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")}
    if proxy:
        env["http_proxy"] = proxy
    return env


def run_crawl_process(data_dir: Path, sources: Path, *, proxy: str | None = None,
                      timeout: float = 120, **overrides: str) -> CrawlResult:
    proc = subprocess.run(crawl_command(data_dir, sources, **overrides), cwd=ROOT,
                          env=crawl_env(proxy), capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise AssertionError(f"crawl printed no stats (rc={proc.returncode}):\n{proc.stderr[-4000:]}")
    return CrawlResult(proc.returncode, json.loads(lines[-1]), proc.stderr)
