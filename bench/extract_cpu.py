"""CPU per page of ``extract_article`` against bare trafilatura, in one process, and per step.

The crawl's throughput (bench/crawl_throughput.py) is a wall-time ratio of two extraction
workers against one process, which a loaded shared machine distorts; CPU per page in one process
is the steadier number behind it. Over the distinct corpus pages the crawl bench serves:

- ``extract_article`` (as a crawl worker runs it) and ``trafilatura.bare_extraction(html,
  with_metadata=True)``, alternating, ``--rounds`` each; the best round of each and their ratio;
- the same with ``--load-html``: parsing through trafilatura's ``load_html`` instead of
  ``engine.parse_html`` (the state before that cut), in the same run;
- CPU per page of each step of ``extract_article`` (timers around the functions it calls).

    .venv/bin/python bench/extract_cpu.py [--rounds 3]
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from crawl_throughput import corpus_pages  # noqa: E402

import newsmon.crawler.extract as extract  # noqa: E402
import newsmon.crawler.extract.decode as decode  # noqa: E402
from newsmon.crawler.extract import engine  # noqa: E402
from newsmon.crawler.page import Page  # noqa: E402

STEPS = ("read_page", "read_metadata", "unwrap_layout_tables", "visible", "find_body",
         "page_dates", "strip_lead", "find_authors", "template_lines", "challenge_kind")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    import trafilatura

    bodies = corpus_pages()
    pages = [Page(url=f"http://127.0.0.1:1/p/{i}.html", body=b, source="bench", lang="en",
                  tz="UTC", fetched_at=datetime.now(UTC), content_type="text/html")
             for i, b in enumerate(bodies)]

    def ours() -> list[Any]:
        out: list[Any] = []
        for page in pages:
            try:
                out.append(extract.extract_article(page))
            except Exception as exc:  # noqa: BLE001 - a rejected page is an outcome too
                out.append(type(exc).__name__)
        return out

    def theirs() -> None:
        for body in bodies:
            trafilatura.bare_extraction(body, with_metadata=True)

    def ms(fn: Any) -> float:
        start = time.process_time()
        fn()
        return (time.process_time() - start) / len(pages) * 1000

    decode.parse_html = engine.load_html  # type: ignore[assignment]
    before = ours()
    decode.parse_html = engine.parse_html
    same = ours() == before
    runs: dict[str, list[float]] = {"newsmon": [], "newsmon_load_html": [], "trafilatura": []}
    for _ in range(args.rounds):
        decode.parse_html = engine.load_html  # type: ignore[assignment]
        runs["newsmon_load_html"].append(ms(ours))
        decode.parse_html = engine.parse_html
        runs["newsmon"].append(ms(ours))
        runs["trafilatura"].append(ms(theirs))
    steps = {name: 0.0 for name in STEPS}
    for name in STEPS:
        original = getattr(extract, name)

        def timed(*a: Any, _f: Any = original, _n: str = name, **k: Any) -> Any:
            start = time.process_time()
            try:
                return _f(*a, **k)
            finally:
                steps[_n] += time.process_time() - start
        setattr(extract, name, functools.wraps(original)(timed))
    total = ms(ours)
    best = {k: round(min(v), 2) for k, v in runs.items()}
    print(json.dumps({
        "pages": len(pages), "rounds": args.rounds, "cpu_ms_per_page_best": best,
        "all_rounds": {k: [round(x, 2) for x in v] for k, v in runs.items()},
        "ratio_newsmon_to_trafilatura": round(best["newsmon"] / best["trafilatura"], 3),
        "ratio_parse_html_to_load_html": round(best["newsmon"] / best["newsmon_load_html"], 3),
        "same_articles_either_parser": same,
        "steps_ms_per_page": {"total": round(total, 2),
                              **{k: round(v / len(pages) * 1000, 2) for k, v in
                                 sorted(steps.items(), key=lambda kv: -kv[1])}},
    }, indent=1))


if __name__ == "__main__":
    main()
