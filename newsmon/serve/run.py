"""`newsmon serve`'s use case: the API app over the store's searcher, under uvicorn, until stopped."""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn

from newsmon.app.search import Searcher
from newsmon.app.settings import Settings
from newsmon.index.core.errors import ConfigError
from newsmon.index.store import store_exists
from newsmon.serve.address import is_loopback, listen, page_url
from newsmon.serve.api import API_KEY_ENV, API_KEY_HEADER, create_app

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Serving:
    """What a started server answers on, for the caller to announce."""
    url: str
    backend: str
    key_header: str | None  # the header the API key goes in, when one is required


def open_searcher(settings: Settings, backend: str | None) -> Searcher:
    return Searcher(settings, backend=backend, long_lived=True)


def serve(settings: Settings, *, host: str, port: int, backend: str | None, access_log: bool,
          on_ready: Callable[[Serving], None]) -> bool:
    """Serve until stopped; `on_ready` is called once the socket is bound. Returns whether the
    server started."""
    if not store_exists(settings):
        raise ConfigError(f"no store at {settings.data.store_path} yet: run `newsmon crawl` "
                          f"(or `newsmon demo`), then `newsmon enrich` and `newsmon index`")
    backend_name = backend or settings.index.backend
    api_key = os.environ.get(API_KEY_ENV, "").strip() or None
    if not is_loopback(host) and api_key is None:
        log.warning("listening on %s without an API key: anyone who can reach it can search "
                    "the store (set %s)", host, API_KEY_ENV)
    app = create_app(lambda: open_searcher(settings, backend), backend_name=backend_name,
                     api_key=api_key)
    sock = listen(host, port)
    try:
        app.state.backend.open()
        bound_host, bound_port = sock.getsockname()[:2]
        config = uvicorn.Config(app, log_config=None, access_log=access_log,
                                server_header=False, timeout_graceful_shutdown=5)
        server = uvicorn.Server(config)
        on_ready(Serving(page_url(bound_host, bound_port), backend_name,
                         API_KEY_HEADER if api_key else None))
        server.run(sockets=[sock])
    finally:
        sock.close()
    return bool(server.started)


__all__ = ["Serving", "open_searcher", "serve"]
