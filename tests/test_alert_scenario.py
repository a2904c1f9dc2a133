"""The two-phase alert scenario on the devset mini web (../shared/devset/site): real crawls of
a real local web through an HTTP proxy, real enrichment, the embedded index, a real webhook
receiver that answers 500 and then times out during phase 2, and the `newsmon alert` command.

Phase 1 sets the baselines. Phase 2 brings new English and Japanese pact articles, a syndicated
copy (en-013 of en-012, whose original is not on these sites), the Japanese report of an
English story and unrelated articles: the file channel gets exactly the expected alerts, the
webhook gets them on the next run, once each; a further run sends nothing.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import yaml

from newsmon.alerts import run_alerts
from newsmon.app.settings import load_settings
from newsmon.cli.main import main
from newsmon.index.core.article import article_id
from newsmon.index.store import open_store
from tests.helpers.crawlproc import run_crawl_process
from tests.helpers.receiver import start_receiver
from tests.test_alert_quality import EXTRA_RULES, SHIPPED
from tests.test_crawl_devset import (
    SITE,
    _manifest,
    _sources_yaml,
    devset_server,  # noqa: F401 - the fixture
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (SITE / "serve.py").is_file(),
                       reason=f"devset mini web not found at {SITE}"),
]
DEVSET = SITE.parent
HOOK_ENV = "NEWSMON_TEST_SCENARIO_WEBHOOK"
PG_ENV = "SCENARIO_PG_DSN"  # not NEWSMON_*: the crawl's child process keeps it


def _expected() -> dict[str, set[str]]:
    """rule -> gold stories that must alert in phase 2, restricted to what the sites carry."""
    manifest = _manifest()
    on_site_2 = {p["article_id"] for p in manifest["pages"].values()
                 if p["kind"] == "article" and p["phases"] == [2]}
    gold = {r["id"]: r for r in map(json.loads, (DEVSET / "articles.jsonl").open())}
    rules = yaml.safe_load((DEVSET / "alert_rules.yaml").read_text())["rules"]
    out = {}
    for rule in rules:
        stories = {gold[a]["story"] for a in rule["matching_articles"] if a in on_site_2}
        out[rule["id"]] = stories & set(rule["phase2_alerts"])
    return out


def _config(tmp: Path, receiver_url: str, *, es: tuple[str, str] | None = None,
            smtp=None, pg: bool = False) -> Path:
    """The scenario's config: the embedded index, or Elasticsearch at ``es`` (url, alias); an
    email channel to ``smtp`` (the real SMTP server) when given; the store in the PostgreSQL
    database named by $SCENARIO_PG_DSN with ``pg``."""
    shipped = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    rules = [r for r in shipped["rules"] if r["id"] in ("japan-uk-pact", "pact-minerals")]
    data = {"version": 1, "health": {"enabled": False},
            "rules": rules + yaml.safe_load(EXTRA_RULES)}
    channels = [{"type": "file", "path": "alerts.jsonl"},
                {"type": "webhook", "url_env": HOOK_ENV}]
    if smtp is not None:
        channels.append({"type": "email", "to": ["analyst@example.org"]})
    for rule in data["rules"]:
        rule["channels"] = channels
    (tmp / "alerts.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    (tmp / "sources.yaml").write_text(_sources_yaml(), encoding="utf-8")
    cfg = tmp / "newsmon.toml"
    cfg.write_text("""
