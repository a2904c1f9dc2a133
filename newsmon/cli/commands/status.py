"""`newsmon status`: what the store holds, how the last run went, and why things failed."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from newsmon.alerts import status as alerts_status
from newsmon.alerts import status_lines
from newsmon.app.lock import running_holder
from newsmon.app.pipeline import open_store
from newsmon.app.settings import Settings
from newsmon.cli.context import get_settings
from newsmon.index.core import reasons
from newsmon.index.store import Store
from newsmon.index.store.run_records import RunRecords

RECENT_RUNS = 5


def last_embedding(store: Store) -> dict[str, Any] | None:
    """Model and engine of the latest run that embedded (from its recorded stats)."""
    best = None
    for command in ("enrich", "demo-enrich", "run"):
        run = store.runs.last(command)
        if run is None:
            continue
        stats = run.stats or {}
        if "engine" not in stats and isinstance(stats.get("enrich"), dict):
            stats = stats["enrich"]  # a run that crawls and enriches nests the enrich stats
        if stats.get("engine") and (best is None or run.id > best["run"]):
            best = {"model": stats.get("model"), "engine": stats["engine"], "run": run.id}
    return best


def empty_status(path: Path) -> dict[str, Any]:
    """The shape of Store.status() for a store not created yet (status never creates one)."""
    return {"store": str(path), "articles": 0, "by_source": {}, "by_lang": {}, "by_stage": {},
            "by_status": {}, "feeds": 0, "failures_by_reason": {}, "last_run": None,
            "runs": [], "queued": {},
            "embedding": None}


def queued(settings: Settings, store: Store) -> dict[str, int]:
    """Work waiting per stage: URLs to retry (crawl), articles not enriched with this version,
    change-feed entries the search backend has not taken (index)."""
    from newsmon.enrich.pipeline import current_version  # topics and gazetteer, not the model

    retry = store.connection.execute(
        "SELECT COUNT(*) FROM urls WHERE state = 'failed' AND attempts < ?",
        (settings.crawl.max_attempts,)).fetchone()[0]
    backend = f"backend:{settings.index.backend}"
    return {"crawl": int(retry),
            "enrich": len(store.articles.enrich_pending(current_version(settings))),
            # changes in the feed the configured search backend has not taken yet
            "index": max(store.changes.head() - store.cursors.get(backend), 0)}


def collect_status(settings: Settings) -> dict[str, Any]:
    path = settings.data.store_path
    if path.exists():
        with open_store(settings) as store:
            out = store.status()
            out["alerts"] = alerts_status(store)
            out["runs"] = [r.as_dict() for r in RunRecords(store).recent(RECENT_RUNS)]
            out["queued"] = queued(settings, store)
            out["embedding"] = last_embedding(store)
    else:
        out = empty_status(path)
    out["exists"] = path.exists()
    out["running"] = running_holder(settings.data.lock_path)
    return out


# the counters a step shows in `status`, when non-zero
STEP_COUNTS = ("stored", "not_modified", "enriched", "new_stories", "upserted", "alerts",
               "delivered", "rejected", "failed")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))) \
        or "-"


def status_text(st: dict[str, Any]) -> str:
    lines = [f"store: {st['store']}" + ("" if st.get("exists", True) else " (not created yet)")]
    if st.get("running"):
        r = st["running"]
        lines.append(f"running now: {r.get('command')} (pid {r.get('pid')}, "
                     f"since {r.get('started_at')})")
    lines.append(f"articles: {st['articles']}")
    for key, label in (("by_source", "by source"), ("by_lang", "by language"),
                       ("by_stage", "by stage"), ("by_status", "by status")):
        lines.append(f"  {label + ':':<13}{_counts(st[key])}")
    lines.append(f"feeds tracked: {st['feeds']}")
    run = st.get("last_run")
    if run:
        stats = run.get("stats") or {}
        brief = ", ".join(f"{k.replace('_', ' ')} {stats[k]}"
                          for k in ("stored", "not_modified", "rejected", "failed")
                          if isinstance(stats.get(k), int))
        if stats.get("error"):
            brief = f"error: {stats['error']}"
        lines.append(f"last run: #{run['id']} {run['command']} {run['status']}, started "
                     f"{run['started_at']}, finished {run.get('finished_at') or '-'}"
                     + (f" ({brief})" if brief else ""))
    else:
        lines.append("last run: none yet (try `newsmon crawl`, or `newsmon demo`)")
    if st.get("runs"):
        lines.append("recent runs:")
        for r in st["runs"]:
            lines.append(f"  #{r['id']} {r['command']} {r['status']}, started {r['started_at']}"
                         f" (pid {r.get('pid') or '-'} on {r.get('host') or '-'})")
            for step in r.get("steps") or ():
                took = f"{step['duration_s']:.1f}s" if step.get("duration_s") is not None else "-"
                counts = step.get("counts") or {}
                brief = ", ".join(f"{k.replace('_', ' ')} {counts[k]}" for k in STEP_COUNTS
                                  if isinstance(counts.get(k), int) and counts[k])
                lines.append(f"      {step['stage']:<7} {step['status']:<11} {took:>8}"
                             + (f"  {brief}" if brief else ""))
    if st.get("queued"):
        lines.append("queued: " + ", ".join(f"{stage} {n}" for stage, n in st["queued"].items()))
    emb = st.get("embedding")
    if emb:
        lines.append(f"embedded by: {emb['model']} on {emb['engine']} (run #{emb['run']})")
    failures = st.get("failures_by_reason") or {}
    lines.append("failures by reason: " + (_counts(failures) if failures else "none"))
    codes = dict.fromkeys(key.partition(":")[2] or key for key in failures)
    lines += [f"  {code}: {reasons.describe(code)}" for code in codes]
    if st.get("alerts"):
        lines += status_lines(st["alerts"])
    return "\n".join(lines)


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
@click.pass_context
def status_command(ctx: click.Context, as_json: bool) -> None:
    """Show what the store holds: articles by source, language, stage and status, the last runs
    with each stage's duration and counts, work queued per stage, and failures by reason. Never
    creates anything.

    \b
    Example:
      newsmon status
      newsmon status --json | jq .by_source
    """
    st = collect_status(get_settings(ctx))
    if as_json:
        click.echo(json.dumps(st, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(status_text(st))
