"""Reading a YAML configuration file (sources, topics, entities, alert rules): one place that
turns a missing, unreadable or malformed file into a ``ConfigError`` naming the file."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from newsmon.index.core.errors import ConfigError

__all__ = ["load_yaml"]


def load_yaml(path: str | Path, what: str, *, reason: str | None = None) -> Any:
    """The document in the YAML file ``path`` (``what`` names the file's kind in messages,
    e.g. "sources"); ``ConfigError`` (with ``reason`` when given) when it cannot be read or
    parsed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} file not found: {path}", reason=reason) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read {what} file: {exc}", reason=reason) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}", reason=reason) from None
