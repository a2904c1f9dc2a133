"""The HTTP API and the web page of `newsmon serve` (FastAPI under uvicorn).

    GET /                      the search page (newsmon/serve/web/, no CDN, no build step)
    GET /api/search            search: q, mode, lang, topic, min_topic_score, source, entity,
                               since, until, limit, collapse
    GET /api/articles/{id}     one article, as `newsmon export` writes it
    GET /api/stories/{id}      every article of a story
    GET /api/coverage          articles per day per topic (the page's chart)
    GET /api/stats             counts, backend, model, last runs
    GET /api/health            liveness and the backend's reachability (never needs the key)
    GET /openapi.json          the schema of all of the above

Every input is validated before it reaches the backend; a bad one gets a 4xx whose JSON body says
what was wrong (`{"error": ..., "message": ...}`), never a 500. Query strings that are not UTF-8
and query parameters the endpoint does not know are refused too, so a typo (`topics=` for
`topic=`) is a 400 that names the allowed parameters instead of a silently unfiltered search.

All backend calls run on one worker thread that owns the `Searcher` (SQLite connections and the
embedding model stay on the thread that made them); the event loop only parses and answers.

With an API key configured (the NEWSMON_API_KEY environment variable, read by `newsmon serve`),
every /api/ endpoint but health requires it in the `X-API-Key` header. The page itself carries
no data and is served without the key; it asks for the key when the API answers 401.
"""
# no `from __future__ import annotations`: FastAPI reads the annotations of the endpoints
# defined inside create_app, whose names (key_header) are not module globals

import asyncio
import hmac
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime
from importlib import resources
from typing import Annotated, Any, Literal, Protocol, TypeVar
from urllib.parse import unquote_to_bytes

from fastapi import Depends, FastAPI, Path, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from newsmon import __version__
from newsmon.index.core.errors import ConfigError, IndexingError, NewsmonError
from newsmon.cli.commands.export import parse_since

log = logging.getLogger(__name__)

API_KEY_ENV = "NEWSMON_API_KEY"
API_KEY_HEADER = "X-API-Key"
MAX_QUERY_CHARS = 10_000
MAX_LIMIT = 100
MAX_FILTER_VALUES = 20
# article and story ids: newsmon.index.core.article.article_id (24 hex digits of a SHA-256)
ID_PATTERN = r"^[0-9a-f]{24}$"
# since/until: an ISO date or date-time, or a span back from now (newsmon.cli.commands.export.parse_since)
WHEN_PATTERN = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]+(Z|[+-][0-9:]+)?)?|[0-9]{1,6}[hdw])$"
WHEN_HELP = ("2025-03-01, an ISO date-time (2025-03-01T09:00+09:00) or a span back from now "
             "(24h, 7d, 2w)")
WEB_DIR = resources.files("newsmon.serve") / "web"
# the page loads nothing from elsewhere; the policy makes the browser enforce it
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self'; script-src 'self'; object-src 'none'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

T = TypeVar("T")


class SearcherLike(Protocol):
    """What the API needs of newsmon.app.search.Searcher."""

    def search(self, req: Any) -> Any: ...
    def article(self, article_id: str) -> dict[str, Any] | None: ...
    def story(self, story_id: str) -> list[dict[str, Any]]: ...
    def stats(self) -> dict[str, Any]: ...
    def coverage_per_day(self, since: datetime | None = None,
                         until: datetime | None = None) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...


# -- response models (they are the OpenAPI schema; responses are checked against them) ----------
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


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    query: str
    mode: str
    results: list[Hit]
    total: int
    facets: dict[str, dict[str, int]] = Field(
        description='"lang", "source", "topic" -> value -> number of matching articles')
    confident: bool = Field(description="false: no good answer; the results are the closest")
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


class CoverageDay(BaseModel):
    day: str = Field(description="YYYY-MM-DD (UTC)")
    topic: str
    count: int


class CoverageBody(BaseModel):
    days: list[CoverageDay]


class StatsBody(BaseModel):
    model_config = ConfigDict(extra="allow")


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


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def error_response(status: int, error: str, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status,
                        headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ()) if x not in ("query", "path", "header", "body")]
        where = ".".join(loc) or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _utf8_problem(raw: bytes) -> str | None:
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return "not valid UTF-8 (percent-encode UTF-8 bytes)"
    return None


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


