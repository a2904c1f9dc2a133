"""Crawl throughput: newsmon crawl+extract+store pages/s vs bare trafilatura in one process.

Serves N pages (saved corpus pages from ../shared/corpora, repeated under distinct URLs) from a
local HTTP server behind one sitemap, then in the same run:

1. newsmon: ``python -m newsmon --config FILE crawl --json`` (fetch over HTTP, extraction in
   worker processes, batched SQLite writes), wall time of the whole process, start-up included;
2. baseline: ``trafilatura.bare_extraction(html_bytes, with_metadata=True)`` over the same
   pages already in memory, one process, no HTTP, no store (half the pages before the crawl,
   half after, so that changes in the load of a shared machine hit both sides).

    .venv/bin/python bench/crawl_throughput.py [--pages 1200] [--workers 0]

Prints one JSON object; the ratio is newsmon pages/s over trafilatura pages/s (wall time). Beside
it, CPU seconds per page on both sides: newsmon's are those of the crawl process and all its
descendants (the extraction workers are forkserver children, which ``RUSAGE_CHILDREN`` never
sees, so they are sampled from /proc), and ``others_cpu_s`` is what every other process on the
machine used during the crawl, so a ratio measured on a busy shared machine can be told apart.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.crawlproc import crawl_cli, crawl_stats, write_config  # noqa: E402
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


_TICK = os.sysconf("SC_CLK_TCK")


def _proc_stats() -> dict[int, tuple[int, int, float]]:
    """pid -> (parent pid, start time in ticks, CPU seconds used) for every process."""
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                raw = f.read().decode("latin-1")
        except OSError:
            continue  # exited meanwhile
        fields = raw[raw.rindex(")") + 2:].split()  # the name in (...) may contain spaces
        out[int(entry.name)] = (int(fields[1]), int(fields[19]),
                                (int(fields[11]) + int(fields[12])) / _TICK)
    return out


def _machine_busy_s() -> float:
    """CPU seconds all cores have spent busy since boot (user, nice, system, irq, softirq)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    return (user + nice + system + irq + softirq) / _TICK


class TreeCPU:
    """CPU seconds of a process and all its descendants, sampled from /proc while it runs
    (a descendant's last fraction of a sampling period before it exits is missed)."""

    def __init__(self, root: int, period: float = 0.2) -> None:
        self.root = root
        self.period = period
        self.seen: dict[tuple[int, int], float] = {}  # (pid, start) -> latest CPU seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        stats = _proc_stats()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _start, _cpu) in stats.items():
            children.setdefault(ppid, []).append(pid)
        todo = [self.root]
        while todo:
            pid = todo.pop()
            if pid in stats:
                _ppid, start, cpu = stats[pid]
                self.seen[(pid, start)] = cpu
            todo.extend(children.get(pid, ()))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.period)

    def stop(self) -> tuple[float, float]:
        """(CPU seconds of the root process, of all its descendants)."""
        self._stop.set()
        self._thread.join()
        main = sum(cpu for (pid, _s), cpu in self.seen.items() if pid == self.root)
        rest = sum(cpu for (pid, _s), cpu in self.seen.items() if pid != self.root)
        return main, rest


def run_newsmon(base: str, workers: int, tmp: Path) -> tuple[float, dict, dict]:
    sources = tmp / "sources.yaml"
    sources.write_text(
        f"sources:\n  - id: bench\n    lang: en\n    sitemaps: ['{base}/sitemap.xml']\n",
        encoding="utf-8")
    settings = {
        "crawl.download_delay": "0", "crawl.autothrottle": "false", "crawl.concurrency": "32",
        "crawl.per_host_concurrency": "32", "crawl.extract_workers": str(workers),
        "crawl.batch_size": "50", "crawl.retries": "0", "crawl.timeout": "60",
    }
    cmd = crawl_cli(write_config(tmp / "data", sources, settings, log_level="WARNING"))
    env = {k: v for k, v in os.environ.items()
           if "proxy" not in k.lower() and not k.startswith("NEWSMON_")}
    busy0, own0 = _machine_busy_s(), time.process_time()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    tree = TreeCPU(proc.pid)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    main_cpu, rest_cpu = tree.stop()
    busy, own = _machine_busy_s() - busy0, time.process_time() - own0
    stats = crawl_stats(out)
    if stats is None:
        raise SystemExit(f"crawl failed (rc={proc.returncode}):\n{err[-3000:]}")
    cpu = {
        "main_s": main_cpu,
        "workers_s": rest_cpu,  # extraction workers and the forkserver they come from
        "server_s": own,  # this process meanwhile: the local HTTP server
        # everything else the machine did during the crawl (other people's work)
        "others_s": max(0.0, busy - main_cpu - rest_cpu - own),
    }
    return wall, cpu, stats


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
    load_start = os.getloadavg()[0]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            wall, cpu, stats = run_newsmon(srv.base, args.workers, Path(tmp))
        served = sum(1 for r in srv.requests if r.path.startswith("/p/"))
    finally:
        srv.stop()
    second_wall, second_cpu, second_ok = run_trafilatura(bodies[1::2])
    base_wall, base_cpu = first_wall + second_wall, first_cpu + second_cpu
    base_ok = first_ok + second_ok
    newsmon_rate = served / wall
    base_rate = len(bodies) / base_wall
    newsmon_cpu = cpu["main_s"] + cpu["workers_s"]
    result = {
        "pages": args.pages,
        "distinct_pages": len(pages),
        "cpus": os.cpu_count(),
        "extract_workers": args.workers or os.cpu_count(),
        "load_avg_1m": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "newsmon": {"wall_s": round(wall, 2), "cpu_s": round(newsmon_cpu, 2),
                    "main_cpu_s": round(cpu["main_s"], 2),
                    "workers_cpu_s": round(cpu["workers_s"], 2),
                    "cpu_ms_per_page": round(1000 * newsmon_cpu / max(served, 1), 1),
                    "main_cpu_ms_per_page": round(1000 * cpu["main_s"] / max(served, 1), 1),
                    "pages_fetched": served,
                    "stored": stats["stored"], "rejected": stats["rejected"],
                    "failed": stats["failed"], "reasons": stats["reasons"],
                    "pages_per_s": round(newsmon_rate, 1)},
        "trafilatura": {"wall_s": round(base_wall, 2), "cpu_s": round(base_cpu, 2),
                        "cpu_ms_per_page": round(1000 * base_cpu / len(bodies), 1),
                        "extracted": base_ok,
                        "pages_per_s": round(base_rate, 1)},
        "during_crawl": {"server_cpu_s": round(cpu["server_s"], 2),
                         "others_cpu_s": round(cpu["others_s"], 2)},
        "ratio": round(newsmon_rate / base_rate, 2),
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
