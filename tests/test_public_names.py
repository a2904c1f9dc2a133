"""Each package's public names, pinned: the seams other layers (and other tools) build on.

A package's seam is its ``__init__`` where it re-exports (newsmon.index, .index.store,
.alerts, .cli), otherwise the modules named here; each declares ``__all__``. Renaming or dropping
a public name, or exporting a new one, is a decision: it fails here until this list says so.
"""
from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PUBLIC: dict[str, set[str]] = {
    # index/core: the vocabulary
    "newsmon.index": {"Article", "Stage", "Status", "article_id", "Store", "NewsmonError",
                      "ConfigError", "FetchError", "ExtractError", "IndexingError", "StoreError",
                      "DeliveryError"},
    "newsmon.index.core.article": {"Article", "Stage", "Status", "article_id"},
    "newsmon.index.core.errors": {"NewsmonError", "ConfigError", "FetchError", "ExtractError",
                                  "StoreError", "IndexingError", "DeliveryError"},
    "newsmon.index.core.settings": {"Settings", "DataSettings", "CrawlSettings", "IndexSettings",
                                    "EnrichSettings", "AlertsSettings", "LogSettings",
                                    "DisplaySettings", "WorkerSettings", "coerce", "es_urls"},
    "newsmon.index.core.times": {"utcnow", "utc_iso", "now_iso", "parse_iso", "parse_since",
                                 "zone", "local_iso"},
    "newsmon.index.core.reasons": {"REASONS", "describe", "http", "is_known"},
    "newsmon.index.core.yamlfile": {"load_yaml"},
    "newsmon.index.core.defaults": {"DEFAULTS_PACKAGE", "SETTINGS_FILE", "defaults_dir",
                                    "default_file", "bundled_settings"},
    "newsmon.index.core.codec": {"vector_to_bytes", "vector_from_bytes", "matrix_from_bytes"},
    # index/store: the store of record (a second implementation implements this seam)
    "newsmon.index.store": {"Store", "StoreBase", "open_store", "store_exists", "DISCOVERED", "FAILED", "NOT_MODIFIED", "REJECTED", "SKIPPED",
                            "STORED", "RUN_RUNNING", "RUN_OK", "RUN_PARTIAL", "RUN_FAILED",
                            "RUN_INTERRUPTED", "pid_alive"},
    # the second implementation of the store seam, and the copy between the two
    "newsmon.index.store.postgres": {"PgStore", "PgConnection", "PG_MIGRATIONS", "redact",
                                     "translate", "CHECK_HINT", "BACKUP_HINT"},
    "newsmon.index.store.copy": {"copy_to_postgresql", "CopyReport", "TABLES"},
    # index/search: the backend contract
    "newsmon.index.search.backend": {"Mode", "MODES", "IndexDoc", "Filters", "Query", "Hit",
                                     "SearchBackend", "ModelMismatch", "check_model", "fuse",
                                     "search", "FACETS", "RRF_K", "fuse_fair", "KEYWORD_WEIGHT",
                                     "LangStats"},
    # the stages' entry points and the use cases
    "newsmon.crawler.run": {"run_crawl", "CrawlStats", "CrawlProgress"},
    "newsmon.crawler.sources": {"Source", "LANGS", "load_sources", "parse_source",
                                "select_sources"},
    "newsmon.enrich.pipeline": {"EnrichContext", "EnrichStats", "build_context", "enrich_store",
                                "enrich_version", "resolve_config_path", "text_hash"},
    "newsmon.app.stages": {"crawl", "enrich", "index", "alert", "crawl_status"},
    "newsmon.app.pipeline": {"run", "PIPELINE", "STAGES", "StageSpec", "crawl_sources",
                             "open_store", "store_exists"},
    "newsmon.app.outcome": {"StageOutcome", "RunOutcome", "EXIT_OK", "EXIT_PARTIAL", "EXIT_USAGE",
                            "EXIT_LOCKED", "EXIT_STORE_BUSY", "EXIT_STORE_CORRUPT",
                            "EXIT_DISK_FULL", "EXIT_READ_ONLY"},
    "newsmon.app.settings": {"Settings", "DataSettings", "CrawlSettings", "IndexSettings",
                             "LogSettings", "load_settings", "coerce"},
    "newsmon.app.search": {"SearchRequest", "SearchHit", "SearchResponse", "Searcher", "snippet",
                           "check_request", "relevance", "relevance_word", "query_parts", "GOOD",
                           "STRONG"},
    "newsmon.app.status": {"collect_status", "queue_status", "empty_status", "last_embedding",
                           "queued",
                           "indexed",
                           "RECENT_RUNS"},
    # the workers on procrastinate (newsmon worker): the seam the cluster scenario drives
    "newsmon.worker.run": {"run_worker", "check_queues", "worker_dsn", "ensure_queue_schema",
                           "check_cron"},
    "newsmon.worker.jobs": {"QUEUES", "SCHEDULE_QUEUE", "CRAWL_TASK", "CRAWL_DUE_TASK",
                            "ENRICH_TASK", "INDEX_TASK", "ALERT_TASK", "HEALTH_TASK",
                            "RETRY_STALLED_TASK", "CLEANUP_TASK", "crawl_job", "enrich_job",
                            "index_job", "alert_job", "health_job", "defer_enrich", "jobs"},
    "newsmon.worker.shards": {"registrable_domain", "source_domain", "shard_of", "shard_sources"},
    "newsmon.index.store.repos.jobs": {"JobRepo", "JobSpec"},
    "newsmon.app.lock": {"RunLock", "LockHeld", "WorkersCrawl", "read_holder", "running_holder"},
    "newsmon.app.indexing": {"BACKENDS", "open_backend", "build_docs", "index_store",
                             "IndexStats", "ES_API_KEY_ENV", "IndexingError"},
    "newsmon.app.alerting": {"alert", "explain_rule"},
    "newsmon.app.alert_history": {"alert_history"},
    "newsmon.app.export": {"CSV_COLUMNS", "ExportFilter", "FORMATS", "articles_since",
                           "check_topics", "csv_row", "export_articles", "select_articles",
                           "write_csv", "write_jsonl"},
    "newsmon.app.starter": {"FILES", "TEMPLATES", "settings_text", "write_starter"},
    "newsmon.alerts": {"run_alerts", "AlertOutcome", "status", "status_lines", "load_config",
                       "see_rules", "explain"},
    "newsmon.cli": {"main"},
    "newsmon.serve.api": {"create_app", "API_KEY_ENV", "API_KEY_HEADER", "ID_PATTERN",
                          "MAX_QUERY_CHARS"},
    "newsmon.demo.flow": {"DemoRun", "DemoView", "proxied_through", "run_demo",
                          "write_demo_settings"},
}

