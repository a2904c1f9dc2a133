"""`newsmon index`: push what changed in the store to a search backend (the index stage of
newsmon.app, run alone under the run lock)."""
from __future__ import annotations

import json

import click

from newsmon.app.indexing import BACKENDS
from newsmon.app.pipeline import run
from newsmon.cli.context import get_settings
from newsmon.cli.options import json_option


@click.command("index")
@click.option("--backend", type=click.Choice(BACKENDS),
              help="Search backend to update (default: [index] backend).")
@click.option("--rebuild", is_flag=True,
              help="Build the index again from every stored article (on Elasticsearch a new "
                   "generation of monthly indices, swapped in when complete).")
@json_option("Print the outcome as one JSON object.")
@click.pass_context
def index_command(ctx: click.Context, backend: str | None, rebuild: bool, as_json: bool) -> None:
    """Bring a search index up to date with the store: every article inserted, updated or
    deleted since that backend last saw the store (its cursor in the change feed).

    An unreachable or failing backend leaves its cursor where it was and exits 1 with the
    reason; the next run catches up. The Elasticsearch API key is read from
    NEWSMON_ES_API_KEY only.

    \b
    Example:
      newsmon index
      newsmon index --backend elasticsearch --rebuild
    """
    outcome = run(get_settings(ctx), command="index", stages=("index",),
                  options={"index": {"backend": backend, "rebuild": rebuild}})
    step = outcome.steps[0]
    s = step.stats
    error = s.get("error")
    if as_json:
        click.echo(json.dumps({"run_id": outcome.run_id, "status": step.status,
                               "stats": {} if error else s, "error": error},
                              ensure_ascii=False, default=str))
    elif error:
        click.echo(f"newsmon index: {s.get('backend')}: {error}", err=True)
    else:
        click.echo(f"index {s['backend']}: {s['upserted']} upserted, {s['deleted']} deleted"
                   f"{' (full build)' if s['full'] else ''}; {s['documents']} documents; "
                   f"cursor {s['cursor_before']} -> {s['cursor_after']} ({s['seconds']} s)")
    ctx.exit(outcome.exit_code)
