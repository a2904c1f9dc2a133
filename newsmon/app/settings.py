"""One frozen settings object, built once in the CLI and passed down.

Precedence: the commented defaults file (config/newsmon.toml) < a local file (--config or
NEWSMON_CONFIG) < NEWSMON_<SECTION>__<KEY> environment variables < command-line flags.
"""
from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from newsmon.index.core.defaults import SETTINGS_FILE, default_file
from newsmon.index.core.errors import ConfigError
from newsmon.index.core.settings import (
    SECTIONS,
    CrawlSettings,
    DataSettings,
    IndexSettings,
    LogSettings,
    Settings,
    coerce,
)

DEFAULTS_FILE = default_file(SETTINGS_FILE)
ENV_PREFIX = "NEWSMON_"
# keys whose values are paths, resolved against the file that set them
PATH_KEYS = {("data", "dir"), ("crawl", "sources"), ("enrich", "topics"), ("enrich", "entities"),
             ("enrich", "lexicon"), ("alerts", "rules")}
# paths that may be empty (unset): resolved the same way when given, kept as text
OPTIONAL_PATH_KEYS = {("data", "env_file")}


def _optional_path(value: str, base: Path) -> str:
    return str((base / Path(value).expanduser()).resolve()) if value else ""


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"settings file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for section, values in data.items():
        if section not in SECTIONS:
            raise ConfigError(
                f"{path}: unknown section [{section}]; allowed: {', '.join(SECTIONS)}"
            )
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
    return data


def _apply_file(layers: dict[str, dict[str, Any]], path: Path, *,
                data_base: Path | None = None) -> None:
    """Merge one settings file; its relative paths are relative to it, except the data folder
    when ``data_base`` is given (the bundled defaults: an installed package's folder is no place
    for the user's data)."""
    for section, values in _read_toml(path).items():
        for key, value in values.items():
            value = coerce(section, key, value, str(path))
            if (section, key) in PATH_KEYS:
                base = data_base if data_base is not None and (section, key) == ("data", "dir") \
                    else path.parent
                value = (base / Path(value).expanduser()).resolve()
            elif (section, key) in OPTIONAL_PATH_KEYS:
                value = _optional_path(value, path.parent)
            layers[section][key] = value


def load_settings(
    config_file: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    defaults_file: Path = DEFAULTS_FILE,
) -> Settings:
    """Build the settings object from all layers; raise ConfigError naming any bad key."""
    env = os.environ if env is None else env
    layers: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    if defaults_file.exists():
        _apply_file(layers, defaults_file, data_base=Path.cwd())
    config_file = config_file or env.get("NEWSMON_CONFIG") or None
    local = Path(config_file).expanduser().resolve() if config_file else None
    if local is not None:
        _apply_file(layers, local)
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX):].lower().partition("__")
        if section not in SECTIONS:
            raise ConfigError(f"environment: {name}: unknown section {section!r}")
        coerced = coerce(section, key, value, f"environment {name}")
        if (section, key) in PATH_KEYS:
            coerced = Path(coerced).expanduser().resolve()
        elif (section, key) in OPTIONAL_PATH_KEYS:
            coerced = _optional_path(coerced, Path.cwd())
        layers[section][key] = coerced
    for section, values in (overrides or {}).items():
        if section not in SECTIONS:
            raise ConfigError(f"flags: unknown section {section!r}")
        for key, value in values.items():
            if value is None:
                continue
            coerced = coerce(section, key, value, "flags")
            if (section, key) in PATH_KEYS:
                coerced = Path(coerced).expanduser().resolve()
            elif (section, key) in OPTIONAL_PATH_KEYS:
                coerced = _optional_path(coerced, Path.cwd())
            layers[section][key] = coerced
    built = {name: cls(**layers[name]) for name, cls in SECTIONS.items()}
    return Settings(**built, config_file=local)


__all__ = ["Settings", "DataSettings", "CrawlSettings", "IndexSettings", "LogSettings",
           "load_settings", "coerce"]
