"""The text of `newsmon sources list | check | remove`."""
from __future__ import annotations

from typing import Any

from newsmon.app.sources import EntryCheck, Removed
from newsmon.cli.presenters.health import health_lines


def list_text(sh: dict[str, Any]) -> str:
    if sh.get("error"):
        return f"cannot read {sh.get('file')}: {sh['error']}"
    lines = [f"{len(sh['sources'])} source(s) in {sh['file']}:"]
    lines += health_lines(sh["sources"])
    for gone in sh.get("unconfigured") or ():
        lines.append(f"not configured any more: {gone['source']} ({gone['articles']} articles "
                     f"stored; `newsmon sources remove {gone['source']} --purge` deletes them)")
    return "\n".join(lines)


def check_text(results: list[EntryCheck]) -> str:
    if not results:
        return "no sources to check"
    lines = []
    source = None
    for r in results:
        if r.source != source:
            source = r.source
            lines.append(f"{source}:")
        lines.append(f"  {'ok ' if r.ok else 'BAD'} {r.kind:<7} {r.url}")
        lines.append(f"              {r.found}")
    bad = sum(1 for r in results if not r.ok)
    lines.append(f"{len(results)} URL(s) checked, {bad} with a problem")
    return "\n".join(lines)


def removed_text(r: Removed) -> str:
    lines = []
    if r.file is not None:
        lines.append(f"removed source {r.source} from {r.file} (the previous file is kept as "
                     f"{r.previous})")
        if not r.comments_kept:
            lines.append(f"note: {r.file} is written in flow style, so it was written anew "
                         f"without its comments (they are in {r.previous})")
    else:
        lines.append(f"source {r.source} was not in the sources file")
    if r.articles is None:
        lines.append(f"its stored articles stay (searchable; `newsmon status` flags them): "
                     f"`newsmon sources remove {r.source} --purge` deletes them")
    else:
        lines.append(f"purged {r.articles} article(s) of {r.source} from the store"
                     + (" and its crawl records (" + ", ".join(
                         f"{k} {v}" for k, v in r.traces.items()) + ")" if r.traces else ""))
        for name, n in r.backends.items():
            lines.append(f"  search index {name}: {n} document(s) deleted")
        for name, err in r.backend_errors.items():
            lines.append(f"  search index {name}: not reached ({err}); its next `newsmon index "
                         f"--backend {name}` deletes them")
    return "\n".join(lines)


__all__ = ["list_text", "check_text", "removed_text"]
