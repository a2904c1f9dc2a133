"""`newsmon serve`: the HTTP API and the search page (newsmon.serve.api) under uvicorn."""
from __future__ import annotations

import click

from newsmon.cli.context import get_settings
from newsmon.serve.address import DEFAULT_HOST, DEFAULT_PORT


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
    from newsmon.serve.run import Serving, serve

    def announce(serving: Serving) -> None:
        key = f"; API key required in {serving.key_header}" if serving.key_header else ""
        click.echo(f"newsmon: serving {serving.url} (backend {serving.backend}{key}); "
                   f"Ctrl-C stops", err=True)

    started = serve(get_settings(ctx), host=host, port=port, backend=backend,
                    access_log=access_log, on_ready=announce)
    if not started:
        raise click.ClickException("the server did not start; see the log above")
