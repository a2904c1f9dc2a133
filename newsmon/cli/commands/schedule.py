"""`newsmon schedule`: the crontab lines for `newsmon run`, and installing or removing them."""
from __future__ import annotations

import click

from newsmon.app.schedule import Crontab, build_schedule, edit_crontab
from newsmon.cli.context import get_settings


@click.command("schedule")
@click.option("--every", default="30m", show_default=True, metavar="INTERVAL",
              help="How often: minutes dividing the hour (15m, 30m), hours (1h, 6h) or 1d.")
@click.option("--install", "action", flag_value="install",
              help="Add the lines to your crontab (or replace the ones installed before).")
@click.option("--remove", "action", flag_value="remove",
              help="Take the lines for this data folder out of your crontab.")
@click.option("--crontab-command", default="crontab", show_default=True, envvar="NEWSMON_CRONTAB",
              help="The crontab program (called with -l and -); also NEWSMON_CRONTAB.")
@click.pass_context
def schedule_command(ctx: click.Context, every: str, action: str | None,
                     crontab_command: str) -> None:
    """Print the crontab lines that run `newsmon run` every INTERVAL; --install / --remove edit
    your crontab (idempotently: installing twice leaves one copy).

    The line names this environment's newsmon by its absolute path, PATH, the settings file, the
    data folder and the log file; newsmon's own lock makes an overlapping run exit 3 at once.
    It carries no secrets: cron's run reads them from the file named by [data] env_file
    (KEY=VALUE lines, chmod 600); the printed lines say which ones your alert channels still
    miss there.

    \b
    Example:
      newsmon schedule --every 15m
      newsmon --config ~/newsmon/newsmon.toml schedule --every 30m --install
      newsmon schedule --remove
    """
    schedule = build_schedule(get_settings(ctx), every)
    if action is None:
        click.echo("\n".join(schedule.lines()))
        return
    if not edit_crontab(Crontab(crontab_command), schedule, action):
        click.echo(f"crontab unchanged: the newsmon lines for {schedule.data_dir} are "
                   + ("already installed" if action == "install" else "not there"))
        return
    if action == "install":
        click.echo(f"installed in your crontab (every {every}):\n" + "\n".join(schedule.lines()))
    else:
        click.echo(f"removed the newsmon lines for {schedule.data_dir} from your crontab")
