"""The API's endpoints. Each reaches its app's state (the backend on its thread, the search
request factory, the backend's name) through the request, so one module serves any number of
apps; the API key dependency is added where the keyed router is included (newsmon.serve.api)."""
# no `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader

from newsmon import __version__
from newsmon.alerts.history import HistoryItem, history, rule_ids, served_feed
from newsmon.index.core.errors import ConfigError, IndexingError, NewsmonError
from newsmon.index.core.times import parse_since
from newsmon.serve.backend import Backend, SearcherLike
from newsmon.serve.errors import ApiError
from newsmon.serve.models import (
    API_KEY_HEADER,
    ATOM,
    ATOM_MEDIA_TYPE,
    ERRORS,
    NO_RULE,
    NOT_FOUND,
    AlertsBody,
    ArticleBody,
    CoverageBody,
    HealthBody,
    SearchBody,
    StatsBody,
    StoryBody,
)

API_KEY_ENV = "NEWSMON_API_KEY"
MAX_QUERY_CHARS = 10_000
MAX_LIMIT = 100
MAX_FILTER_VALUES = 20
# article and story ids: newsmon.index.core.article.article_id (24 hex digits of a SHA-256)
ID_PATTERN = r"^[0-9a-f]{24}$"
# alert rule ids: newsmon.alerts.rules.ID_RE
RULE_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
MAX_RULE_CHARS = 100
# since/until: an ISO date or date-time, or a span back from now (newsmon.index.core.times.parse_since)
WHEN_PATTERN = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]+(Z|[+-][0-9:]+)?)?|[0-9]{1,6}[hdw])$"
WHEN_HELP = ("2025-03-01, an ISO date-time (2025-03-01T09:00+09:00) or a span back from now "
             "(24h, 7d, 2w)")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ApiState:
    """What the endpoints of one app share (app.state.api)."""

    backend: Backend
    make_request: Callable[..., Any]
    backend_name: str | None
    api_key: bytes


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                          description="needed only when the server sets " + API_KEY_ENV)


def require_key(request: Request, given: Annotated[str | None, Security(key_header)]) -> None:
    key = _state(request).api_key
    if not key:
        return
    if given is None or not hmac.compare_digest(given.encode("utf-8", "replace"), key):
        raise ApiError(401, "unauthorized", f"send the API key in the {API_KEY_HEADER} header")


def only(*names: str) -> Callable[[Request], None]:
    """A dependency refusing query parameters the endpoint does not know (a typo such as
    `topics=` for `topic=` is a 400 naming the allowed ones, not a silently unfiltered search)."""
    allowed = set(names)

    def check(request: Request) -> None:
        unknown = sorted({k for k in request.query_params.keys() if k not in allowed})
        if unknown:
            raise ApiError(400, "bad_request",
                           f"unknown parameter(s): {', '.join(unknown)}; allowed: "
                           f"{', '.join(names) or 'none'}")
    return check


async def _call(request: Request, fn: Callable[[SearcherLike], T]) -> T:
    try:
        return await _state(request).backend.call(fn)
    except ConfigError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    except IndexingError as exc:
        raise ApiError(503, "backend_unavailable", str(exc)) from None


