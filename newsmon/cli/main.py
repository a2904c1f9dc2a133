"""The `newsmon` command line: settings are built once here and passed down.

Command modules (newsmon/cli/commands/) define click commands and never import this module; it
imports them and adds them to the group (COMMANDS), so there is no import circle. Exit codes:
see newsmon.app.outcome (0 ok, 1 some items failed, 2 usage, 3 locked, 4–7 machine failures).
"""
from __future__ import annotations

import io
import logging
import sqlite3
import sys
from pathlib import Path
from typing import TextIO

import click

from newsmon import __version__
from newsmon.app.envfile import apply_env_file
from newsmon.app.failures import MachineFailure, machine_failure
from newsmon.app.lock import LockHeld
from newsmon.app.outcome import EXIT_LOCKED, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from newsmon.app.settings import load_settings
from newsmon.cli.commands.alert import alert_command
from newsmon.cli.commands.alerts import alerts_command
from newsmon.cli.commands.backup import backup_command
from newsmon.cli.commands.crawl import crawl_command
from newsmon.cli.commands.demo import demo_command
from newsmon.cli.commands.enrich import enrich_command
from newsmon.cli.commands.export import export_command
from newsmon.cli.commands.index import index_command
from newsmon.cli.commands.init import init_command
from newsmon.cli.commands.model import model_group
from newsmon.cli.commands.run import run_command
from newsmon.cli.commands.schedule import schedule_command
from newsmon.cli.commands.search import search_command
from newsmon.cli.commands.serve import serve_command
from newsmon.cli.commands.sources import sources_group
from newsmon.cli.commands.status import status_command
from newsmon.cli.commands.store import store_group
from newsmon.cli.commands.worker import worker_command
from newsmon.index.core.errors import ConfigError, NewsmonError

# every command of the group, in help order
COMMANDS = (run_command, crawl_command, enrich_command, index_command, search_command,
            alert_command, alerts_command, serve_command, status_command, sources_group,
            export_command, backup_command, store_group, schedule_command, worker_command,
            init_command, model_group, demo_command)

NOISY_LOGGERS = ("scrapy", "twisted", "py.warnings", "trafilatura", "htmldate", "courlan",
                 "elastic_transport", "charset_normalizer", "urllib3", "filelock")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# on a terminal, the INFO lines go here in the data folder unless [log].file names a file
LOG_NAME = "newsmon.log"


class _QuietLibraries(logging.Filter):
    """Below DEBUG level, libraries speak only for warnings and errors.

    A filter on our handlers rather than logger levels: Scrapy resets its loggers to DEBUG with
    its own dictConfig when a crawl starts.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        return not any(record.name == n or record.name.startswith(n + ".")
                       for n in NOISY_LOGGERS)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the time: click's test runner swaps it, and the
    progress view on a terminal redirects it so log lines print above the live rows."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _LogFile(logging.FileHandler):
    """Appends to the log file, made (with its folder) at the first line: a command that logs
    nothing leaves no file and no folder behind."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8", delay=True)

    def _open(self) -> io.TextIOWrapper:
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


def configure_logging(level: str, log_file: str | Path | None = None, *,
                      terminal_log: str | Path | None = None, verbose: bool = False) -> None:
    """Logging is configured here only; libraries use logging.getLogger(__name__).

    On a terminal, quiet: stderr shows warnings and errors beside the command's result, and
    the INFO lines go to the log file (``log_file``, else ``terminal_log``: the data folder's
    newsmon.log); ``verbose`` (-v) or DEBUG shows them on the terminal too. With a log file and
    no terminal (cron), stderr carries errors only: cron mails what needs a human, the file
    keeps every line. Without either, stderr carries ``level``.
    """
    debug = level.upper() == "DEBUG"
    handlers: list[logging.Handler] = []
    stderr = _StderrHandler()
    tty = _isatty(sys.stderr)
    if log_file and not tty:
        stderr.setLevel(logging.ERROR)
    elif tty and not (verbose or debug):
        stderr.setLevel(logging.WARNING)
        log_file = log_file or terminal_log
    handlers.append(stderr)
    if log_file:
        handlers.append(_LogFile(Path(log_file).expanduser()))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_newsmon", False)]:
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        one_line = handler is stderr and not debug
        handler.setFormatter(_NoTraceback(FORMAT) if one_line else logging.Formatter(FORMAT))
        if not debug:
            handler.addFilter(_QuietLibraries())
        handler._newsmon = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    if not debug:
        for noisy in NOISY_LOGGERS:
            logging.getLogger(noisy).setLevel(logging.WARNING)


