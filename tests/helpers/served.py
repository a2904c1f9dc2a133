"""A real `newsmon serve` in a child process over a real store: the demo sites crawled, enriched
and indexed by the real commands (`newsmon demo`, `newsmon index`), no stand-in backend."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVING = re.compile(r"serving (http://\S+?)/? \(")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a child newsmon: none of the caller's NEWSMON_* or proxy settings,
    plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NEWSMON_") and not k.lower().endswith("_proxy")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def newsmon(*args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsmon", *args], capture_output=True,
                          text=True, env=clean_env(**env), cwd=ROOT, timeout=timeout)


def build_demo_store(data_dir: Path, *, backends: tuple[str, ...] = ("sqlite",)) -> Path:
    """Crawl and enrich the demo sites into `data_dir`, index them into each backend; return
    the settings file that opens that store."""
    demo = newsmon("demo", "--data-dir", str(data_dir))
    assert demo.returncode == 0, demo.stderr[-4000:]
    config = data_dir / "newsmon.toml"
    for backend in backends:
        env = {}
        if backend == "elasticsearch":
            env["NEWSMON_INDEX__ES_URL"] = os.environ["NEWSMON_TEST_ES_URL"]
        indexed = newsmon("--config", str(config), "index", "--backend", backend, **env)
        assert indexed.returncode == 0, indexed.stderr[-4000:]
    return config


@dataclass
class Served:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def get(self, path: str, *, headers: dict[str, str] | None = None,
            timeout: float = 60) -> tuple[int, dict[str, str], bytes]:
        """GET `path` (already URL-encoded, so tests can send any bytes)."""
        req = urllib.request.Request(self.url + path, headers=headers or {})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=timeout) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def get_json(self, path: str, **kw: object) -> tuple[int, object]:
        status, _, body = self.get(path, **kw)  # type: ignore[arg-type]
        return status, json.loads(body)


@contextmanager
def serve(config: Path, log: Path, *args: str, timeout: float = 120,
          **env: str) -> Iterator[Served]:
    """`newsmon --config CONFIG serve --port 0 ARGS...` until the block ends; its stderr in
    `log`. Waits for the printed address and a healthy /api/health."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "newsmon", "--config", str(config), "serve", "--port", "0",
             *args], stdout=out, stderr=subprocess.STDOUT, env=clean_env(**env), cwd=ROOT)
    served = None
    try:
        deadline = time.monotonic() + timeout
        while served is None:
            match = SERVING.search(log.read_text(encoding="utf-8", errors="replace"))
            if match:
                served = Served(match[1], proc, log)
                break
            if proc.poll() is not None:
                raise AssertionError(f"newsmon serve exited with {proc.returncode}:\n"
                                     f"{log.read_text(errors='replace')[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"newsmon serve did not start in {timeout} s:\n"
                                     f"{log.read_text(errors='replace')[-4000:]}")
            time.sleep(0.2)
        while True:
            try:
                status, _, _ = served.get("/api/health", timeout=10)
            except OSError:
                status = 0
            if status == 200:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"newsmon serve is not healthy ({status}):\n"
                                     f"{served.log_text()[-4000:]}")
            time.sleep(0.2)
        yield served
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