def _when(name: str, value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return parse_since(value, option=name)
    except ConfigError as exc:  # not a date, or out of range (999999w is before year 1)
        raise ApiError(400, "bad_request", str(exc)) from None


def _values(name: str, values: list[str]) -> tuple[str, ...]:
    out = []
    for value in values:
        value = value.strip()
        if not value:
            raise ApiError(400, "bad_request", f"{name}: empty value")
        out.append(value)
    return tuple(dict.fromkeys(out))


# the endpoints behind the API key (when the server has one)
router = APIRouter()
# the endpoints that never need it
open_router = APIRouter()


@router.get("/api/search", response_model=SearchBody, tags=["search"],
         responses={**ERRORS, 200: {"description": "results, best first", "links": {
             "Article": {"operationId": "get_article",
                         "parameters": {"article_id": "$response.body#/results/0/id"}},
             "Story": {"operationId": "get_story",
                       "parameters": {"story_id": "$response.body#/results/0/story"}}}}},
         operation_id="search", dependencies=[Depends(only(
             "q", "mode", "lang", "topic", "min_topic_score", "source", "entity",
             "since", "until", "limit", "collapse"))])
# FastAPI copies a list default per request, so `= []` is safe here (B006)
async def search(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS,
                            description="what to look for, in English or Japanese",
                            examples=["GCAP", "日英 重要鉱物"])],
    mode: Annotated[Literal["hybrid", "semantic", "keyword"], Query()] = "hybrid",
    lang: Annotated[Literal["en", "ja"] | None, Query()] = None,
    topic: Annotated[list[str], Query(
        max_length=MAX_FILTER_VALUES,
        description="repeatable; every listed topic must be labelled")] = [],  # noqa: B006
    min_topic_score: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    source: Annotated[list[str], Query(
        max_length=MAX_FILTER_VALUES, description="repeatable; any of them")] = [],  # noqa: B006
    entity: Annotated[list[str], Query(
        max_length=MAX_FILTER_VALUES, description="repeatable; all of them")] = [],  # noqa: B006
    since: Annotated[str | None, Query(
        pattern=WHEN_PATTERN, description="published at or after: " + WHEN_HELP)] = None,
    until: Annotated[str | None, Query(
        pattern=WHEN_PATTERN, description="published before: " + WHEN_HELP)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 10,
    collapse: Annotated[bool, Query(description="one result per story")] = True,
) -> dict[str, Any]:
    if not q.strip():
        raise ApiError(400, "bad_request", "q: the query is blank")
    start, end = _when("since", since), _when("until", until)
    if start and end and start >= end:
        raise ApiError(400, "bad_request", "since must be before until")
    req = _state(request).make_request(
        query=q, mode=mode, lang=lang, topics=_values("topic", topic),
        min_topic_score=min_topic_score, sources=_values("source", source),
        entities=_values("entity", entity), since=start, until=end, limit=limit,
        collapse=collapse)
    t0 = time.perf_counter()
    resp = await _call(request, lambda s: s.search(req))
    body: dict[str, Any] = resp.to_json()
    body.setdefault("mode", mode)
    body.setdefault("total", len(body.get("results", [])))
    for key_name in ("facets", "confident"):
        body.setdefault(key_name, getattr(resp, key_name))
    body["took_ms"] = round((time.perf_counter() - t0) * 1000, 2)
    return body


@router.get("/api/articles/{article_id}", response_model=ArticleBody, tags=["articles"],
         operation_id="get_article",
         responses={**ERRORS, **NOT_FOUND}, dependencies=[Depends(only())])
async def article(request: Request, article_id: Annotated[str, Path(pattern=ID_PATTERN)]) -> dict[str, Any]:
    found = await _call(request, lambda s: s.article(article_id))
    if found is None:
        raise ApiError(404, "not_found", f"no article {article_id}")
    return found


@router.get("/api/stories/{story_id}", response_model=StoryBody, tags=["articles"],
         operation_id="get_story",
         responses={**ERRORS, **NOT_FOUND}, dependencies=[Depends(only())])
async def story(request: Request, story_id: Annotated[str, Path(pattern=ID_PATTERN)]) -> dict[str, Any]:
    members = await _call(request, lambda s: s.story(story_id))
    if not members:
        raise ApiError(404, "not_found", f"no story {story_id}")
    return {"story": story_id, "articles": members}


@router.get("/api/coverage", response_model=CoverageBody, tags=["stats"],
         operation_id="coverage",
         responses=ERRORS, dependencies=[Depends(only("since", "until"))])
async def coverage(
    request: Request,
    since: Annotated[str | None, Query(pattern=WHEN_PATTERN, description=WHEN_HELP)] = None,
    until: Annotated[str | None, Query(pattern=WHEN_PATTERN, description=WHEN_HELP)] = None,
) -> dict[str, Any]:
    start, end = _when("since", since), _when("until", until)
    if start and end and start >= end:
        raise ApiError(400, "bad_request", "since must be before until")
    days = await _call(request, lambda s: s.coverage_per_day(start, end))
    return {"days": days}


