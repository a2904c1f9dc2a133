"""The `newsmon` command line: settings are built once here and passed down.

Exit codes (stable, for cron): 0 all good; 1 the run finished but some items or deliveries
failed; 2 bad configuration or usage; 3 another run holds the lock.
"""
from __future__ import annotations

import logging
import sys

import click

from newsmon.index.errors import ConfigError, NewsmonError
from newsmon import __version__
from newsmon.lock import LockHeld
from newsmon.progress import erase_active
from newsmon.settings import Settings, load_settings

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3


NOISY_LOGGERS = ("scrapy", "twisted", "py.warnings", "trafilatura", "htmldate", "courlan",
                 "elastic_transport", "charset_normalizer", "urllib3", "filelock")


class _QuietLibraries(logging.Filter):
    """Below DEBUG level, libraries speak only for warnings and errors.

    A filter on our handler rather than logger levels: Scrapy resets its loggers to DEBUG with
    its own dictConfig when a crawl starts, which would bury the progress line in its chatter.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        noisy = any(record.name == n or record.name.startswith(n + ".") for n in NOISY_LOGGERS)
        if noisy and record.levelno < logging.ERROR and record.exc_info:
            # a library's retry warning stays one line (elastic_transport attaches the
            # traceback of every failed attempt); the command reports the failure itself
            record.exc_info, record.exc_text = None, None
        if record.levelno >= logging.WARNING:
            return True
        return not noisy


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (click's test runner swaps it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        # a message written over a progress line would leave both garbled: step around it
        lines = erase_active(sys.stderr)
        super().emit(record)
        for progress in lines:
            progress.redraw()


def configure_logging(level: str) -> None:
    """Logging is configured here only; libraries use logging.getLogger(__name__)."""
    debug = level.upper() == "DEBUG"
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if not debug:
        handler.addFilter(_QuietLibraries())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_newsmon", False)]:
        root.removeHandler(old)
    handler._newsmon = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    if not debug:
        for noisy in NOISY_LOGGERS:
            logging.getLogger(noisy).setLevel(logging.WARNING)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="Local settings file (TOML); also NEWSMON_CONFIG.")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Folder of the store of record (overrides [data].dir).")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"],
                                               case_sensitive=False))
@click.version_option(__version__, prog_name="newsmon")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, data_dir: str | None,
        log_level: str | None) -> None:
    """Monitor English and Japanese news: crawl sources, extract and enrich articles.

    \b
    Example:
      newsmon demo                 # serve the bundled demo sites, crawl + enrich, show the result
      newsmon init my-monitor      # starter settings, sources and alert rules of your own
      newsmon crawl --source gov-uk-fcdo
      newsmon status --json
    """
    try:
        settings = load_settings(
            config_file,
            overrides={"data": {"dir": data_dir},
                       "log": {"level": log_level.upper() if log_level else None}},
        )
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    configure_logging(settings.log.level)
    ctx.obj = settings


def get_settings(ctx: click.Context) -> Settings:
    return ctx.find_root().obj


def _register() -> None:
    # each command lives in its own module; importing it adds it to the group
    from newsmon import cmd_crawl, cmd_demo, cmd_enrich, cmd_export, cmd_status  # noqa: F401
    from newsmon import cmd_index, cmd_init, cmd_search  # noqa: F401
    from newsmon import cmd_alert  # noqa: F401
    from newsmon import cmd_serve  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    _register()
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
    except NewsmonError as exc:
        click.echo(f"newsmon: {exc}", err=True)
        return EXIT_PARTIAL
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
