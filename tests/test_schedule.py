"""`newsmon schedule`: the crontab lines, and --install/--remove editing a crontab idempotently.

The crontab program is configurable (--crontab-command / NEWSMON_CRONTAB); the tests point it at
a real script with crontab's interface (``-l`` prints the table or says "no crontab for USER"
and exits 1, ``-`` reads a new table from stdin) over a file, so the user's own crontab is never
touched.
"""
from __future__ import annotations

import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from newsmon.app.schedule import cron_times
from newsmon.index.core.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
FAKE_CRONTAB = """#!/bin/sh
# crontab's interface over the file $CRONTAB_FILE
case "$1" in
  -l) if [ -f "$CRONTAB_FILE" ]; then cat "$CRONTAB_FILE"; else
        echo "no crontab for $(id -un)" >&2; exit 1; fi ;;
  -) cat > "$CRONTAB_FILE.new" && mv "$CRONTAB_FILE.new" "$CRONTAB_FILE" ;;
  *) echo "usage: crontab [-l | -]" >&2; exit 2 ;;
esac
"""


@pytest.fixture()
def crontab(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    script = tmp_path / "crontab"
    script.write_text(FAKE_CRONTAB)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    table = tmp_path / "table"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSMON_")}
    env.update(CRONTAB_FILE=str(table), NEWSMON_CRONTAB=str(script))
    return table, env


def schedule(tmp_path: Path, env: dict[str, str], *args: str,
             data: str = "data") -> subprocess.CompletedProcess[str]:
    config = tmp_path / "local.toml"
    config.write_text('[log]\nlevel = "WARNING"\n')
    return subprocess.run(
        [sys.executable, "-m", "newsmon", "--config", str(config), "--data-dir",
         str(tmp_path / data), "schedule", *args],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=60)


def test_cron_times_for_intervals_that_divide_the_hour_or_day() -> None:
    assert cron_times("15m") == "*/15 * * * *"
    assert cron_times("30m") == "*/30 * * * *"
    assert cron_times("60m") == cron_times("1h") == "0 * * * *"
    assert cron_times("6h") == "0 */6 * * *"
    assert cron_times("1d") == "0 0 * * *"
    assert cron_times("0015m") == "*/15 * * * *"
    for bad in ("45m", "5h", "2d", "soon", "0m", "9999999m", "9" * 5000 + "h"):
        with pytest.raises(ConfigError):
            cron_times(bad)


def test_printed_lines_name_the_venv_path_config_data_and_log(
        tmp_path: Path, crontab: tuple[Path, dict[str, str]]) -> None:
    table, env = crontab
    result = schedule(tmp_path, env, "--every", "15m")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    [job] = [ln for ln in lines if not ln.startswith("#")]
    argv = shlex.split(job)
    assert argv[:5] == ["*/15", "*", "*", "*", "*"]
    assert argv[5].startswith("PATH=") and str(Path(sys.prefix) / "bin") in argv[5]
    exe = argv[6]
    assert Path(exe).is_absolute() and Path(exe).exists()
    data = tmp_path / "data"
    assert argv[-7:] == ["--config", str(tmp_path / "local.toml"), "--data-dir", str(data),
                         "--log-file", str(data / "newsmon.log"), "run"]
    assert any(str(data / "newsmon.lock") in ln for ln in lines)  # the lock is explained
    assert not table.exists()  # printing never edits


def test_the_printed_job_really_runs(tmp_path: Path,
                                     crontab: tuple[Path, dict[str, str]]) -> None:
    """What cron would run, run by sh with cron's bare environment: a config error (no sources)
    shows the line reaches newsmon with the right settings and writes the log file."""
    _, env = crontab
    [job] = [ln for ln in schedule(tmp_path, env).stdout.splitlines()
             if not ln.startswith("#")]
    command = job.split(" ", 5)[5]
    (tmp_path / "local.toml").write_text(f'[crawl]\nsources = "{tmp_path / "none.yaml"}"\n')
    (tmp_path / "none.yaml").write_text("sources: []\n")
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True,
                          env={"HOME": str(tmp_path), "SHELL": "/bin/sh"}, cwd="/",
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert "no enabled sources" in done.stderr and str(tmp_path / "none.yaml") in done.stderr


def test_install_and_remove_are_idempotent_and_keep_other_lines(
        tmp_path: Path, crontab: tuple[Path, dict[str, str]]) -> None:
    table, env = crontab
    mine = "MAILTO=me@example.org\n5 4 * * * /usr/bin/backup --quiet\n"
    table.write_text(mine)

    first = schedule(tmp_path, env, "--every", "30m", "--install")
    assert first.returncode == 0, first.stderr
    installed = table.read_text()
    assert installed.startswith(mine)
    assert installed.count("newsmon schedule for") == 2  # one begin and one end marker
    assert "*/30 * * * *" in installed

    again = schedule(tmp_path, env, "--every", "30m", "--install")
    assert again.returncode == 0 and "unchanged" in again.stdout
    assert table.read_text() == installed

    # a new interval replaces the block instead of adding one
    schedule(tmp_path, env, "--every", "15m", "--install")
    text = table.read_text()
    assert text.count("# >>> newsmon schedule for") == 1
    assert "*/15 * * * *" in text and "*/30 * * * *" not in text

    # another data folder is another block, side by side
    schedule(tmp_path, env, "--install", data="other")
    assert table.read_text().count("# >>> newsmon schedule for") == 2
    schedule(tmp_path, env, "--remove", data="other")

    removed = schedule(tmp_path, env, "--remove")
    assert removed.returncode == 0, removed.stderr
    assert table.read_text() == mine
    assert "not there" in schedule(tmp_path, env, "--remove").stdout
    assert table.read_text() == mine


def test_install_into_an_empty_crontab_and_a_missing_program(
        tmp_path: Path, crontab: tuple[Path, dict[str, str]]) -> None:
    table, env = crontab
    assert schedule(tmp_path, env, "--install").returncode == 0
    assert table.read_text().startswith("# >>> newsmon schedule for")
    env = {**env, "NEWSMON_CRONTAB": str(tmp_path / "no-such-crontab")}
    result = schedule(tmp_path, env, "--install")
    assert result.returncode == 2 and "not installed" in result.stderr


EMPTY_RSS = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
             b'<title>Quiet</title><link>http://127.0.0.1/</link><description>nothing new'
             b'</description></channel></rss>')


