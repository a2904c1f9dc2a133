"""Crontab lines for `newsmon run`, and idempotent edits of the user's crontab.

The lines newsmon manages sit between two marker comments naming the data folder, so several
installations (say, the real store and a test one) live side by side, ``--install`` twice leaves
one block, and ``--remove`` takes out exactly that block and nothing the user wrote.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from newsmon.app.envfile import read_env_file
from newsmon.app.pipeline import PIPELINE
from newsmon.app.settings import Settings
from newsmon.index.core.errors import ConfigError

EVERY = re.compile(r"^\s*(\d+)\s*(m|min|h|d)\s*$")


def cron_times(every: str) -> str:
    """The five cron time fields for an interval: ``15m`` → ``*/15 * * * *``, ``2h`` →
    ``0 */2 * * *``, ``1d`` → ``0 0 * * *``. Only intervals that divide the hour or the day
    are allowed (cron cannot say "every 45 minutes")."""
    match = EVERY.match(every)
    if not match:
        raise ConfigError(f"--every {every!r}: use minutes, hours or days, e.g. 15m, 30m, 1h, 1d")
    digits, unit = match.group(1).lstrip("0") or "0", match.group(2)
    if len(digits) > 6:  # more than a day in any unit; int() refuses thousands of digits
        raise ConfigError(f"--every {every!r}: at most once a day (1d)")
    n = int(digits)
    if unit in ("m", "min"):
        if n < 1 or 60 % n:
            raise ConfigError(f"--every {every!r}: minutes must divide the hour "
                              f"(1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)")
        return "0 * * * *" if n == 60 else f"*/{n} * * * *"
    if unit == "h":
        if n < 1 or 24 % n:
            raise ConfigError(f"--every {every!r}: hours must divide the day "
                              f"(1, 2, 3, 4, 6, 8, 12, 24)")
        return "0 0 * * *" if n == 24 else ("0 * * * *" if n == 1 else f"0 */{n} * * *")
    if n != 1:
        raise ConfigError(f"--every {every!r}: at most once a day (1d)")
    return "0 0 * * *"


def newsmon_executable() -> list[str]:
    """How cron starts this very newsmon: the console script of this environment (venv) by its
    absolute path, else this interpreter with ``-m newsmon``."""
    script = Path(sys.prefix) / "bin" / "newsmon"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "newsmon"]


@dataclass(frozen=True, slots=True)
class Schedule:
    times: str
    data_dir: Path
    log_file: Path
    config_file: Path | None
    command: list[str]
    path_env: str
    env_file: str = ""
    # variables the alert channels read that the env file does not set
    missing: tuple[str, ...] = ()

    @property
    def begin(self) -> str:
        return f"# >>> newsmon schedule for {self.data_dir} >>>"

    @property
    def end(self) -> str:
        return f"# <<< newsmon schedule for {self.data_dir} <<<"

    def lines(self) -> list[str]:
        argv = [*self.command]
        if self.config_file is not None:
            argv += ["--config", str(self.config_file)]
        argv += ["--data-dir", str(self.data_dir), "--log-file", str(self.log_file), "run"]
        job = f"PATH={shlex.quote(self.path_env)} {shlex.join(argv)}"
        return [
            self.begin,
            f"# `newsmon run` ({', '.join(PIPELINE)}). It takes its own lock "
            f"({self.data_dir / 'newsmon.lock'}):",
            "# a run that overlaps the previous one exits 3 at once and changes nothing. Success "
            "prints nothing;",
            f"# a failure prints its summary (cron mails it). Log: {self.log_file}.",
            *self.secrets_lines(),
            f"{self.times} {job}",
            self.end,
        ]

    def secrets_lines(self) -> list[str]:
        """Where the secrets come from: never this crontab (anyone who reads it, or a
        `crontab -l` pasted in a bug report, would have them)."""
        if not self.env_file:
            where = self.config_file or "your newsmon.toml"
            return ["# Secrets (webhook URLs, passwords) do not go in this crontab: put KEY=VALUE "
                    "lines in a file only",
                    f"# you can read (chmod 600) and name it in {where} as [data] env_file."]
        lines = [f"# Secrets: read by newsmon at start from {self.env_file} (KEY=VALUE lines, "
                 "chmod 600), never from this crontab."]
        if self.missing:
            lines.append(f"# Not in it yet, read by your alert channels: {', '.join(self.missing)}")
        return lines


def build_schedule(settings: Settings, every: str = "30m") -> Schedule:
    data_dir = Path(settings.data.dir).expanduser().resolve()
    log_file = Path(settings.log.file).expanduser().resolve() if settings.log.file \
        else data_dir / "newsmon.log"
    command = newsmon_executable()
    bin_dir = str(Path(command[0]).parent)
    path_env = ":".join(dict.fromkeys([bin_dir, "/usr/local/bin", "/usr/bin", "/bin"]))
    config = Path(settings.config_file).resolve() if settings.config_file else None
    env_file = settings.data.env_file
    missing: tuple[str, ...] = ()
    if env_file:
        have = read_env_file(Path(env_file))
        missing = tuple(v for v in channel_variables(settings) if v not in have)
    return Schedule(cron_times(every), data_dir, log_file, config, command, path_env,
                    env_file, missing)


def channel_variables(settings: Settings) -> list[str]:
    """The environment variables the enabled alert rules' channels read (a rules file that does
    not load names none: `newsmon alert` reports it)."""
    from newsmon.alerts import load_config

    try:
        rules = load_config(settings).rules
    except ConfigError:
        return []
    names = {c.url_env or c.urls_env for r in rules if r.enabled for c in r.channels}
    return sorted(n for n in names if n)


def without_block(text: str, schedule: Schedule) -> list[str]:
    """The crontab's lines less this schedule's block (markers included)."""
    out, inside = [], False
    for line in text.splitlines():
        if line.strip() == schedule.begin:
            inside = True
            continue
        if inside:
            if line.strip() == schedule.end:
                inside = False
            continue
        out.append(line)
    return out


def installed(text: str, schedule: Schedule) -> list[str]:
    lines = without_block(text, schedule)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines + ([""] if lines else []) + schedule.lines()


def removed(text: str, schedule: Schedule) -> list[str]:
    lines = without_block(text, schedule)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


class Crontab:
    """The user's crontab through the ``crontab`` program (``-l`` to read, ``-`` to write)."""

    def __init__(self, command: str = "crontab") -> None:
        self.argv = shlex.split(command)

    def read(self) -> str:
        try:
            done = subprocess.run([*self.argv, "-l"], capture_output=True, text=True,
                                  timeout=30)
        except FileNotFoundError:
            raise ConfigError(f"cannot run {self.argv[0]!r}: not installed (Debian: apt-get "
                              f"install cron); print the lines with `newsmon schedule` and add "
                              f"them by hand") from None
        if done.returncode != 0:
            if "no crontab" in (done.stderr or "").lower():
                return ""
            raise ConfigError(f"{shlex.join(self.argv)} -l failed: "
                              f"{(done.stderr or '').strip() or done.returncode}")
        return done.stdout

    def write(self, lines: list[str]) -> None:
        text = "\n".join(lines) + "\n" if lines else ""
        done = subprocess.run([*self.argv, "-"], input=text, capture_output=True, text=True,
                              timeout=30)
        if done.returncode != 0:
            raise ConfigError(f"{shlex.join(self.argv)} - failed: "
                              f"{(done.stderr or '').strip() or done.returncode}")


def edit_crontab(crontab: Crontab, schedule: Schedule, action: str) -> bool:
    """Install (``action="install"``) or remove the schedule's lines; False when the crontab
    already was as asked and was left untouched."""
    current = crontab.read()
    new = installed(current, schedule) if action == "install" else removed(current, schedule)
    if "\n".join(new).strip() == current.strip():
        return False
    crontab.write(new)
    return True


__all__ = ["Schedule", "Crontab", "build_schedule", "cron_times", "edit_crontab", "installed",
           "removed"]