# the packages of the installed namespace; each has a seam listed above
PACKAGES = {"newsmon.index", "newsmon.index.core", "newsmon.index.store", "newsmon.index.search",
            "newsmon.crawler", "newsmon.enrich", "newsmon.app", "newsmon.alerts", "newsmon.cli",
            "newsmon.serve", "newsmon.demo", "newsmon.worker"}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_are_pinned_and_resolve(module: str) -> None:
    mod = importlib.import_module(module)
    declared = getattr(mod, "__all__", None)
    assert declared is not None, f"{module} declares no __all__"
    assert len(declared) == len(set(declared)), f"{module}: a name twice in __all__"
    assert set(declared) == PUBLIC[module], (
        f"{module}: public names changed; added {sorted(set(declared) - PUBLIC[module])}, "
        f"dropped {sorted(PUBLIC[module] - set(declared))}")
    missing = [name for name in declared if not hasattr(mod, name)]
    assert not missing, f"{module}: __all__ names what it does not define: {missing}"
    assert not [n for n in declared if n.startswith("_")], f"{module}: a private name in __all__"


def test_every_package_has_a_pinned_seam() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
                 ["tool"]["setuptools"]["packages"])
    # packages of data (defaults, sites, the page) and the CLI's inner packages
    code = {name for name in listed
            if not name.startswith(("newsmon.defaults", "newsmon.demo.site", "newsmon.serve.web",
                                    "newsmon.cli.", "newsmon.crawler.extract",
                                    "newsmon.index.store.repos"))} - {"newsmon"}
    assert code == PACKAGES, f"packages added or gone: {sorted(code ^ PACKAGES)}"
    for package in PACKAGES:
        assert any(m == package or m.startswith(package + ".") for m in PUBLIC), package