class _NoTraceback(logging.Formatter):
    """stderr shows a library's logged exception as one line (a retried ES request logs its
    whole traceback); the log file and --log-level DEBUG keep the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.stack_info:
            exc = record.exc_info[1] if record.exc_info else None
            message = record.getMessage()
            if exc is not None:
                first = str(exc).splitlines()[0] if str(exc) else ""
                message = f"{message} ({type(exc).__name__}{': ' + first if first else ''})"
            record = logging.makeLogRecord(record.__dict__)
            record.msg, record.args = message, None
            record.exc_info = record.exc_text = record.stack_info = None
        return super().format(record)


class MachineFailureError(Exception):
    def __init__(self, failure: MachineFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class NewsmonGroup(click.Group):
    """Turns a machine failure anywhere under a command into MachineFailureError (one line and
    its exit code in ``main``), naming this invocation's store and data folder."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (sqlite3.Error, OSError, NewsmonError) as exc:
            settings = ctx.obj
            failure = machine_failure(
                exc, store=str(settings.data.store_path) if settings else "newsmon.db",
                data_dir=str(settings.data.dir) if settings else "the data folder")
            if failure is None:
                raise
            raise MachineFailureError(failure) from exc


@click.group(cls=NewsmonGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="Local settings file (TOML); also NEWSMON_CONFIG.")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Folder of the store of record (overrides [data].dir).")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"],
                                               case_sensitive=False))
@click.option("--log-file", type=click.Path(dir_okay=False),
              help="Append log lines to this file (overrides [log].file; on a terminal the "
                   "default is newsmon.log in the data folder).")
@click.option("--verbose", "-v", is_flag=True,
              help="On a terminal, show INFO log lines too (by default only warnings and "
                   "errors; the rest goes to the log file).")
@click.version_option(__version__, prog_name="newsmon")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, data_dir: str | None,
        log_level: str | None, log_file: str | None, verbose: bool) -> None:
    """Monitor English and Japanese news: crawl sources, enrich, index, search and alert.

    \b
    Example:
      newsmon demo                 # serve the bundled demo sites, crawl + enrich, show the result
      newsmon run                  # what cron runs: crawl, enrich, index and alert in one go
      newsmon search "GCAP"        # hybrid search in English or Japanese, one result a story
      newsmon serve                # the HTTP API and the search page on 127.0.0.1:8750
      newsmon init my-monitor      # starter settings, sources and alert rules of your own
      newsmon status --json
    """
    try:
        settings = load_settings(
            config_file,
            overrides={"data": {"dir": data_dir},
                       "log": {"level": log_level.upper() if log_level else None,
                               "file": str(Path(log_file).resolve()) if log_file else None}},
        )
        # secrets for a run with an empty environment (cron), before any command reads them
        apply_env_file(settings.data.env_file)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    configure_logging(settings.log.level, settings.log.file or None,
                      terminal_log=settings.data.dir / LOG_NAME, verbose=verbose)
    ctx.obj = settings


for _command in COMMANDS:
    cli.add_command(_command)


def _to_log_file(message: str) -> None:
    """The one line also goes to the log file, where the cron user looks."""
    record = logging.LogRecord("newsmon", logging.ERROR, __file__, 0, message, None, None)
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_newsmon", False) and isinstance(handler, logging.FileHandler):
            handler.handle(record)


def main(argv: list[str] | None = None) -> int:
    try:
        result = cli.main(args=argv, prog_name="newsmon", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return EXIT_PARTIAL
    except click.UsageError as exc:
        exc.show()
        return EXIT_USAGE
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except ConfigError as exc:
        click.echo(f"newsmon: configuration error: {exc}", err=True)
        return EXIT_USAGE
    except LockHeld as exc:
        click.echo(f"newsmon: {exc}; exiting without doing anything", err=True)
        return EXIT_LOCKED
    except MachineFailureError as exc:
        _to_log_file(exc.failure.message)
        click.echo(f"newsmon: {exc.failure.message}", err=True)
        return exc.failure.exit_code
    except NewsmonError as exc:
        click.echo(f"newsmon: {exc}", err=True)
        return EXIT_PARTIAL
    return int(result or EXIT_OK)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
