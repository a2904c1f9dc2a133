"""`newsmon alerts`: the alert history: what each rule sent, to which channel, when, and how."""
from __future__ import annotations

import json

import click

from newsmon.app.alert_history import alert_history
from newsmon.cli.context import get_settings
from newsmon.cli.options import json_option, since_option, since_value
from newsmon.cli.presenters.alerts import history_text


@click.command("alerts")
@click.option("--rule", "rule_id", metavar="ID", help="Only this rule's alerts.")
@since_option("Only alerts decided since DATE: 2025-03-01, an ISO date-time, or 7d/24h.",
              metavar="DATE")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True,
              help="Show at most this many alerts (the newest).")
@json_option("Print the alerts as JSON (one array, newest first).")
@click.pass_context
def alerts_command(ctx: click.Context, rule_id: str | None, since: str | None, limit: int,
                   as_json: bool) -> None:
    """List the alerts sent: newest first, each with its channels and their delivery state
    (sent, pending: retried next run, parked: resend with `newsmon alert --retry`).

    Baselines are not listed (they send nothing). The same history is served at /api/alerts
    and as Atom feeds at /feeds/alerts.atom and /feeds/alerts/RULE.atom by `newsmon serve`.

    \b
    Example:
      newsmon alerts --rule japan-uk-pact --since 7d
      newsmon alerts --json | jq '.[0].deliveries'
    """
    settings = get_settings(ctx)
    items = alert_history(settings, rule=rule_id, since=since_value(since), limit=limit)
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
    else:
        click.echo(history_text(items, settings.alerts.timezone))
