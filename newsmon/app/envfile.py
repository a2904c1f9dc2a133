"""Secrets for cron without putting them in the crontab: the env file named by [data] env_file.

newsmon reads it at start, before any command runs, and adds its variables to the process's
environment, so the variables that channels and backends read (a webhook rule's ``url_env``,
NEWSMON_SMTP_PASSWORD, NEWSMON_ES_API_KEY, NEWSMON_APPRISE_URLS…) reach a cron run that starts
with an empty environment. The format:

    # comments and blank lines are skipped
    NEWSMON_WEBHOOK_URL=https://hooks.example.org/T000/B000/XXXX
    export NEWSMON_SMTP_PASSWORD='quoted: nothing inside is expanded'

Any variable name is allowed (a channel may name its own), except settings: a
NEWSMON_<SECTION>__<KEY> or NEWSMON_CONFIG line is refused, since the file is read after the
settings it would change (they belong in newsmon.toml). A variable already set in the
environment wins over the file (what you export at a terminal is what you meant). A file that
its group or others may read or write is refused with the chmod that fixes it: it holds secrets.
"""
from __future__ import annotations

import os
import re
import stat
from collections.abc import MutableMapping
from pathlib import Path

from newsmon.index.core.errors import ConfigError

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of an env file; ConfigError naming the file (and line) when it is missing,
    open to group or others, or not KEY=VALUE lines."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(f"[data] env_file: {path} does not exist (create it with KEY=VALUE "
                          f"lines and `chmod 600 {path}`, or unset env_file)") from None
    except OSError as exc:
        raise ConfigError(f"[data] env_file: cannot read {path}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise ConfigError(f"[data] env_file: {path} is not a file")
    if mode & 0o077:
        raise ConfigError(f"[data] env_file: {path} holds secrets but its group or others may "
                          f"access it (mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"[data] env_file: cannot read {path}: {exc}") from None
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        name, eq, value = line.partition("=")
        name, value = name.strip(), value.strip()
        where = f"{path}:{number}"
        if not eq or not NAME.match(name):
            raise ConfigError(f"{where}: expected NAME=VALUE (a variable name, '=', its value)")
        if name == "NEWSMON_CONFIG" or (name.startswith("NEWSMON_") and "__" in name):
            raise ConfigError(f"{where}: {name} is a setting, not a secret: the env file is read "
                              f"after the settings; put it in newsmon.toml")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[name] = value
    return out


def apply_env_file(path: Path | str, environ: MutableMapping[str, str] | None = None
                   ) -> list[str]:
    """Add the file's variables to ``environ`` (the process's) where not already set; returns
    the names it set. An empty ``path`` (no env file configured) does nothing."""
    if not str(path):
        return []
    env = os.environ if environ is None else environ
    added = []
    for name, value in read_env_file(Path(path)).items():
        if name not in env:
            env[name] = value
            added.append(name)
    return added


__all__ = ["read_env_file", "apply_env_file"]
