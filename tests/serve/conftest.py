"""One demo store (crawled, enriched, indexed and alerted on by the real commands) and one
`newsmon serve` over it, shared by the API, fuzz and browser tests of this folder."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.served import Served, build_demo_store, newsmon, serve

API_KEY = "test-key-0123456789"


@pytest.fixture(scope="session")
def demo_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = build_demo_store(tmp_path_factory.mktemp("serve-demo"))
    # the demo rule alerts on the pact stories already there (instead of a silent baseline):
    # an alert history and feeds to serve (alerts.jsonl, feeds/japan-uk-pact.atom)
    alerted = newsmon("--config", str(config), "alert", "--backfill")
    assert alerted.returncode == 0, alerted.stderr[-4000:]
    return config


@pytest.fixture(scope="session")
def served(demo_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The server without an API key (as a user runs it on their own machine)."""
    with serve(demo_config, tmp_path_factory.mktemp("serve-log") / "serve.log") as s:
        yield s


@pytest.fixture(scope="session")
def served_with_key(demo_config: Path,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(demo_config, tmp_path_factory.mktemp("serve-key-log") / "serve.log",
               NEWSMON_API_KEY=API_KEY) as s:
        yield s
