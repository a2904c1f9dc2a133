"""Test data folders that share the session's exported sentence-transformers model."""
from __future__ import annotations

from pathlib import Path


def link_model_cache(data_dir: Path, cache: Path) -> Path:
    """Give a test data folder the session's exported model (``<data>/models``); returns it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    link = data_dir / "models"
    if not link.exists():
        link.symlink_to(cache, target_is_directory=True)
    return data_dir
