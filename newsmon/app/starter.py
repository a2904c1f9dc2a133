"""What `newsmon init` writes: a starter newsmon.toml, sources.yaml and alerts.yaml for your own
monitoring, each commented (as `scrapy startproject` writes a project).

The templates are package data (config/init/, installed as ``newsmon.defaults``). A settings
section this version of newsmon does not know is left out of the written newsmon.toml, so the
starter always loads; existing files are never overwritten unless asked.
"""
from __future__ import annotations

import re
from pathlib import Path

from newsmon.index.core.defaults import default_file
from newsmon.index.core.settings import SECTIONS

TEMPLATES = default_file("init")
FILES = ("newsmon.toml", "sources.yaml", "alerts.yaml")
_SECTION = re.compile(r"^\[([A-Za-z0-9_]+)\]\s*$")


def settings_text(template: str, known: tuple[str, ...] | list[str] = tuple(SECTIONS)) -> str:
    """The template without the sections (header, comments and keys) this version does not
    know; the comment block right before a section's header belongs to that section."""
    blocks: list[tuple[str | None, list[str]]] = [(None, [])]
    pending: list[str] = []
    for line in template.splitlines(keepends=True):
        m = _SECTION.match(line)
        if m:
            blocks.append((m.group(1), pending + [line]))
            pending = []
        elif line.startswith("#") and blocks[-1][0] is not None:
            pending.append(line)
        else:
            blocks[-1][1].extend(pending + [line])
            pending = []
    blocks[-1][1].extend(pending)
    return "".join("".join(lines) for name, lines in blocks if name is None or name in known)


def write_starter(target: Path, *, force: bool = False) -> list[Path]:
    """Write the starter files into ``target`` (created if need be); returns their paths.
    Raises FileExistsError naming the files already there, unless ``force``."""
    target.mkdir(parents=True, exist_ok=True)
    paths = [target / name for name in FILES]
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        raise FileExistsError(", ".join(str(p) for p in existing))
    for name, path in zip(FILES, paths):
        text = (TEMPLATES / name).read_text(encoding="utf-8")
        path.write_text(settings_text(text) if name == "newsmon.toml" else text, encoding="utf-8")
    return paths


__all__ = ["FILES", "TEMPLATES", "settings_text", "write_starter"]
