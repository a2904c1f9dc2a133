"""Summaries of a run: the crawl and enrich reports (`newsmon crawl`, `enrich`, `demo`) and the
per-stage lines of `newsmon run`, which adds the detailed reports when something failed."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from newsmon.app.outcome import RunOutcome, StageOutcome
from newsmon.cli.presenters.health import health_lines
from newsmon.index.store import RUN_OK

CRAWL_FIELDS = (
    ("requests", "requests"), ("feeds_fetched", "listings read"),
    ("not_modified", "not modified (304)"), ("discovered", "candidates"),
    ("skipped_known", "already known"), ("fetched_articles", "articles fetched"),
    ("stored", "stored"), ("flagged", "flagged"), ("rejected", "rejected"),
    ("failed", "failed"), ("listing_failures", "listings failed"),
    ("robots_blocked", "blocked by robots.txt"), ("offsite_blocked", "off-site, skipped"),
)

ENRICH_FIELDS = (
    ("pending", "pending"), ("embedded", "embedded"), ("vectors_reused", "vectors reused"),
    ("enriched", "enriched"), ("new_stories", "new stories"),
    ("stories_kept", "kept their story"),
    ("joined_duplicate", "joined as copies"), ("joined_similar", "joined as same event"),
    ("failed", "failed"),
)

# the counters that make a stage's one-line summary in `newsmon run`, in order
BRIEF = {
    "crawl": (("stored", "stored"), ("not_modified", "not modified"),
              ("skipped_known", "already known"), ("rejected", "rejected"),
              ("failed", "failed")),
    "enrich": (("pending", "pending"), ("enriched", "enriched"),
               ("new_stories", "new stories"), ("failed", "failed")),
    "index": (("upserted", "upserted"), ("deleted", "deleted"), ("documents", "documents")),
    "alert": (("matched", "matched"), ("decided", "new alerts"), ("delivered", "delivered"),
              ("pending", "pending"), ("parked", "parked"), ("baselines", "baselines")),
}


def crawl_summary(step: StageOutcome, run_id: int) -> str:
    s = step.stats
    sources = s.get("sources") or []
    lines = [
        f"crawl run {run_id}: {step.status} in {step.elapsed_s:.1f}s "
        f"({len(sources)} source(s): {', '.join(sources)})",
    ]
    width = max(len(label) for _, label in CRAWL_FIELDS)
    for key, label in CRAWL_FIELDS:
        if key in s:
            lines.append(f"  {label:<{width}}  {s[key]}")
    if s.get("finish_reason") not in (None, "", "finished"):
        lines.append(f"  crawl stopped early: {s['finish_reason']}")
    reasons = s.get("reasons") or {}
    if reasons:
        lines.append("  reasons: " + ", ".join(f"{k} {v}" for k, v in reasons.items()))
    if s.get("health"):
        lines.append("  sources:")
        lines += ["  " + line for line in health_lines(s["health"])]
    if step.status != RUN_OK:
        lines.append("  details: newsmon status (failures by reason) and the log above")
    return "\n".join(lines)


def enrich_summary(step: StageOutcome, run_id: int) -> str:
    s = step.stats
    # a run with nothing pending never loads the model, so no engine ran it
    engine = f"on {s['engine']}" if s.get("engine") else "not loaded: nothing pending"
    lines = [f"enrich run {run_id}: {step.status} in {step.elapsed_s:.1f}s "
             f"(model {s.get('model')} {engine}, version {s.get('version')})"]
    width = max(len(label) for _, label in ENRICH_FIELDS)
    for key, label in ENRICH_FIELDS:
        lines.append(f"  {label:<{width}}  {s.get(key, 0)}")
    if s.get("failures"):
        lines.append("  reasons: " + ", ".join(f"{k} {v}" for k, v in s["failures"].items()))
    return "\n".join(lines)


DETAILS: dict[str, Callable[[StageOutcome, int], str]] = {
    "crawl": crawl_summary, "enrich": enrich_summary}


def stage_line(step: StageOutcome) -> str:
    counts = ", ".join(f"{label} {step.stats[key]}" for key, label in BRIEF.get(step.stage, ())
                       if isinstance(step.stats.get(key), int))
    if step.stats.get("error"):
        counts = f"error: {step.stats['error']}"
    return f"  {step.stage:<7} {step.status:<8} {step.elapsed_s:>7.1f}s  {counts}"


def _alert_cause(s: dict[str, Any]) -> str:
    parts = []
    for channel, error in (s.get("errors") or {}).items():
        left = (s.get("left") or {}).get(channel, {})
        kept = [f"{left['pending']} pending, retried next run"] if left.get("pending") else []
        if left.get("parked"):
            kept.append(f"{left['parked']} parked: resend with `newsmon alert --retry`")
        parts.append(f"{channel.replace(':', ' ', 1)} failed: {error}"
                     + (f" ({'; '.join(kept)})" if kept else ""))
    return "; ".join(parts)


def _crawl_cause(s: dict[str, Any]) -> str:
    what = [f"{s[k]} {label}" for k, label in (("failed", "pages failed"),
                                                ("listing_failures", "listings failed"))
            if s.get(k)]
    reasons = ", ".join(f"{k} {v}" for k, v in (s.get("reasons") or {}).items())
    return ", ".join(what) + (f" ({reasons})" if reasons else "")


def _enrich_cause(s: dict[str, Any]) -> str:
    reasons = ", ".join(f"{k} {v}" for k, v in (s.get("failures") or {}).items())
    return f"{s.get('failed', 0)} articles failed" + (f" ({reasons})" if reasons else "")


CAUSES: dict[str, Callable[[dict[str, Any]], str]] = {
    "alert": _alert_cause, "crawl": _crawl_cause, "enrich": _enrich_cause}


def cause_line(step: StageOutcome) -> str | None:
    """Why a stage is partial or failed, in one line (stdout is what cron mails)."""
    if step.status == RUN_OK:
        return None
    cause = step.stats.get("error") or (CAUSES[step.stage](step.stats)
                                        if step.stage in CAUSES else "")
    return f"{step.stage} {step.status}: {cause or 'see the log'}"


def baseline_lines(step: StageOutcome) -> list[str]:
    """The alert rules that recorded baseline stories in this run, and how to send them."""
    if step.stage != "alert":
        return []
    return [f"  baseline recorded now for rule {rule}: {info['baseline_stories']} stories stored "
            f"before the rule was first seen, not sent (to send them: newsmon alert --backfill "
            f"--rule {rule})"
            for rule, info in (step.stats.get("rules") or {}).items()
            if info.get("baseline_stories")]


def run_summary(outcome: RunOutcome, *, details: bool) -> str:
    lines = [f"run {outcome.run_id}: {outcome.status} in {outcome.elapsed_s:.1f}s"]
    if outcome.interrupted_runs:
        lines.append("  earlier run(s) found interrupted (process gone): "
                     + ", ".join(map(str, outcome.interrupted_runs)))
    for step in outcome.steps:
        lines += [stage_line(step), *baseline_lines(step)]
    crawl = outcome.step("crawl")
    if crawl is not None and crawl.stats.get("health") and not details:
        # every crawled source, its state and its last error: a broken feed is named here
        lines.append("  sources:")
        lines += ["  " + line for line in health_lines(crawl.stats["health"])]
    lines += [line for s in outcome.steps if (line := cause_line(s))]
    if details:
        for step in outcome.steps:
            if step.stage in DETAILS:
                lines += ["", DETAILS[step.stage](step, outcome.run_id)]
    return "\n".join(lines)


__all__ = ["crawl_summary", "enrich_summary", "run_summary", "stage_line", "cause_line"]
