"""Options that several commands share (--json, --since, --source): one definition each, so their
spelling and parsing cannot drift apart; each command keeps its own help text."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import click

from newsmon.index.core.errors import ConfigError
from newsmon.index.core.times import parse_since

F = TypeVar("F", bound=Callable[..., Any])

CRAWL_SOURCE_HELP = "Crawl only this source (repeatable); default: every enabled source."


def json_option(help: str) -> Callable[[F], F]:
    """--json, as ``as_json``."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def since_option(help: str, *, metavar: str | None = None) -> Callable[[F], F]:
    """--since, as ``since``: the text as given; `since_value` reads it."""
    return click.option("--since", metavar=metavar, help=help)


def source_option(dest: str = "source_ids", *, help: str = CRAWL_SOURCE_HELP,
                  metavar: str | None = "ID") -> Callable[[F], F]:
    """--source, repeatable, as a tuple of source ids."""
    return click.option("--source", dest, multiple=True, metavar=metavar, help=help)


def since_value(text: str | None, option: str = "--since") -> datetime | None:
    """The instant an option such as --since names; a bad value is the user's usage error, not
    a configuration error."""
    try:
        return parse_since(text, option=option) if text else None
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


def until_value(text: str | None, option: str = "--until") -> datetime | None:
    """The exclusive end an option such as --until names: a date (2025-03-31) includes that
    whole day (UTC, as --since reads it), a date-time or a span back from now ends there."""
    moment = since_value(text, option)
    if moment is not None and text is not None and len(text.strip()) == 10:
        return moment + timedelta(days=1)
    return moment


__all__ = ["json_option", "since_option", "since_value", "source_option", "until_value"]