class Backend:
    """The Searcher on its own thread: every call runs there, one at a time."""

    def __init__(self, open_searcher: Callable[[], SearcherLike]) -> None:
        self._open = open_searcher
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsmon-search")
        self._searcher: SearcherLike | None = None

    def _get(self) -> SearcherLike:
        if self._searcher is None:
            self._searcher = self._open()
        return self._searcher

    async def call(self, fn: Callable[[SearcherLike], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(self._get()))

    def open(self) -> None:
        """Open the Searcher now (on its thread) so that a broken store or an unreachable
        backend fails the start with its own error rather than the first request."""
        self._pool.submit(self._get).result()

    async def start(self) -> None:
        await self.call(lambda s: None)

    async def close(self) -> None:
        def _close() -> None:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, _close)
        self._pool.shutdown(wait=True)


def create_app(open_searcher: Callable[[], SearcherLike], *, backend_name: str | None = None,
               api_key: str | None = None, request_factory: Callable[..., Any] | None = None
               ) -> FastAPI:
    """The ASGI app. `open_searcher` builds the Searcher (called once, on the worker thread);
    `request_factory` builds its search request (newsmon.app.search.SearchRequest by default)."""
    if request_factory is None:
        from newsmon.app.search import SearchRequest
        request_factory = SearchRequest
    make_request = request_factory
    backend = Backend(open_searcher)
    key = (api_key or "").encode("utf-8")

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        await backend.start()  # a broken store fails the start, not the first search
        try:
            yield
        finally:
            await backend.close()

    app = FastAPI(
        title="newsmon",
        version=__version__,
        description=(
            "Search English and Japanese news coverage collected by newsmon.\n\n"
            f"When the server has an API key ({API_KEY_ENV}), send it in the "
            f"`{API_KEY_HEADER}` header on every /api/ call except /api/health."),
        lifespan=lifespan,
        docs_url=None, redoc_url=None,  # their pages load scripts from a CDN
    )
    app.state.backend = backend

    key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                              description="needed only when the server sets " + API_KEY_ENV)

    def require_key(given: Annotated[str | None, Security(key_header)]) -> None:
        if not key:
            return
        if given is None or not hmac.compare_digest(given.encode("utf-8", "replace"), key):
            raise ApiError(401, "unauthorized",
                           f"send the API key in the {API_KEY_HEADER} header")

    def only(*names: str) -> Callable[[Request], None]:
        allowed = set(names)

        def check(request: Request) -> None:
            unknown = sorted({k for k in request.query_params.keys() if k not in allowed})
            if unknown:
                raise ApiError(400, "bad_request",
                               f"unknown parameter(s): {', '.join(unknown)}; allowed: "
                               f"{', '.join(names) or 'none'}")
        return check

    async def call(fn: Callable[[SearcherLike], T]) -> T:
        try:
            return await backend.call(fn)
        except ConfigError as exc:
            raise ApiError(400, "bad_request", str(exc)) from None
        except IndexingError as exc:
            raise ApiError(503, "backend_unavailable", str(exc)) from None

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, kind, str(exc.detail),
                              headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_parameter", _validation_message(exc))

    @app.exception_handler(NewsmonError)
    async def _newsmon_error(request: Request, exc: NewsmonError) -> JSONResponse:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return error_response(503, "backend_error", str(exc))

    @app.middleware("http")
    async def _guard(request: Request, call_next: Callable[..., Any]) -> Response:
        # before routing: Starlette would quietly turn bad bytes into U+FFFD
        scope = request.scope
        for what, raw in (("query string", scope.get("query_string", b"")),
                          ("path", scope.get("raw_path") or b"")):
            problem = _utf8_problem(raw)
            if problem:
                return error_response(400, "bad_request", f"{what}: {problem}")
        try:
            return await call_next(request)
        except Exception:  # noqa: BLE001 - answered as JSON, logged with the traceback
            log.exception("%s %s failed", request.method, request.url.path)
            return error_response(500, "internal_error",
                                  "the server failed on this request; see its log")

    # without a key the schema must not ask for one (clients and fuzzers read it)
    common = [Depends(require_key)] if key else []

    @app.get("/api/search", response_model=SearchBody, tags=["search"],
             responses={**ERRORS, 200: {"description": "results, best first", "links": {
                 "Article": {"operationId": "get_article",
                             "parameters": {"article_id": "$response.body#/results/0/id"}},
                 "Story": {"operationId": "get_story",
                           "parameters": {"story_id": "$response.body#/results/0/story"}}}}},
             operation_id="search", dependencies=common + [Depends(only(
                 "q", "mode", "lang", "topic", "min_topic_score", "source", "entity",
                 "since", "until", "limit", "collapse"))])
    async def search(
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS,
                                description="what to look for, in English or Japanese",
                                examples=["GCAP", "日英 重要鉱物"])],
        mode: Annotated[Literal["hybrid", "semantic", "keyword"], Query()] = "hybrid",
        lang: Annotated[Literal["en", "ja"] | None, Query()] = None,
        topic: Annotated[list[str], Query(
            max_length=MAX_FILTER_VALUES,
            description="repeatable; every listed topic must be labelled")] = [],
        min_topic_score: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
        source: Annotated[list[str], Query(
            max_length=MAX_FILTER_VALUES, description="repeatable; any of them")] = [],
        entity: Annotated[list[str], Query(
            max_length=MAX_FILTER_VALUES, description="repeatable; all of them")] = [],
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
        req = make_request(
            query=q, mode=mode, lang=lang, topics=_values("topic", topic),
            min_topic_score=min_topic_score, sources=_values("source", source),
            entities=_values("entity", entity), since=start, until=end, limit=limit,
            collapse=collapse)
        t0 = time.perf_counter()
        resp = await call(lambda s: s.search(req))
        body = resp.to_json()
        body.setdefault("mode", mode)
        body.setdefault("total", len(body.get("results", [])))
        for key_name in ("facets", "confident"):
            body.setdefault(key_name, getattr(resp, key_name))
        body["took_ms"] = round((time.perf_counter() - t0) * 1000, 2)
        return body

    @app.get("/api/articles/{article_id}", response_model=ArticleBody, tags=["articles"],
             operation_id="get_article",
             responses={**ERRORS, **NOT_FOUND}, dependencies=common + [Depends(only())])
    async def article(article_id: Annotated[str, Path(pattern=ID_PATTERN)]) -> dict[str, Any]:
        found = await call(lambda s: s.article(article_id))
        if found is None:
            raise ApiError(404, "not_found", f"no article {article_id}")
        return found

    @app.get("/api/stories/{story_id}", response_model=StoryBody, tags=["articles"],
             operation_id="get_story",
             responses={**ERRORS, **NOT_FOUND}, dependencies=common + [Depends(only())])
    async def story(story_id: Annotated[str, Path(pattern=ID_PATTERN)]) -> dict[str, Any]:
        members = await call(lambda s: s.story(story_id))
        if not members:
            raise ApiError(404, "not_found", f"no story {story_id}")
        return {"story": story_id, "articles": members}

    @app.get("/api/coverage", response_model=CoverageBody, tags=["stats"],
             operation_id="coverage",
             responses=ERRORS, dependencies=common + [Depends(only("since", "until"))])
    async def coverage(
        since: Annotated[str | None, Query(pattern=WHEN_PATTERN, description=WHEN_HELP)] = None,
        until: Annotated[str | None, Query(pattern=WHEN_PATTERN, description=WHEN_HELP)] = None,
    ) -> dict[str, Any]:
        start, end = _when("since", since), _when("until", until)
        if start and end and start >= end:
            raise ApiError(400, "bad_request", "since must be before until")
        days = await call(lambda s: s.coverage_per_day(start, end))
        return {"days": days}

    @app.get("/api/stats", response_model=StatsBody, tags=["stats"], responses=ERRORS,
             operation_id="stats",
             dependencies=common + [Depends(only())])
    async def stats() -> dict[str, Any]:
        return await call(lambda s: s.stats())

    @app.get("/api/health", response_model=HealthBody, tags=["stats"], operation_id="health",
             responses={400: ERRORS[400], 503: {"model": HealthBody,
                                                "description": "backend unavailable"}},
             dependencies=[Depends(only())])
    async def health() -> Response:
        try:
            await backend.call(lambda s: s.stats())
        except NewsmonError as exc:
            body = HealthBody(status="unavailable", version=__version__,
                              backend=backend_name, message=str(exc))
            return JSONResponse(body.model_dump(), status_code=503)
        return JSONResponse(HealthBody(status="ok", version=__version__,
                                       backend=backend_name).model_dump())

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(str(WEB_DIR / "index.html"), media_type="text/html; charset=utf-8",
                            headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=str(WEB_DIR)), name="static")

    @app.middleware("http")
    async def _page_headers(request: Request, call_next: Callable[..., Any]) -> Response:
        response = await call_next(request)
        if request.url.path.startswith("/static/"):
            response.headers.update(PAGE_HEADERS)
        return response

    return app


__all__ = ["create_app", "API_KEY_ENV", "API_KEY_HEADER", "ID_PATTERN", "MAX_QUERY_CHARS"]
