"""The demo's second phase: new articles appear on the demo sites and an alert arrives.

After `newsmon demo` has crawled and enriched the sites, ``--new-articles`` goes on as cron
would: a run indexes the store and sets the alert rule's baseline (nothing is sent for what was
already there); then the demo server publishes its phase-2 pages (a new English story on the
Japan–UK cyber partnership, the Japanese paper's report of it, and an unrelated local story),
and one more run crawls, enriches, indexes and alerts. The alert is printed (the demo rule's
stdout channel), appended to the demo folder's alerts.jsonl and added to its Atom feed
feeds/japan-uk-pact.atom.

Each stage is a child process, exactly the command a user or cron runs (a process crawls once:
Twisted's reactor cannot restart), pointed at the demo server through ``http_proxy``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from newsmon.demo.server import DemoServer
from newsmon.index.core.titles import display_title


def pipeline(stages: tuple[str, ...] = ("crawl", "enrich", "index", "alert")
             ) -> list[list[str]]:
    """One command per stage, each its own process, as a cron job of single commands runs."""
    return [[s] for s in stages]


def run_children(settings_file: Path, commands: list[list[str]], *, proxy: str | None,
                 echo: Callable[[str], None]) -> int:
    """Run each command as `newsmon --config FILE ...`; their output goes to ours. Returns the
    worst exit code."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")}
    if proxy:
        env["http_proxy"] = proxy
        env["no_proxy"] = "localhost,127.0.0.1"
    worst = 0
    for args in commands:
        started = time.monotonic()
        sys.stdout.flush()
        proc = subprocess.run([sys.executable, "-m", "newsmon", "--config", str(settings_file),
                               *args], env=env)
        echo(f"[newsmon {' '.join(args)}: exit {proc.returncode} in "
             f"{time.monotonic() - started:.1f}s]")
        worst = max(worst, proc.returncode)
    return worst


def second_phase(server: DemoServer, settings_file: Path, data_dir: Path,
                 echo: Callable[[str], None]) -> int:
    echo("== Alerts: first the rule's baseline (what is already there is not news)")
    worst = run_children(settings_file, pipeline(("index", "alert")), proxy=server.url,
                         echo=echo)
    alerts_file = data_dir / "alerts.jsonl"
    before = _lines(alerts_file)
    server.set_phase(2)
    echo("")
    echo("== New articles appear on the demo sites (a Japan–UK cyber exercise, in English and "
         "Japanese, and a local story); the next run picks them up")
    worst = max(worst, run_children(settings_file, pipeline(), proxy=server.url, echo=echo))
    new = _lines(alerts_file)[len(before):]
    echo("")
    echo(f"== {len(new)} alert(s) delivered this run (also in {alerts_file}):")
    for record in map(json.loads, new):
        art = record.get("article") or {}
        also = ", ".join(f"{a['source']} ({a['lang']})" for a in record.get("also") or [])
        echo(f"  [{record.get('rule')}] {display_title(art.get('title'))} — {art.get('source')}"
             + (f"; also covered by {also}" if also else ""))
    for feed in sorted((data_dir / "feeds").glob("*.atom")):
        echo(f"== Atom feed for a feed reader: {feed}")
    echo(f"== History: newsmon --config {settings_file} alerts")
    return worst


def _lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


__all__ = ["second_phase", "pipeline", "run_children"]