@router.get("/api/stats", response_model=StatsBody, tags=["stats"], responses=ERRORS,
         operation_id="stats",
         dependencies=[Depends(only())])
async def stats(request: Request) -> dict[str, Any]:
    return await _call(request, lambda s: s.stats())


def _no_rule(rule: str, rules: list[str]) -> ApiError:
    return ApiError(404, "not_found", f"no alert rule {rule}; rules: {', '.join(rules) or '(none)'}")


@router.get("/api/alerts", response_model=AlertsBody, tags=["alerts"], operation_id="alerts",
            responses={**ERRORS, **NO_RULE},
            dependencies=[Depends(only("rule", "since", "limit"))])
async def alerts(
    request: Request,
    rule: Annotated[str | None, Query(pattern=RULE_PATTERN, max_length=MAX_RULE_CHARS,
                                      description="only this rule's alerts")] = None,
    since: Annotated[str | None, Query(
        pattern=WHEN_PATTERN, description="decided at or after: " + WHEN_HELP)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
) -> dict[str, Any]:
    """The alerts the rules sent, newest first, each with its channels and delivery state (the
    history `newsmon alerts` prints)."""
    start = _when("since", since)

    def read(s: SearcherLike) -> tuple[list[str], list[HistoryItem] | None]:
        rules = rule_ids(s.store, s.settings)
        if rule is not None and rule not in rules:
            return rules, None
        return rules, history(s.store, rule=rule, since=start, limit=limit)

    rules, items = await _call(request, read)
    if items is None:
        raise _no_rule(str(rule), rules)
    return {"rules": rules, "alerts": items,
            "feed": f"/feeds/alerts/{rule}.atom" if rule else "/feeds/alerts.atom"}


async def _feed(request: Request, rule: str | None) -> Response:
    def build(s: SearcherLike) -> bytes | list[str]:
        rules = rule_ids(s.store, s.settings)
        if rule is not None and rule not in rules:
            return rules
        page = str(request.base_url) + ("alerts" + (f"?rule={rule}" if rule else ""))
        return served_feed(s.store, s.settings, rule, self_url=str(request.url),
                           alternate=page)

    body = await _call(request, build)
    if isinstance(body, list):
        raise _no_rule(str(rule), body)
    # nosniff: a browser shows the XML, never renders it as a page
    return Response(body, media_type=f"{ATOM_MEDIA_TYPE}; charset=utf-8",
                    headers={"X-Content-Type-Options": "nosniff"})


@router.get("/feeds/alerts.atom", response_class=Response, tags=["alerts"],
            operation_id="alerts_feed", responses={**ATOM, **ERRORS},
            dependencies=[Depends(only())])
async def alerts_feed(request: Request) -> Response:
    """Every rule's newest alerts as an Atom feed (subscribe to it in a feed reader)."""
    return await _feed(request, None)


@router.get("/feeds/alerts/{rule}.atom", response_class=Response, tags=["alerts"],
            operation_id="rule_feed", responses={**ATOM, **ERRORS, **NO_RULE},
            dependencies=[Depends(only())])
async def rule_feed(request: Request, rule: Annotated[str, Path(
        pattern=RULE_PATTERN, max_length=MAX_RULE_CHARS)]) -> Response:
    """One rule's newest alerts as an Atom feed; the entry ids are those of the rule's feed
    channel file, stable across runs."""
    return await _feed(request, rule)


@open_router.get("/api/health", response_model=HealthBody, tags=["stats"], operation_id="health",
         responses={400: ERRORS[400], 503: {"model": HealthBody,
                                            "description": "backend unavailable"}},
         dependencies=[Depends(only())])
async def health(request: Request) -> Response:
    try:
        await _state(request).backend.call(lambda s: s.stats())
    except NewsmonError as exc:
        body = HealthBody(status="unavailable", version=__version__,
                          backend=_state(request).backend_name, message=str(exc))
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse(HealthBody(status="ok", version=__version__,
                                   backend=_state(request).backend_name).model_dump())


__all__ = ["router", "open_router", "require_key", "ApiState", "API_KEY_ENV", "ID_PATTERN",
           "MAX_QUERY_CHARS", "RULE_PATTERN"]