def test_the_cron_line_under_env_i_delivers_with_the_secret_from_the_env_file(
        tmp_path: Path, crontab: tuple[Path, dict[str, str]]) -> None:
    """Issue 18: the printed cron line, run with cron's empty environment (env -i, PATH only),
    gets the webhook URL from [data] env_file and delivers to a real receiver. Before the
    secret is there, the failed delivery's cause is on stdout (what cron mails), in one line."""
    from newsmon.demo.server import LocalServer, Reply
    from newsmon.index.store import Store
    from newsmon.index.store.repos.alerts import NewAlert
    from tests.helpers.receiver import start_receiver
    from tests.test_alert_delivery import _payload

    _, env = crontab
    site = LocalServer(lambda host, path, query: Reply(EMPTY_RSS, "application/rss+xml")
                       if path == "/rss.xml" else None).start()
    receiver = start_receiver()
    try:
        (tmp_path / "sources.yaml").write_text(
            f"sources:\n  - id: quiet\n    lang: en\n    feeds: [{site.url}/rss.xml]\n")
        (tmp_path / "alerts.yaml").write_text(
            "version: 1\nhealth: {enabled: false}\nrules:\n  - id: japan-uk-pact\n"
            "    query: pact\n    mode: keyword\n"
            "    channels: [{type: webhook, url_env: NEWSMON_WEBHOOK_URL}]\n")
        secrets = tmp_path / "secrets.env"
        secrets.write_text("# newsmon's secrets\n")
        secrets.chmod(0o600)
        config = tmp_path / "local.toml"
        settings_text = (
            '[data]\nenv_file = "secrets.env"\n[crawl]\nsources = "sources.yaml"\n'
            'download_delay = 0.0\nautothrottle = false\nretries = 0\ntimeout = 10\n'
            '[alerts]\nrules = "alerts.yaml"\nretries = 0\n[log]\nlevel = "WARNING"\n')
        config.write_text(settings_text)
        printed = subprocess.run(
            [sys.executable, "-m", "newsmon", "--config", str(config), "--data-dir",
             str(tmp_path / "data"), "schedule"],
            capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
        assert printed.returncode == 0, printed.stderr
        lines = printed.stdout.splitlines()
        # the crontab carries no secret, says where they are read from, and what is missing
        assert any(str(secrets) in ln and "never from this crontab" in ln for ln in lines)
        assert any(ln.startswith("# Not in it yet") and "NEWSMON_WEBHOOK_URL" in ln
                   for ln in lines)
        [job] = [ln for ln in lines if not ln.startswith("#")]
        assert "NEWSMON_WEBHOOK_URL" not in job and receiver.url not in job
        command = job.split(" ", 5)[5]
        # a decided alert waits in the outbox for the webhook
        with Store(tmp_path / "data" / "newsmon.db") as store:
            store.alerts.record([NewAlert(
                key="rule:japan-uk-pact:story:s1", rule="japan-uk-pact", kind="match",
                payload=_payload("s1"), story="s1", article_id="id-s1", score=0.91,
                articles={"id-s1": "trigger"},
                channels={"webhook:NEWSMON_WEBHOOK_URL": {
                    "type": "webhook", "url_env": "NEWSMON_WEBHOOK_URL"}})])

        def cron() -> subprocess.CompletedProcess[str]:
            return subprocess.run(["env", "-i", "PATH=/usr/bin:/bin", "sh", "-c", command],
                                  capture_output=True, text=True, cwd="/", timeout=300)

        # the secret is not in the file yet: exit 1, and stdout says why in one line
        first = cron()
        assert first.returncode == 1, first.stderr
        [cause] = [ln for ln in first.stdout.splitlines() if ln.startswith("alert partial:")]
        assert "NEWSMON_WEBHOOK_URL is not set" in cause
        assert cause.endswith("(1 pending, retried next run)")
        assert receiver.requests == []

        secrets.write_text(f"# newsmon's secrets\nNEWSMON_WEBHOOK_URL={receiver.url}\n")
        second = cron()
        assert second.returncode == 0, second.stdout + second.stderr
        assert second.stdout == ""     # success under cron prints nothing
        [hook] = receiver.delivered()
        assert hook.body["alert"]["story"] == "s1"

        # a secrets file others can read is refused, naming it and the fix
        secrets.chmod(0o644)
        third = cron()
        assert third.returncode == 2
        assert str(secrets) in third.stderr and f"chmod 600 {secrets}" in third.stderr
        assert len(receiver.requests) == 1
    finally:
        receiver.close()
        site.stop()
