"""`newsmon run` on a local web of ≥ 1,000 articles: a rerun with nothing new vs the first run,
and the peak memory of the run.

Builds a local web in a temporary folder (one fictional site, ``bench-news.example``: N article
pages made from the labelled dev set's 69 English and Japanese texts under fresh URLs — each
page takes one article's headline and lead and rotates paragraphs from three others of its
language, so pages differ — one sitemap listing all of them, an RSS feed of the newest 50, a
section page), serves it with newsmon's demo server (ETag/Last-Modified, 304s) as the HTTP proxy,
and runs in the same process tree:

1. ``newsmon run`` on an empty store (crawl every page, enrich every article): the baseline;
2. ``newsmon run`` again with nothing new: what cron pays every 15–30 minutes.

    .venv/bin/python bench/run_rerun.py [--articles 1200] [--enrich-text paragraphs]

Prints one JSON object: wall seconds of each run, their ratio (target ≤ 0.1), the requests the
rerun made, and memory: ``ru_maxrss`` of the newsmon process (``os.wait4``) and the peak of the
summed RSS of its whole process tree (the crawl's extraction workers are forkserver children
that ``ru_maxrss`` never counts), sampled from /proc every 0.1 s (target < 1 GB).
"""
from __future__ import annotations

import argparse
import html
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from newsmon.demo_server import DemoServer  # noqa: E402

