"""[data] env_file: secrets for cron runs, read at start; strict about format and permissions."""
from __future__ import annotations

from pathlib import Path

import pytest

from newsmon.app.envfile import apply_env_file, read_env_file
from newsmon.app.settings import load_settings
from newsmon.index.core.errors import ConfigError


def _file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "secrets.env"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_lines_comments_export_and_quotes(tmp_path: Path) -> None:
    path = _file(tmp_path, "# a comment\n\nNEWSMON_WEBHOOK_URL=https://h.example/x?a=b\n"
                           "export NEWSMON_SMTP_PASSWORD='p w=$HOME'\nMY_HOOK = \"q\"\n")
    assert read_env_file(path) == {"NEWSMON_WEBHOOK_URL": "https://h.example/x?a=b",
                                   "NEWSMON_SMTP_PASSWORD": "p w=$HOME", "MY_HOOK": "q"}


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = _file(tmp_path, "A_SECRET=from-file\nB_SECRET=from-file\n")
    env = {"A_SECRET": "exported"}
    assert apply_env_file(path, env) == ["B_SECRET"]
    assert env == {"A_SECRET": "exported", "B_SECRET": "from-file"}
    assert apply_env_file("", env) == []     # no env file configured


@pytest.mark.parametrize(("text", "message"), [
    ("just words\n", "secrets.env:1: expected NAME=VALUE"),
    ("OK=1\n9BAD=2\n", "secrets.env:2: expected NAME=VALUE"),
    ("NEWSMON_CRAWL__TIMEOUT=5\n", "NEWSMON_CRAWL__TIMEOUT is a setting"),
    ("NEWSMON_CONFIG=/x.toml\n", "NEWSMON_CONFIG is a setting"),
])
def test_bad_lines_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        read_env_file(_file(tmp_path, text))


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o666])
def test_a_file_open_to_group_or_others_is_refused_with_the_chmod(tmp_path: Path,
                                                                   mode: int) -> None:
    path = _file(tmp_path, "A=1\n", mode)
    with pytest.raises(ConfigError, match=f"mode {mode:04o}.*chmod 600 {path}"):
        read_env_file(path)


def test_missing_file_and_a_path_relative_to_the_settings_file(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "newsmon.toml"
    config.parent.mkdir()
    config.write_text('[data]\nenv_file = "secrets.env"\n')
    settings = load_settings(config, env={})
    assert settings.data.env_file == str(tmp_path / "conf" / "secrets.env")
    with pytest.raises(ConfigError, match="does not exist.*chmod 600"):
        apply_env_file(settings.data.env_file, {})
    assert load_settings(env={}).data.env_file == ""
