"""Alert latency: from a new article appearing in a feed to its alert arriving at a webhook,
inside one run of the pipeline, against a no-change run of the same pipeline as the baseline.

On the devset mini web (../shared/devset/site, three sites, served locally in two phases):

1. phase 1: crawl → enrich → index → alert (the rules' silent baseline), not timed;
2. baseline: the same pipeline again with nothing new (what every cron run pays);
3. at t0 the sites switch to phase 2 (ten new articles appear in the feeds), and the pipeline
   runs once more; a local webhook receiver notes when each alert arrives (t1).

Each stage runs as its command (`newsmon crawl`, `enrich`, `index`, `alert`, fresh processes,
as a cron job of single commands runs them). Reports the
latency of the first and last alert (t1 - t0), the time per stage, and the ratio of the
latency to the no-change run.

    .venv/bin/python bench/alert_latency.py [--repeat 1]

Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from tests.helpers.receiver import start_receiver  # noqa: E402
from tests.test_crawl_devset import SITE, _sources_yaml  # noqa: E402

NEWSMON = [sys.executable, "-m", "newsmon"]
HOOK_ENV = "NEWSMON_BENCH_WEBHOOK"


def _config(tmp: Path) -> Path:
    shipped = yaml.safe_load((ROOT / "config" / "alerts.yaml").read_text(encoding="utf-8"))
    for rule in shipped["rules"]:
        rule["channels"] = [{"type": "webhook", "url_env": HOOK_ENV}]
    shipped["health"] = {"enabled": False}
    (tmp / "alerts.yaml").write_text(yaml.safe_dump(shipped, allow_unicode=True), "utf-8")
    (tmp / "sources.yaml").write_text(_sources_yaml(), encoding="utf-8")
    cfg = tmp / "newsmon.toml"
    # a local web: no politeness delay (as the crawl tests run it)
    cfg.write_text('[data]\ndir = "data"\n[crawl]\nsources = "sources.yaml"\n'
                   'download_delay = 0\nautothrottle = false\ntimeout = 5\nretries = 1\n'
                   '[alerts]\nrules = "alerts.yaml"\nretries = 0\n', encoding="utf-8")
    return cfg


def _pipeline(cfg: Path, env: dict[str, str]) -> dict[str, float]:
    stages = [["crawl"], ["enrich"], ["index"], ["alert"]]
    times = {}
    for args in stages:
        start = time.perf_counter()
        proc = subprocess.run([*NEWSMON, "--config", str(cfg), *args], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        times[args[0]] = round(time.perf_counter() - start, 3)
        if proc.returncode not in (0,):
            raise SystemExit(f"newsmon {args[0]} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    sys.path.insert(0, str(SITE))
    from serve import start_server  # the devset's reference server

    srv = start_server(phase=1)
    receiver = start_receiver()
    try:
        with tempfile.TemporaryDirectory(prefix="newsmon-alert-bench-") as tmp:
            cfg = _config(Path(tmp))
            env = {k: v for k, v in os.environ.items()
                   if k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")
                   and not k.startswith("NEWSMON_")}
            env["http_proxy"] = f"http://127.0.0.1:{srv.server_port}"
            env["no_proxy"] = "localhost,127.0.0.1"  # the webhook receiver is local
            env[HOOK_ENV] = receiver.url
            _pipeline(cfg, env)                       # phase 1: baselines
            assert not receiver.requests, "the first run must be a silent baseline"
            t_base = time.perf_counter()
            base = _pipeline(cfg, env)                # nothing new
            base_total = time.perf_counter() - t_base
            assert not receiver.requests
            srv.phase = 2
            t0_wall, t0 = time.time(), time.perf_counter()
            new = _pipeline(cfg, env)
            total = time.perf_counter() - t0
            arrivals = sorted(r.at - t0_wall for r in receiver.delivered())
    finally:
        receiver.close()
        srv.shutdown()
        srv.server_close()
    if not arrivals:
        raise SystemExit("no alert arrived")
    print(json.dumps({
        "bench": "alert_latency", "pipeline": "newsmon crawl; enrich; index; alert",
        "new_articles": 10,
        "alerts_delivered": len(arrivals),
        "first_alert_s": round(arrivals[0], 2), "last_alert_s": round(arrivals[-1], 2),
        "run_with_new_articles_s": round(total, 2), "stages_s": new,
        "baseline_no_change_run_s": round(base_total, 2), "baseline_stages_s": base,
        "ratio_last_alert_to_no_change_run": round(arrivals[-1] / base_total, 2),
        "alert_stage_share": round(new["alert"] / total, 3),
        "load_avg_1m": os.getloadavg()[0],
    }, indent=2))


if __name__ == "__main__":
    main()
