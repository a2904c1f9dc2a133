"""The text of `newsmon status` (also printed at the end of `newsmon demo`)."""
from __future__ import annotations

from typing import Any

from newsmon.alerts import status_lines
from newsmon.cli.presenters.health import health_lines
from newsmon.index.core import reasons

# the counters a step shows in `status`, when non-zero
STEP_COUNTS = ("stored", "not_modified", "enriched", "new_stories", "upserted", "alerts",
               "delivered", "rejected", "failed")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))) \
        or "-"


def source_health_lines(sh: dict[str, Any] | None) -> list[str]:
    """Every configured source with its health; the sources no longer configured."""
    if not sh:
        return []
    if sh.get("error"):
        return [f"sources: cannot read {sh.get('file')}: {sh['error']}"]
    lines = [f"sources ({len(sh['sources'])} in {sh.get('file')}):"]
    lines += health_lines(sh["sources"])
    for gone in sh.get("unconfigured") or ():
        lines.append(f"notice: source {gone['source']} is not in {sh.get('file')} any more but "
                     f"{gone['articles']} of its articles are stored (and searchable); remove "
                     f"them with `newsmon sources remove {gone['source']} --purge`")
    return lines


def job_lines(jobs: dict[str, Any] | None) -> list[str]:
    """The job queue of a PostgreSQL store's workers (newsmon.app.status.queue_status)."""
    if not jobs:
        return []
    lines = [f"job queue: {jobs['workers']} live worker(s), {len(jobs['running'])} job(s) "
             f"running, {jobs['stalled']} stalled"]
    lines.append("  waiting/running: " + ", ".join(
        f"{q} {d['todo']}/{d['doing']}" for q, d in jobs["queues"].items()))
    for job in jobs["running"]:
        lines.append(f"  #{job['id']} {job['task']} {job['args']} since {job['started_at']}"
                     + ("  STALLED (its worker's heartbeat lapsed; retried soon)"
                        if job["stalled"] else ""))
    if jobs["shards"]:
        lines.append("  crawl shards (lag of the oldest due crawl, last crawl):")
        for shard, lag in jobs["shards"].items():
            lines.append(f"    {shard:>3}: lag {lag['lag_s']:.0f}s, last {lag['last_crawl'] or '-'}")
    return lines


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
        if key == "by_stage" and st.get("indexed"):
            # the stored stage ends at enriched; each search backend has its own cursor
            lines.append(f"  {'indexed:':<13}" + ", ".join(
                f"{backend} {n}" for backend, n in sorted(st["indexed"].items())))
    lines.append(f"feeds tracked: {st['feeds']}")
    lines += source_health_lines(st.get("source_health"))
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
    lines += job_lines(st.get("jobs"))
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
