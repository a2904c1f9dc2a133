"""`newsmon status` counts that add up: work queued for the index is counted in articles (not
change-feed rows: an article changes several times on its way through enrich), and what each
search backend has indexed is shown per backend, the stage after `enriched`."""
from __future__ import annotations

from pathlib import Path

from newsmon.app.indexing import index_store
from newsmon.app.settings import load_settings
from newsmon.app.status import collect_status
from newsmon.cli.presenters.status import status_text
from newsmon.index.core.settings import Settings
from newsmon.index.store import Store
from tests.test_alert_baseline import _article

TITLES = ["A zeppelin airship returns", "Markets fall", "Rain tomorrow"]


def _settings(tmp_path: Path) -> Settings:
    return load_settings(env={}).replace("data", dir=tmp_path / "data")


def test_queued_index_counts_articles_and_indexed_is_per_backend(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with Store(settings.data.store_path) as store:
        arts = [_article(i, t) for i, t in enumerate(TITLES)]
        for _ in range(4):          # stored, then updated as enrich would: 4 changes each
            store.articles.upsert(arts)
        assert store.changes.head() == 4 * len(TITLES)
    st = collect_status(settings)
    assert st["queued"]["index"] == len(TITLES) and st["indexed"] == {}

    with Store(settings.data.store_path) as store:
        index_store(settings, store)
    st = collect_status(settings)
    assert st["queued"]["index"] == 0 and st["indexed"] == {"sqlite": len(TITLES)}
    assert f"indexed:     sqlite {len(TITLES)}" in status_text(st)

    with Store(settings.data.store_path) as store:
        store.articles.upsert(arts[:1])   # changed again: not indexed as it is now
    st = collect_status(settings)
    assert st["queued"]["index"] == 1 and st["indexed"] == {"sqlite": len(TITLES) - 1}


def test_an_enrich_run_with_nothing_pending_names_no_empty_engine(tmp_path: Path) -> None:
    """`model … on ,` was printed when nothing was pending (no model loaded, no engine)."""
    from newsmon.app.outcome import StageOutcome
    from newsmon.cli.presenters.runs import enrich_summary
    from newsmon.enrich.pipeline import enrich_store

    settings = _settings(tmp_path)
    with Store(settings.data.store_path) as store:
        stats = enrich_store(settings, store, run_id=1)
    head = enrich_summary(StageOutcome("enrich", "ok", 0.0, stats.as_dict()), 1).splitlines()[0]
    assert " on ," not in head
    assert f"(model {settings.enrich.model} not loaded: nothing pending, version" in head
