"""The API's response models: they are the OpenAPI schema, and responses are checked against
them."""
# no `from __future__ import annotations`: pydantic and FastAPI read these annotations at runtime

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

API_KEY_HEADER = "X-API-Key"


class ErrorBody(BaseModel):
    error: str = Field(description="short machine-readable kind: bad_request, unauthorized, ...")
    message: str = Field(description="what was wrong, for a person")


class Coverage(BaseModel):
    """Another article of the same story (other outlet, other language)."""

    model_config = ConfigDict(extra="allow")
    id: str
    url: str
    title: str
    lang: str | None = None
    source: str
    published: str | None = None


class Hit(Coverage):
    """One result: an article, why it matched and the rest of its story."""

    topics: dict[str, float] = Field(description="topic -> score of the labelled topics")
    story: str | None = None
    score: float
    snippet: str = Field(description="HTML-escaped text; matched terms inside <mark>…</mark>")
    also: list[Coverage] = Field(default_factory=list,
                                 description="the story's other coverage")
    matched: list[str] = Field(default_factory=list, description="why it matched")
    similarity: float | None = Field(default=None,
                                     description="cosine to the query (semantic, hybrid)")
    relevance: float = Field(default=0.0, ge=0.0, le=1.0, description=(
        "calibrated relevance, 0..1, the same in every mode and for every model: the chance "
        "the article is about the query. 0.5: as likely as not (below: a weaker match); "
        "0.9: clearly about it"))
    strength: str = Field(default="weak", description="the relevance in a word: strong "
                          "(0.9 or more), good (0.5 or more) or weak")
    z: float | None = Field(default=None, description=(
        "how far the article stands above its language's background similarity for this "
        "query, in standard deviations"))
    evidence: float = Field(default=0.0, description=(
        "share of the query's terms the article holds (entity names count in either "
        "language)"))


class CoverageDay(BaseModel):
    day: str = Field(description="YYYY-MM-DD (UTC)")
    topic: str
    count: int


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    query: str
    mode: str
    results: list[Hit]
    total: int
    cut: int = Field(default=0, description=(
        "results after the first `cut` are weaker matches (relevance under 0.5)"))
    facets: dict[str, dict[str, int]] = Field(
        description='"lang", "source", "topic" -> value -> number of listed results')
    confident: bool = Field(description="false: no good answer (no result of relevance 0.5 or "
                                        "more); the results are the closest")
    coverage: list[CoverageDay] = Field(default_factory=list, description=(
        "the good matches (every copy) per published day and labelled topic: the chart of "
        "this query and its filters"))
    took_ms: float


class ArticleBody(BaseModel):
    """An article with every stored field (the `newsmon export` format)."""

    model_config = ConfigDict(extra="allow")
    id: str
    url: str
    source: str
    title: str
    lang: str | None = None
    published: str | None = None
    text: str | None = None
    topics: dict[str, Any] = Field(default_factory=dict)
    story: str | None = None


class StoryBody(BaseModel):
    story: str
    articles: list[ArticleBody]


class CoverageBody(BaseModel):
    days: list[CoverageDay]


class StatsBody(BaseModel):
    model_config = ConfigDict(extra="allow")


class AlertDelivery(BaseModel):
    channel: str = Field(description="where it went: file:PATH, feed:PATH, webhook:VAR, ...")
    state: Literal["pending", "sent", "parked"] = Field(
        description="sent; pending: retried next run; parked: failed too many runs")
    attempts: int = Field(description="runs in which the delivery failed")
    sent_at: str | None = None
    last_attempt_at: str | None = None
    last_error: str | None = None


class AlertItem(BaseModel):
    """One alert a rule sent (`newsmon alerts`)."""

    id: int
    key: str = Field(description="rule:RULE:story:STORY for a match")
    rule: str
    kind: Literal["match", "digest", "health", "recovery"]
    created_at: str = Field(description="when the rule decided it (UTC)")
    title: str
    url: str | None = Field(default=None, description="the story's canonical URL")
    story: str | None = None
    source: str | None = None
    lang: str | None = None
    published: str | None = None
    score: float | None = None
    stories: int = Field(description="stories the alert covers (a digest: several)")
    entry_id: str | None = Field(default=None, description="its entry's id in the Atom feeds")
    deliveries: list[AlertDelivery]


class AlertsBody(BaseModel):
    rules: list[str] = Field(description="every rule configured or with alerts")
    alerts: list[AlertItem] = Field(description="newest first")
    feed: str = Field(description="the Atom feed of these alerts (path on this server)")


class HealthBody(BaseModel):
    status: Literal["ok", "unavailable"]
    version: str
    backend: str | None = None
    message: str | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "bad request (names the parameter)"},
    401: {"model": ErrorBody, "description": f"the {API_KEY_HEADER} header is missing or wrong"},
    422: {"model": ErrorBody, "description": "a parameter does not have the right type or range"},
    503: {"model": ErrorBody, "description": "the search backend is unreachable or broken"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no such article or story"}}
NO_RULE: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no such alert rule"}}
ATOM_MEDIA_TYPE = "application/atom+xml"
ATOM: dict[int | str, dict[str, Any]] = {
    200: {"description": "an Atom 1.0 feed (RFC 4287), newest alert first",
          "content": {ATOM_MEDIA_TYPE: {"schema": {"type": "string"}}}}}



__all__ = ["ErrorBody", "Coverage", "Hit", "SearchBody", "ArticleBody", "StoryBody", "CoverageDay",
           "CoverageBody", "StatsBody", "HealthBody", "ERRORS", "NOT_FOUND", "API_KEY_HEADER",
           "AlertDelivery", "AlertItem", "AlertsBody", "NO_RULE", "ATOM", "ATOM_MEDIA_TYPE"]
