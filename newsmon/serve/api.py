"""The HTTP API and the web page of `newsmon serve` (FastAPI under uvicorn).

    GET /                      the search page (newsmon/serve/web/, no CDN, no build step)
    GET /alerts                the Alerts view: each rule's latest alerts, its feed
    GET /api/search            search: q, mode, lang, topic, min_topic_score, source, entity,
                               since, until, limit, collapse
    GET /api/articles/{id}     one article, as `newsmon export` writes it
    GET /api/stories/{id}      every article of a story
    GET /api/coverage          articles per day per topic (the page's chart)
    GET /api/stats             counts, backend, model, last runs
    GET /api/alerts            the alert history: rule, since, limit (`newsmon alerts`)
    GET /feeds/alerts.atom     every rule's newest alerts as an Atom feed
    GET /feeds/alerts/{rule}.atom   one rule's (the same entries as its feed channel's file)
    GET /api/health            liveness and the backend's reachability (never needs the key)
    GET /openapi.json          the schema of all of the above
    GET /docs                  the schema as a plain HTML page (docs.py; nothing from a CDN)

Every input is validated before it reaches the backend; a bad one gets a 4xx whose JSON body says
what was wrong (`{"error": ..., "message": ...}`), never a 500. Query strings that are not UTF-8
and query parameters the endpoint does not know are refused too, so a typo (`topics=` for
`topic=`) is a 400 that names the allowed parameters instead of a silently unfiltered search.

All backend calls run on one worker thread that owns the `Searcher` (backend.py). The endpoints
are in routes.py, the response models (the OpenAPI schema) in models.py, error answers in
errors.py; this module builds the app from them.

With an API key configured (the NEWSMON_API_KEY environment variable, read by `newsmon serve`),
every /api/ endpoint but health, and every feed, requires it in the `X-API-Key` header. The
pages themselves carry no data and are served without the key; they ask for the key when the API
answers 401.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from newsmon import __version__
from newsmon.serve.backend import Backend, SearcherLike
from newsmon.serve.docs import docs_page
from newsmon.serve.errors import install_error_handling
from newsmon.serve.models import API_KEY_HEADER
from newsmon.serve.routes import (
    API_KEY_ENV,
    ID_PATTERN,
    MAX_QUERY_CHARS,
    ApiState,
    open_router,
    require_key,
    router,
)

log = logging.getLogger(__name__)

WEB_DIR = resources.files("newsmon.serve") / "web"
# the page loads nothing from elsewhere; the policy makes the browser enforce it
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self'; script-src 'self'; object-src 'none'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# the docs page carries its one style sheet inline, and nothing else
DOCS_HEADERS = {**PAGE_HEADERS, "Content-Security-Policy":
                "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                "frame-ancestors 'none'"}


def create_app(open_searcher: Callable[[], SearcherLike], *, backend_name: str | None = None,
               api_key: str | None = None, request_factory: Callable[..., Any] | None = None
               ) -> FastAPI:
    """The ASGI app. `open_searcher` builds the Searcher (called once, on the worker thread);
    `request_factory` builds its search request (newsmon.app.search.SearchRequest by default)."""
    if request_factory is None:
        from newsmon.app.search import SearchRequest
        request_factory = SearchRequest
    backend = Backend(open_searcher)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
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
            f"`{API_KEY_HEADER}` header on every /api/ call except /api/health, and on "
            f"the feeds (/feeds/)."),
        lifespan=lifespan,
        docs_url=None, redoc_url=None,  # their pages load scripts from a CDN
    )
    app.state.backend = backend
    app.state.api = ApiState(backend=backend, make_request=request_factory,
                             backend_name=backend_name, api_key=(api_key or "").encode("utf-8"))
    install_error_handling(app)
    # without a key the schema must not ask for one (clients and fuzzers read it)
    app.include_router(router, dependencies=[Depends(require_key)] if api_key else [])
    app.include_router(open_router)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(docs_page(app.openapi()), headers=DOCS_HEADERS)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(str(WEB_DIR / "index.html"), media_type="text/html; charset=utf-8",
                            headers=PAGE_HEADERS)

    @app.get("/alerts", include_in_schema=False)
    async def alerts_page() -> FileResponse:
        return FileResponse(str(WEB_DIR / "alerts.html"), media_type="text/html; charset=utf-8",
                            headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=str(WEB_DIR)), name="static")

    @app.middleware("http")
    async def _page_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                            ) -> Response:
        response = await call_next(request)
        if request.url.path.startswith("/static/"):
            response.headers.update(PAGE_HEADERS)
        return response

    return app


__all__ = ["create_app", "API_KEY_ENV", "API_KEY_HEADER", "ID_PATTERN", "MAX_QUERY_CHARS"]