DEVSET = ROOT.parent / "shared" / "devset" / "articles.jsonl"
HOST = "bench-news.example"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def load_devset() -> list[dict]:
    if not DEVSET.exists():
        raise SystemExit(f"dev set not found at {DEVSET} (the bench reads ../shared in place)")
    return [json.loads(line) for line in DEVSET.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def make_pages(devset: list[dict], n: int) -> list[dict]:
    by_lang: dict[str, list[dict]] = {}
    for art in devset:
        by_lang.setdefault(art["lang"], []).append(art)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    pages = []
    for i in range(n):
        base = devset[i % len(devset)]
        same = by_lang[base["lang"]]
        k = same.index(base)
        paras = [p for p in base["text"].split("\n\n") if p.strip()]
        for j in (1, 2, 3):
            other = same[(k + j * (1 + i // len(devset))) % len(same)]
            extra = [p for p in other["text"].split("\n\n") if p.strip()]
            paras.append(extra[(i + j) % len(extra)])
        when = start + timedelta(minutes=17 * i)
        sep = "　" if base["lang"] == "ja" else " — "
        pages.append({
            "path": f"/news/{when:%Y/%m/%d}/story-{i:05d}.html", "lang": base["lang"],
            "title": f"{base['title']}{sep}{i}", "paras": paras, "published": when,
        })
    return pages


def page_html(page: dict) -> str:
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in page["paras"])
    title = html.escape(page["title"])
    return (f'<!DOCTYPE html><html lang="{page["lang"]}"><head><meta charset="utf-8">'
            f"<title>{title} | Bench News</title>"
            f'<meta property="og:title" content="{title}">'
            f'<meta property="article:published_time" content="{page["published"].isoformat()}">'
            f"</head><body><nav><a href=\"/\">Home</a> <a href=\"/world/\">World</a></nav>"
            f"<article><h1>{title}</h1>\n{body}\n</article><footer>Bench News</footer>"
            f"</body></html>")


def build_web(root: Path, pages: list[dict]) -> None:
    site = root / HOST
    for page in pages:
        path = site / page["path"].lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page_html(page), encoding="utf-8")
    base = f"http://{HOST}"
    (site / "robots.txt").write_text(f"User-agent: *\nDisallow:\nSitemap: {base}/sitemap.xml\n")
    locs = "".join(f"<url><loc>{base}{p['path']}</loc>"
                   f"<lastmod>{p['published'].isoformat()}</lastmod></url>" for p in pages)
    (site / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>')
    newest = sorted(pages, key=lambda p: p["published"], reverse=True)[:50]
    items = "".join(
        f"<item><title>{html.escape(p['title'])}</title><link>{base}{p['path']}</link>"
        f"<pubDate>{format_datetime(p['published'])}</pubDate></item>" for p in newest)
    (site / "rss.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Bench News</title><link>{base}/</link><description>bench</description>"
        f"{items}</channel></rss>")
    links = "".join(f'<li><a href="{p["path"]}">{html.escape(p["title"])}</a></li>'
                    for p in newest[:30])
    (site / "world").mkdir(exist_ok=True)
    (site / "world" / "index.html").write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>World</title></head>'
        f"<body><ul>{links}</ul></body></html>", encoding="utf-8")
    (root / "headers.json").write_text(json.dumps(
        {f"{HOST}/rss.xml": {"Content-Type": "application/rss+xml; charset=utf-8"}}))


def write_config(tmp: Path, enrich_text: str) -> Path:
    sources = tmp / "sources.yaml"
    sources.write_text(
        "sources:\n  - id: bench-news\n    name: Bench News\n    lang: [en, ja]\n"
        f"    feeds: [http://{HOST}/rss.xml]\n    sitemaps: [http://{HOST}/sitemap.xml]\n"
        f"    sections: [http://{HOST}/world/]\n"
        "    allow: ['/news/\\d{4}/\\d{2}/\\d{2}/story-\\d+\\.html$']\n", encoding="utf-8")
    config = tmp / "newsmon.toml"
    # a local server: no politeness delay needed (as in the demo settings); everything else is
    # the shipped defaults
    config.write_text(
        f'[data]\ndir = "{tmp / "data"}"\n\n[crawl]\nsources = "{sources}"\n'
        "download_delay = 0.0\nautothrottle = false\n\n"
        f'[enrich]\ntext = "{enrich_text}"\n', encoding="utf-8")
    return config


def _tree_rss(root_pid: int) -> int:
    """Summed RSS (bytes) of a process and all its descendants."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            parents[int(entry.name)] = int(fields[1])
            rss[int(entry.name)] = int(fields[21]) * PAGE_SIZE
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(rss.get(pid, 0) for pid in tree)


def run_newsmon(config: Path, proxy: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NEWSMON_") and not k.lower().endswith("_proxy")}
    env.update(http_proxy=proxy, no_proxy="localhost,127.0.0.1")
    log = config.parent / "run.log"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "newsmon"), "--config", str(config), "--log-file",
         str(log), "run", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out_chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True)
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    reader.join()
    err = proc.stderr.read().decode("utf-8", "replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"newsmon run exited {code}: {err[-3000:]}")
    summary = json.loads(b"".join(out_chunks))
    return {"wall_s": round(wall, 2), "maxrss_mb": round(usage.ru_maxrss / 1024, 1),
            "tree_peak_rss_mb": round(peak / 2**20, 1),
            "steps": {s["stage"]: {"elapsed_s": s["elapsed_s"],
                                   **{k: s["stats"].get(k) for k in (
                                       "requests", "stored", "not_modified", "fetched_articles",
                                       "pending", "enriched") if k in s["stats"]}}
                      for s in summary["steps"]}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=1200)
    ap.add_argument("--enrich-text", default="paragraphs",
                    choices=("paragraphs", "title_lead", "full"))
    args = ap.parse_args()
    if args.articles < 1000:
        print("warning: under 1,000 articles the fixed costs hide the ratio", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="newsmon-bench-run-") as tmp_name:
        tmp = Path(tmp_name)
        web = tmp / "web"
        pages = make_pages(load_devset(), args.articles)
        build_web(web, pages)
        config = write_config(tmp, args.enrich_text)
        with DemoServer(web) as server:
            load_before = os.getloadavg()[0]
            first = run_newsmon(config, server.url)
            served = len(server.requests)
            rerun = run_newsmon(config, server.url)
            rerun_requests = server.requests[served:]
            load_after = os.getloadavg()[0]
    print(json.dumps({
        "articles": args.articles, "enrich_text": args.enrich_text,
        "first": first, "rerun": rerun,
        "ratio_rerun_over_first": round(rerun["wall_s"] / first["wall_s"], 4),
        "rerun_requests": len(rerun_requests),
        "rerun_statuses": sorted({h.status for h in rerun_requests}),
        "peak_rss_mb": max(first["tree_peak_rss_mb"], rerun["tree_peak_rss_mb"]),
        "load": [round(load_before, 2), round(load_after, 2)], "cpus": os.cpu_count(),
    }, indent=2))


if __name__ == "__main__":
    main()
