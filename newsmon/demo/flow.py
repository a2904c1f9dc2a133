"""What `newsmon demo` does, in order: serve the bundled fictional news sites, crawl, enrich and
index them into a demo store of their own, report, then (if asked) publish new articles and run again
as cron would, and keep serving.

Offline by design. The demo server answers for the sites' ``*.example`` host names and is handed
to the crawl as its HTTP proxy (the standard ``http_proxy`` variable, which the crawler honours
like any other proxy), so the demo runs the very code path of `newsmon crawl`. What is shown at
each step is the caller's (a DemoView), so the flow holds no text of the command line's.
"""
from __future__ import annotations

import os
import signal
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from newsmon.app.outcome import RunOutcome
from newsmon.app.pipeline import run
from newsmon.app.settings import PATH_KEYS, Settings, load_settings
from newsmon.demo.alerts import second_phase
from newsmon.demo.server import DemoServer
from newsmon.index.core.defaults import default_file
from newsmon.index.core.errors import ConfigError

DEMO_CONFIG_DIR = default_file("demo")
SETTINGS_NAME = "newsmon.toml"
ACCESS_LOG_NAME = "demo-server.log"
PROXY_VARS = ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY")


@dataclass(frozen=True)
class DemoRun:
    """The first run over the demo sites, as the view reports it."""
    settings: Settings        # the demo store's, not the user's
    settings_file: Path       # what the user passes to --config afterwards
    server: DemoServer
    access_log: Path
    outcome: RunOutcome


class DemoView(Protocol):
    def sites_up(self, server: DemoServer) -> None: ...

    def first_run(self, demo: DemoRun) -> None: ...

    def line(self, text: str) -> None: ...

    def serving(self, server: DemoServer) -> None: ...

    def stopped(self) -> None: ...


def write_demo_settings(demo_dir: Path, config_dir: Path = DEMO_CONFIG_DIR) -> Path:
    """Copy config/demo/newsmon.toml into the demo folder, paths made absolute, and return it.

    The copy is what the crawl loads, and what the user passes to --config afterwards.
    """
    template = config_dir / SETTINGS_NAME
    if not template.exists():
        raise ConfigError(
            f"demo settings not found at {template}: `newsmon demo` needs the config/ folder of "
            f"a newsmon checkout (pip install -e . in a clone)"
        )
    with template.open("rb") as fh:
        data: dict[str, dict[str, Any]] = tomllib.load(fh)
    data.setdefault("data", {})["dir"] = str(demo_dir)
    for section, key in PATH_KEYS:
        value = data.get(section, {}).get(key)
        if value is not None and not Path(value).is_absolute():
            data[section][key] = str((template.parent / value).resolve())
    demo_dir.mkdir(parents=True, exist_ok=True)
    target = demo_dir / SETTINGS_NAME
    lines = [
        f"# Written by `newsmon demo` from {template}.",
        f"# Use it to look at the demo store: newsmon --config {target} status",
    ]
    for section, values in data.items():
        lines.append(f"\n[{section}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise ConfigError(f"demo settings: cannot write {value!r} (only scalar keys are expected)")


@contextmanager
def proxied_through(server: DemoServer) -> Iterator[None]:
    """Route this process's plain-HTTP requests through the demo server, then put things back."""
    saved = {name: os.environ.get(name) for name in PROXY_VARS}
    os.environ["http_proxy"] = os.environ["HTTP_PROXY"] = server.url
    # a no_proxy inherited from the shell (say ".example") would send requests past the server
    os.environ["no_proxy"] = os.environ["NO_PROXY"] = "localhost,127.0.0.1"
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def demo_settings(settings: Settings, demo_dir: Path, settings_file: Path) -> Settings:
    # flags beat the environment: a NEWSMON_DATA__DIR meant for the real store must not send
    # the demo there, nor NEWSMON_CRAWL__SOURCES send it to the live web
    return load_settings(settings_file, overrides={
        "data": {"dir": demo_dir},
        "crawl": {"sources": str(DEMO_CONFIG_DIR / "sources.yaml")},
        "log": {"level": settings.log.level},
    })


def run_demo(settings: Settings, view: DemoView, *, port: int = 0,
             demo_data_dir: str | None = None, keep_serving: bool = False,
             new_articles: bool = False) -> int:
    """The whole demo; returns its exit code (the worst of its runs)."""
    demo_dir = Path(demo_data_dir).expanduser().resolve() if demo_data_dir \
        else settings.data.dir / "demo"
    settings_file = write_demo_settings(demo_dir)
    demo = demo_settings(settings, demo_dir, settings_file)
    access_log = demo_dir / ACCESS_LOG_NAME
    access_log.unlink(missing_ok=True)
    try:
        server = DemoServer(port=port, access_log=access_log)
    except OSError as exc:
        raise ConfigError(f"--port {port}: cannot serve the demo there: {exc.strerror}") from None
    with server:
        view.sites_up(server)
        with proxied_through(server):
            # one run, one lock: crawl, enrich and index, as `newsmon run` does, so that every
            # command the demo suggests next (search, serve) finds the articles
            outcome = run(demo, command="demo", stages=("crawl", "enrich", "index"))
        view.first_run(DemoRun(demo, settings_file, server, access_log, outcome))
        alerted = 0
        if new_articles:
            view.line("")
            alerted = second_phase(server, settings_file, demo_dir, view.line)
        if keep_serving:
            view.serving(server)
            # the crawl left Scrapy's shutdown handlers in place; Ctrl-C is ours again
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                view.stopped()
    return max(outcome.exit_code, alerted)


__all__ = ["DemoRun", "DemoView", "proxied_through", "run_demo", "write_demo_settings"]