[data]
dir = "data"
{store}[crawl]
sources = "sources.yaml"
[alerts]
rules = "alerts.yaml"
timezone = "Asia/Tokyo"
retries = 1
retry_backoff = 0.1
webhook_timeout = 1.0
max_attempts = 5
""".format(store=f'store = "postgresql"\ndsn_env = "{PG_ENV}"\n' if pg else ""),
                   encoding="utf-8")
    with cfg.open("a", encoding="utf-8") as fh:
        if smtp is not None:  # still in [alerts]
            fh.write(f'smtp_host = "{smtp.host}"\nsmtp_port = {smtp.port}\n'
                     f'smtp_security = "starttls"\nsmtp_cafile = "{smtp.cafile}"\n')
        if es is not None:
            fh.write(f'[index]\nbackend = "elasticsearch"\nes_url = "{es[0]}"\n'
                     f'es_index = "{es[1]}"\n')
    return cfg


def _ingest(settings, srv, phase: int) -> None:
    from newsmon.app.indexing import index_store
    from newsmon.enrich.pipeline import enrich_store

    srv.phase = phase
    store: dict[str, str] = {}
    if settings.data.store == "postgresql":  # the crawl's own config names the same store
        store = {"data__store": "postgresql", "data__dsn_env": settings.data.dsn_env,
                 "index__backend": "elasticsearch"}
    result = run_crawl_process(settings.data.dir, settings.crawl.sources,
                               proxy=f"http://127.0.0.1:{srv.server_port}", **store)
    assert result.returncode == 0, result.stderr[-2000:]
    with open_store(settings) as store:
        assert enrich_store(settings, store, run_id=phase).failed == 0
        index_store(settings, store)


def _file_alerts(settings) -> list[dict]:
    path = Path(settings.data.dir) / "alerts.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _gold_stories(settings, alerts: list[dict]) -> dict[str, list[set[str]]]:
    gold = {article_id(r["url"]): r for r in map(json.loads, (DEVSET / "articles.jsonl").open())}
    with open_store(settings) as store:
        stories = store.vectors.stories()
    out: dict[str, list[set[str]]] = {}
    for a in alerts:
        members = [i for i, s in stories.items() if s == a["story"]]
        out.setdefault(a["rule"], []).append({gold[i]["story"] for i in members})
    return out


@pytest.mark.parametrize("backend", [
    "sqlite", pytest.param("elasticsearch", marks=pytest.mark.es),
    pytest.param("postgresql", marks=[pytest.mark.es, pytest.mark.pg])])
def test_two_phases_then_webhook_recovery_then_silence(backend, devset_server, tmp_path,
                                                       monkeypatch, capsys, request) -> None:
    """On each backend, and on the PostgreSQL store (which searches with Elasticsearch). With
    Elasticsearch (run by `bash .ci/test`, which also starts the real SMTP server) each alert is
    also sent by email, in the same runs, once."""
    receiver = start_receiver()
    es = smtp = None
    if backend == "postgresql":
        es = (request.getfixturevalue("es_url"), f"newsmon-scenario-{uuid.uuid4().hex[:8]}")
        monkeypatch.setenv(PG_ENV, request.getfixturevalue("pg_dsn"))
        request.addfinalizer(lambda: _drop_es_index(*es))
    if backend == "elasticsearch":
        es = (request.getfixturevalue("es_url"), f"newsmon-scenario-{uuid.uuid4().hex[:8]}")
        smtp = request.getfixturevalue("smtp_server")
        monkeypatch.setenv("NEWSMON_SMTP_USER", smtp.user)
        monkeypatch.setenv("NEWSMON_SMTP_PASSWORD", smtp.password)
        mails_before = len(smtp.messages())
        request.addfinalizer(lambda: _drop_es_index(*es))
    try:
        monkeypatch.setenv(HOOK_ENV, receiver.url)
        cfg = _config(tmp_path, receiver.url, es=es, smtp=smtp, pg=backend == "postgresql")
        settings = load_settings(cfg, env={})
        # phase 1: the baseline, nothing sent
        _ingest(settings, devset_server, 1)
        with open_store(settings) as store:
            first = run_alerts(settings, store)
        assert first.decided == 0 and first.delivered == 0
        assert receiver.requests == [] and _file_alerts(settings) == []
        # phase 2: the webhook answers 500, then hangs past its timeout
        _ingest(settings, devset_server, 2)
        receiver.script = ["error", "hang"]
        receiver.hang_s = 2.0
        receiver.behaviour = "hang"
        with open_store(settings) as store:
            second = run_alerts(settings, store)
        assert second.exit_code == 1 and second.failed == 1 and second.deferred >= 1
        alerts = _file_alerts(settings)
        expected = _expected()
        got = _gold_stories(settings, alerts)
        for rule, stories in expected.items():
            fired = [s for group in got.get(rule, []) for s in group & stories]
            assert sorted(fired) == sorted(stories), (rule, got.get(rule))
            assert len(got.get(rule, [])) == len(stories), (rule, got.get(rule))
        assert not receiver.delivered()
        if smtp is not None:
            # the failing webhook did not hold the email back: one message per alert
            assert len(_mails(smtp, mails_before)) == len(alerts)
        # next run, through the command: the webhook is back; each alert arrives once
        receiver.script, receiver.behaviour = [], "ok"
        assert main(["--config", str(cfg), "alert", "--json"]) == 0
        outcome = json.loads(capsys.readouterr().out)
        assert outcome["decided"] == 0 and outcome["delivered"] == len(alerts)
        got_hook = sorted((r.body["alert"]["rule"], r.body["alert"]["story"])
                          for r in receiver.delivered())
        assert got_hook == sorted((a["rule"], a["story"]) for a in alerts)
        keys = [r.headers["Idempotency-Key"] for r in receiver.delivered()]
        assert keys == [r.body["idempotency_key"] for r in receiver.delivered()]
        assert len(set(keys)) == len(keys)
        # the failed attempts carried the same key as the delivery that got through
        first_key = receiver.requests[0].headers["Idempotency-Key"]
        assert first_key in keys
        texts = "\n".join(r.body["text"] for r in receiver.delivered())
        assert "JST" in texts and "also covered by" in texts
        # and once more: nothing decided, nothing sent
        assert main(["--config", str(cfg), "alert", "--json"]) == 0
        again = json.loads(capsys.readouterr().out)
        assert again["decided"] == again["delivered"] == 0
        assert len(receiver.delivered()) == len(alerts) and len(_file_alerts(settings)) == \
            len(alerts)
        with open_store(settings) as store:
            counts = store.alerts.delivery_counts()
        assert counts[f"webhook:{HOOK_ENV}"] == {"pending": 0, "sent": len(alerts),
                                                 "parked": 0}
        if smtp is not None:
            mails = _mails(smtp, mails_before)
            assert len(mails) == len(alerts)
            ids = {m["Message-ID"] for m in mails}
            assert len(ids) == len(alerts)
            assert all("[newsmon]" in m["Subject"] for m in mails)
            japanese = [m for m in mails if any("\u3040" <= ch <= "\u30ff" or
                                                "\u4e00" <= ch <= "\u9fff"
                                                for ch in m["Subject"])]
            assert japanese, "a Japanese headline keeps its script in the subject"
    finally:
        receiver.close()


def _mails(smtp, before: int) -> list:
    import email
    import email.policy

    return [email.message_from_bytes(m, policy=email.policy.default)
            for m in smtp.messages()[before:]]


def _drop_es_index(url: str, alias: str) -> None:
    from newsmon.index.search.elastic import ElasticBackend

    be = ElasticBackend(url, alias=alias)
    try:
        be.es.indices.delete(index=f"{alias}-v*", ignore_unavailable=True,
                             allow_no_indices=True, expand_wildcards="all")
    finally:
        be.close()
