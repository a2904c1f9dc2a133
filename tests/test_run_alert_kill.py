"""kill -9 during a `newsmon run` that has alerts to send: the demo's second phase (new English
and Japanese coverage of the pact appears on the demo sites) after a first run set the rule's
baseline. Whatever the moment of the kill — enriching, indexing, deciding the alert, or while
the webhook receiver holds the request — the rerun ends with the same articles, index,
watermark and alerts as an uninterrupted run; the file channel holds each alert exactly once,
and the webhook receiver sees every alert, a repeat only ever carrying the same idempotency key.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from newsmon.demo.server import DEMO_SITE, DemoServer
from newsmon.index.core.defaults import default_file
from tests.test_run import REPO, child_env, kill_at, newsmon_argv, query, snapshot, step_running, write_config

pytestmark = pytest.mark.slow

HOLD_S = 4.0  # how long the webhook receiver holds each request before answering 200


class Receiver:
    """A webhook receiver on 127.0.0.1 that records each POST's idempotency key at once and
    answers only after HOLD_S seconds, so a run can be killed while a delivery is in flight."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.keys.append(body["idempotency_key"])
                time.sleep(HOLD_S)
                try:
                    self.send_response(200)
                    self.end_headers()
                except OSError:
                    pass  # the sender was killed meanwhile

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self) -> list[str]:
        with self.lock:
            return list(self.keys)

    def reset(self) -> None:
        with self.lock:
            self.keys.clear()


def write_setup(tmp: Path) -> Path:
    """The run config of tests/test_run.py with the demo's pact rule sent to a file and to the
    webhook receiver."""
    config = write_config(tmp)
    rules = (default_file("demo") / "alerts.yaml").read_text(encoding="utf-8")
    rules = rules.replace("      - {type: stdout}",
                          "      - {type: webhook, url_env: KILLTEST_HOOK_URL}")
    assert "KILLTEST_HOOK_URL" in rules
    (tmp / "alerts.yaml").write_text(rules, encoding="utf-8")
    with config.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[alerts]\nrules = "{tmp / "alerts.yaml"}"\nretries = 0\n'
                 f'webhook_timeout = {HOLD_S * 3}\n')
    return config


@pytest.fixture(scope="module")
def server() -> Iterator[DemoServer]:
    with DemoServer(DEMO_SITE) as srv:
        yield srv


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def env_for(server: DemoServer, receiver: Receiver) -> dict[str, str]:
    env = child_env(server)
    env["KILLTEST_HOOK_URL"] = receiver.url
    return env


