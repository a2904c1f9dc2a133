"""`newsmon serve`: the HTTP API and the search page (newsmon.serve.api) under uvicorn."""
from __future__ import annotations

import ipaddress
import logging
import os
import socket

import click

from newsmon.app.settings import Settings
from newsmon.cli.context import get_settings
from newsmon.index.core.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8750


def page_url(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """Bind here, not in uvicorn, so that a taken port is a usage error with a message and
    port 0 tells us which port it got."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host}: {exc.strerror}") from None
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"--host {host} --port {port}: cannot listen there: "
                          f"{exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def open_searcher(settings: Settings, backend: str | None):  # noqa: ANN201
    from newsmon.app.search import Searcher
    return Searcher(settings, backend=backend, long_lived=True)


@click.command("serve")
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Address to listen on. Anything but loopback exposes the API: set "
                   "NEWSMON_API_KEY first.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="Port to listen on (0: any free port; the address is printed).")
@click.option("--backend", type=click.Choice(["sqlite", "elasticsearch"]),
              help="Search backend [default: [index].backend].")
@click.option("--access-log", is_flag=True, help="Log every request.")
@click.pass_context
def serve_command(ctx: click.Context, host: str, port: int, backend: str | None,
                  access_log: bool) -> None:
    """Serve the search API (JSON, with an OpenAPI schema at /openapi.json) and the search page.

    Endpoints: /api/search, /api/articles/ID, /api/stories/ID, /api/coverage, /api/stats,
    /api/health. With NEWSMON_API_KEY set in the environment, every /api/ call but health must
    send it in the X-API-Key header; the page asks for it.

    \b
    Example:
      newsmon serve                       # http://127.0.0.1:8750/
      newsmon serve --port 9000 --backend elasticsearch
      NEWSMON_API_KEY=$(openssl rand -hex 16) newsmon serve --host 0.0.0.0
    """
    # imported here: every other command starts without loading the web stack
    import uvicorn

    from newsmon.serve.api import API_KEY_ENV, API_KEY_HEADER, create_app

    settings = get_settings(ctx)
    if not settings.data.store_path.exists():
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
        click.echo(f"newsmon: serving {page_url(bound_host, bound_port)} (backend {backend_name}"
                   f"{'; API key required in ' + API_KEY_HEADER if api_key else ''}); "
                   f"Ctrl-C stops", err=True)
        server.run(sockets=[sock])
    finally:
        sock.close()
    if not server.started:
        raise click.ClickException("the server did not start; see the log above")
