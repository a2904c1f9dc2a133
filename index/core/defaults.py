"""Where the bundled defaults live: the repository's ``config/`` folder, installed as the package
``newsmon.defaults`` (settings, sources, topics, entities and the demo's settings).

Read through importlib.resources, so a wheel, ``pip install .``, pipx and an editable checkout
all find the same files.
"""
from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Any

DEFAULTS_PACKAGE = "newsmon.defaults"
SETTINGS_FILE = "newsmon.toml"


def defaults_dir() -> Path:
    """The folder holding the bundled defaults (a real folder: wheels install unzipped)."""
    return Path(str(files(DEFAULTS_PACKAGE)))


def default_file(name: str) -> Path:
    """A bundled defaults file by its name relative to ``config/`` (e.g. ``topics.yaml``)."""
    return defaults_dir() / name


@functools.cache
def bundled_settings() -> Mapping[str, Mapping[str, Any]]:
    """The bundled settings file (``newsmon.toml``) as read, by section.

    Read once and shared (hence read-only): the settings dataclasses take their field defaults
    from it, so the documented file and ``Settings()`` cannot drift apart.
    """
    with default_file(SETTINGS_FILE).open("rb") as fh:
        data = tomllib.load(fh)
    return MappingProxyType({section: MappingProxyType(dict(values))
                             for section, values in data.items()})


__all__ = ["DEFAULTS_PACKAGE", "SETTINGS_FILE", "defaults_dir", "default_file", "bundled_settings"]
