"""Where the bundled defaults live: the repository's ``config/`` folder, installed as the package
``newsmon.defaults`` (settings, sources, topics, entities and the demo's settings).

Read through importlib.resources, so a wheel, ``pip install .``, pipx and an editable checkout
all find the same files.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

DEFAULTS_PACKAGE = "newsmon.defaults"


def defaults_dir() -> Path:
    """The folder holding the bundled defaults (a real folder: wheels install unzipped)."""
    return Path(str(files(DEFAULTS_PACKAGE)))


def default_file(name: str) -> Path:
    """A bundled defaults file by its name relative to ``config/`` (e.g. ``topics.yaml``)."""
    return defaults_dir() / name
