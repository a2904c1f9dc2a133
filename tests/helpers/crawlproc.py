"""Run one crawl in a child process, the way users do (``python -m newsmon --config FILE crawl
--json``: the defaults file, the run lock, a run record with a pid): a Twisted reactor runs once
per process, and incremental-crawl tests need several crawls."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
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
    stats: dict  # the run id and the crawl's counters (``crawl --json``'s "stats")
    stderr: str


def write_config(data_dir: Path, sources: Path, settings: Mapping[str, str], *,
                 log_level: str = "INFO") -> Path:
    """A settings file beside ``data_dir`` naming it, the sources file and ``settings``
    ({"SECTION.KEY": "VALUE"}; strings, coerced as environment values are); returns its path."""
    sections: dict[str, dict[str, str]] = {
        "data": {"dir": str(Path(data_dir).resolve())},
        "crawl": {"sources": str(Path(sources).resolve())},
        "log": {"level": log_level},
    }
    for key, value in settings.items():
        section, _, name = key.partition(".")
        sections.setdefault(section, {})[name] = value
    # a JSON string is a TOML basic string
    text = "".join(f"[{section}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
                   for section, values in sections.items())
    path = Path(data_dir).with_name(Path(data_dir).name + ".newsmon.toml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def crawl_cli(config: Path) -> list[str]:
    return [sys.executable, "-m", "newsmon", "--config", str(config), "crawl", "--json"]


def crawl_command(data_dir: Path, sources: Path, **overrides: str) -> list[str]:
    """The command of one test crawl; ``crawl__timeout="5"`` overrides ``crawl.timeout``."""
    settings = {**TEST_SETTINGS, **{k.replace("__", "."): v for k, v in overrides.items()}}
    return crawl_cli(write_config(data_dir, sources, settings))


def crawl_env(proxy: str | None = None) -> dict[str, str]:
    # NEWSMON_* variables would override the settings file: the crawl reads that file alone
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")
           and not k.startswith("NEWSMON_")}
    if proxy:
        env["http_proxy"] = proxy
    return env


def crawl_stats(stdout: str) -> dict | None:
    """``{"run_id": …, **counters}`` from ``crawl --json``'s output; None without one."""
    try:
        out = json.loads(stdout)
    except ValueError:
        return None
    return {"run_id": out["run_id"], **out["stats"]}


def run_crawl_process(data_dir: Path, sources: Path, *, proxy: str | None = None,
                      timeout: float = 120, **overrides: str) -> CrawlResult:
    proc = subprocess.run(crawl_command(data_dir, sources, **overrides), cwd=ROOT,
                          env=crawl_env(proxy), capture_output=True, text=True, timeout=timeout)
    stats = crawl_stats(proc.stdout)
    if stats is None:
        raise AssertionError(f"crawl printed no stats (rc={proc.returncode}):\n{proc.stderr[-4000:]}")
    return CrawlResult(proc.returncode, stats, proc.stderr)
