"""Crawl throughput: newsmon crawl+extract+store pages/s vs bare trafilatura in one process.

Serves N pages (saved corpus pages from ../shared/corpora, repeated under distinct URLs) from a
local HTTP server behind one sitemap, then in the same run:

1. newsmon: ``python -m crawler.run`` (fetch over HTTP, extraction in worker processes, batched
   SQLite writes), wall time of the whole process, start-up included;
2. baseline: ``trafilatura.bare_extraction(html_bytes, with_metadata=True)`` over the same
   pages already in memory, one process, no HTTP, no store (half the pages before the crawl,
   half after, so that changes in the load of a shared machine hit both sides).

    .venv/bin/python bench/crawl_throughput.py [--pages 1200] [--workers 0]

Prints one JSON object; the ratio is newsmon pages/s over trafilatura pages/s.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.webserver import CORPORA, NewsSite, Route, serve  # noqa: E402

CORPUS_DIRS = (
    "fundus-evaluation/html",
    "fundus-parser-tests/jp",
    "fundus-parser-tests/uk",
    "fundus-parser-tests/us",
    "scrapinghub-article-extraction-benchmark/html",
)


def corpus_pages() -> list[bytes]:
    pages = []
    for folder in CORPUS_DIRS:
        for path in sorted((CORPORA / folder).glob("*.html.gz")):
            pages.append(gzip.decompress(path.read_bytes()))
    if not pages:
        raise SystemExit(f"no corpus pages under {CORPORA}")
    return pages


def build_site(pages: list[bytes], n: int) -> tuple[NewsSite, list[bytes]]:
    site = NewsSite()
    bodies = []
    for i in range(n):
        body = pages[i % len(pages)]
        site.routes[f"/p/{i:05d}.html"] = Route(body)
        bodies.append(body)
    return site, bodies


def sitemap(base: str, n: int) -> bytes:
    locs = "".join(f"<url><loc>{base}/p/{i:05d}.html</loc></url>" for i in range(n))
    return (f'<?xml version="1.0" encoding="UTF-8"?><urlset '
            f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>').encode()


def run_newsmon(base: str, workers: int, tmp: Path) -> tuple[float, float, dict]:
    sources = tmp / "sources.yaml"
    sources.write_text(
        f"sources:\n  - id: bench\n    lang: en\n    sitemaps: ['{base}/sitemap.xml']\n",
        encoding="utf-8")
    settings = {
        "crawl.download_delay": "0", "crawl.autothrottle": "false", "crawl.concurrency": "32",
        "crawl.per_host_concurrency": "32", "crawl.extract_workers": str(workers),
        "crawl.batch_size": "50", "crawl.retries": "0", "crawl.timeout": "60",
    }
    cmd = [sys.executable, "-m", "crawler.run", "--data-dir", str(tmp / "data"),
           "--sources", str(sources), "--log-level", "WARNING"]
    for k, v in settings.items():
        cmd += ["--set", f"{k}={v}"]
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of the crawl process and its extraction workers (waited-for descendants)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise SystemExit(f"crawl failed (rc={proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, cpu, json.loads(lines[-1])


def run_trafilatura(bodies: list[bytes]) -> tuple[float, float, int]:
    import trafilatura

    cpu0 = time.process_time()
    start = time.perf_counter()
    ok = 0
    for body in bodies:
        doc = trafilatura.bare_extraction(body, with_metadata=True)
        ok += doc is not None
    return time.perf_counter() - start, time.process_time() - cpu0, ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=1200)
    ap.add_argument("--workers", type=int, default=0, help="extraction workers (0 = CPUs)")
    args = ap.parse_args()
    pages = corpus_pages()
    site, bodies = build_site(pages, args.pages)
    # the baseline runs half before and half after the crawl, so a change in the machine's
    # load (it is shared) weighs on both sides alike
    first_wall, first_cpu, first_ok = run_trafilatura(bodies[::2])
    srv = serve(site)
    site.routes["/sitemap.xml"] = Route(sitemap(srv.base, args.pages), "application/xml")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            wall, cpu, stats = run_newsmon(srv.base, args.workers, Path(tmp))
        served = sum(1 for r in srv.requests if r["path"].startswith("/p/"))
    finally:
        srv.stop()
    second_wall, second_cpu, second_ok = run_trafilatura(bodies[1::2])
    base_wall, base_cpu = first_wall + second_wall, first_cpu + second_cpu
    base_ok = first_ok + second_ok
    newsmon_rate = served / wall
    base_rate = len(bodies) / base_wall
    result = {
        "pages": args.pages,
        "distinct_pages": len(pages),
        "cpus": os.cpu_count(),
        "extract_workers": args.workers or os.cpu_count(),
        "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        "newsmon": {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "pages_fetched": served,
                    "stored": stats["stored"], "rejected": stats["rejected"],
                    "failed": stats["failed"], "reasons": stats["reasons"],
                    "pages_per_s": round(newsmon_rate, 1)},
        "trafilatura": {"wall_s": round(base_wall, 2), "cpu_s": round(base_cpu, 2),
                        "extracted": base_ok,
                        "pages_per_s": round(base_rate, 1)},
        "ratio": round(newsmon_rate / base_rate, 2),
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
