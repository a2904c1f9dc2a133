"""What command modules share without importing the CLI group (which imports them)."""
from __future__ import annotations

import sys

import click

from newsmon.app.settings import Settings


def get_settings(ctx: click.Context) -> Settings:
    """The settings the group built once for this invocation."""
    settings: Settings = ctx.find_root().obj
    return settings


def stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


__all__ = ["get_settings", "stdout_is_terminal"]