@pytest.fixture(scope="module")
def phase1(server: DemoServer, receiver: Receiver,
           tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store after the first run over the phase-1 sites: the rule's baseline, nothing sent."""
    tmp = tmp_path_factory.mktemp("phase1")
    server.set_phase(1)
    config = write_setup(tmp)
    out = subprocess.run(newsmon_argv(config, "run", "--json"), capture_output=True, text=True,
                         env=env_for(server, receiver), cwd=REPO, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert receiver.received() == []
    return tmp / "data"


def from_phase1(phase1: Path, tmp: Path) -> Path:
    shutil.copytree(phase1, tmp / "data")
    return write_setup(tmp)


def file_keys(data: Path) -> list[str]:
    path = data / "alerts.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["idempotency_key"]
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def clean(phase1: Path, server: DemoServer, receiver: Receiver,
          tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The uninterrupted phase-2 run."""
    tmp = tmp_path_factory.mktemp("clean2")
    config = from_phase1(phase1, tmp)
    server.set_phase(2)
    receiver.reset()
    out = subprocess.run(newsmon_argv(config, "run", "--json"), capture_output=True, text=True,
                         env=env_for(server, receiver), cwd=REPO, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    data = tmp / "data"
    files = file_keys(data)
    hooks = receiver.received()
    assert files, "phase 2 must alert (the demo's new pact story)"
    # one key per alert and channel: as many webhook requests as file lines, none repeated
    assert len(set(hooks)) == len(hooks) == len(set(files)) == len(files)
    return {"snapshot": snapshot(data / "newsmon.db"), "files": files, "hooks": hooks}


def _alerts_decided(db: Path) -> bool:
    return bool(query(db, "SELECT COUNT(*) FROM alerts WHERE kind = 'match'")[0][0])


MOMENTS: dict[str, Callable[[Path, Receiver], bool]] = {
    "enrich-start": lambda db, r: step_running("enrich")(db),
    "index-start": lambda db, r: step_running("index")(db),
    "alert-start": lambda db, r: step_running("alert")(db),
    # the alert is decided and recorded; its webhook request is in flight
    "alert-delivering": lambda db, r: step_running("alert")(db) and _alerts_decided(db)
    and bool(r.received()),
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_kill_9_during_a_run_with_alerts_to_send_then_rerun_sends_each_once(
        moment: str, clean: dict, phase1: Path, server: DemoServer, receiver: Receiver,
        tmp_path: Path) -> None:
    server.set_phase(2)

    def start(folder: Path) -> subprocess.Popen[str]:
        config = from_phase1(phase1, folder)
        receiver.reset()
        return subprocess.Popen(newsmon_argv(config, "run"), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, text=True,
                                env=env_for(server, receiver), cwd=REPO)

    folder = kill_at(start, tmp_path, lambda path: MOMENTS[moment](path, receiver), moment)
    config, data = folder / "newsmon.toml", folder / "data"
    db = data / "newsmon.db"
    assert query(db, "SELECT id, status FROM runs ORDER BY id")[-1][1] == "running"

    rerun = subprocess.run(newsmon_argv(config, "run", "--json"), capture_output=True,
                           text=True, env=env_for(server, receiver), cwd=REPO, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert json.loads(rerun.stdout)["interrupted_runs"] == [2]
    assert snapshot(db) == clean["snapshot"]
    # the file channel: each alert exactly once
    assert sorted(file_keys(data)) == sorted(clean["files"])
    # the webhook: every alert arrived; a repeat (killed between sending and recording) carries
    # the same idempotency key, so the receiver can drop it
    hooks = Counter(receiver.received())
    assert set(hooks) == set(clean["hooks"])
    if moment != "alert-delivering":
        assert all(n == 1 for n in hooks.values()), hooks
    # a third run sends nothing
    again = subprocess.run(newsmon_argv(config, "run", "--json"), capture_output=True,
                           text=True, env=env_for(server, receiver), cwd=REPO, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert sorted(file_keys(data)) == sorted(clean["files"])
    assert Counter(receiver.received()) == hooks


def test_a_rule_added_after_the_baseline_alerts_on_the_new_articles_of_the_next_run(
        phase1: Path, server: DemoServer, receiver: Receiver,
        tmp_path: Path) -> None:
    """Issue 18 item 2: the user adds a rule, the sites publish, `run` — the rule's baseline is
    what was stored before (phase 1), and the articles this very run crawls alert."""
    config = from_phase1(phase1, tmp_path)
    rules_file = tmp_path / "alerts.yaml"
    rules = rules_file.read_text(encoding="utf-8")
    block = rules[rules.index("  - id: japan-uk-pact"):]
    rules_file.write_text(rules + block.replace("id: japan-uk-pact", "id: pact-added-later"),
                          encoding="utf-8")
    server.set_phase(2)
    out = subprocess.run(newsmon_argv(config, "run", "--json"), capture_output=True, text=True,
                         env=env_for(server, receiver), cwd=REPO, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    alert = json.loads(out.stdout)["steps"][-1]["stats"]
    added = alert["rules"]["pact-added-later"]
    assert added["baseline"] and added["baseline_stories"] >= 1   # phase 1's pact stories
    assert added["alerts"] >= 1
    lines = [json.loads(line) for line in (tmp_path / "data" / "alerts.jsonl")
             .read_text(encoding="utf-8").splitlines()]
    by_rule: dict[str, list[str]] = {}
    for a in lines:
        by_rule.setdefault(a["rule"], []).append(a["article"]["canonical_url"])
    # the added rule alerts on exactly what the rule that was there all along alerts on
    assert sorted(by_rule["pact-added-later"]) == sorted(by_rule["japan-uk-pact"])
