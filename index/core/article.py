"""The one record that flows through newsmon: crawl fills it, enrich adds to it, index stores it."""
from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any


class Stage(str, Enum):
    """How far an article has gone through the pipeline (each stage redoes only what is behind)."""

    EXTRACTED = "extracted"
    ENRICHED = "enriched"
    # what a search backend has indexed is not a stage of the article: each backend keeps its
    # own cursor in the change feed (`newsmon status` shows "indexed" per backend)


class Status(str, Enum):
    """Whether the stored text is the whole article."""

    OK = "ok"
    PAYWALLED = "paywalled"  # text stops at a paywall: stored, flagged, not treated as complete
    TRUNCATED = "truncated"  # visibly cut short (e.g. "continue reading" with a short body)
    CHALLENGE = "challenge"  # a bot challenge or consent wall instead of the article


def article_id(canonical_url: str) -> str:
    """Deterministic id of an article: every rerun of any stage is an upsert on it."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:24]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(slots=True)
class Article:
    url: str
    canonical_url: str
    source: str
    title: str = ""
    text: str = ""
    lang: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    authors: list[str] = field(default_factory=list)
    dateline: str | None = None  # the place of a dateline (【北京＝…】 → 北京), when printed
    section: str | None = None
    image: str | None = None
    description: str | None = None
    site_name: str | None = None
    status: Status = Status.OK
    flags: list[str] = field(default_factory=list)
    fetched_at: datetime | None = None
    http_etag: str | None = None
    http_last_modified: str | None = None
    charset: str | None = None
    # short plain-text lines of the page's template outside the body (footer notices, labels):
    # the source's boilerplate memory counts them with the text's lines, so a line every page
    # shows is learned even where it leaks only into the short pages' text
    template: list[str] = field(default_factory=list)
    stage: Stage = Stage.EXTRACTED
    # enrichment (issue: enrich); empty until `newsmon enrich` has run
    lang_confidence: float | None = None
    topics: dict[str, dict[str, Any]] = field(default_factory=dict)
    entities: list[dict[str, Any]] = field(default_factory=list)
    story: str | None = None
    # lines removed from ``text`` as source boilerplate: [{"line": index in the text as
    # extracted, "text": the line}] (newsmon.enrich.boilerplate.restore rebuilds it)
    boilerplate: list[dict[str, Any]] = field(default_factory=list)
    # text removed from ``title`` as the source's learned title affixes: {"prefix": exact
    # leading text, "suffix": exact trailing text} (newsmon.enrich.title_affix.restore)
    title_affix: dict[str, str] = field(default_factory=dict)
    embedding_model: str | None = None
    enrich_version: str | None = None
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            self.id = article_id(self.canonical_url)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with every stored field (the `export` format)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, Enum):
                value = value.value
            elif isinstance(value, (list, dict)):
                value = _copy_json(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        for key in ("published", "updated", "fetched_at"):
            if isinstance(kwargs.get(key), str):
                kwargs[key] = datetime.fromisoformat(kwargs[key])
        if "status" in kwargs and kwargs["status"] is not None:
            kwargs["status"] = Status(kwargs["status"])
        if "stage" in kwargs and kwargs["stage"] is not None:
            kwargs["stage"] = Stage(kwargs["stage"])
        return cls(**kwargs)


def _copy_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


__all__ = ["Article", "Stage", "Status", "article_id"]
