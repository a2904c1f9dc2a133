"""`newsmon alert`: evaluate the alert rules and source health, deliver the outbox."""
from __future__ import annotations

import json

import click

from newsmon.alerts import run_alerts
from newsmon.alerts.service import AlertOutcome
from newsmon.app.pipeline import run
from newsmon.cli.context import get_settings
from newsmon.index.store import Store


@click.command("alert")
@click.option("--dry-run", is_flag=True,
              help="Show what each rule would send now; write and send nothing.")
@click.option("--rule", "rule_id", metavar="ID", help="Only this rule (see config/alerts.yaml).")
@click.option("--retry", is_flag=True,
              help="Send parked deliveries (failed too many runs) again.")
@click.option("--backfill", is_flag=True,
              help="Alert on coverage already stored instead of setting a silent baseline.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_context
def alert_command(ctx: click.Context, dry_run: bool, rule_id: str | None, retry: bool,
                  backfill: bool, as_json: bool) -> None:
    """Alert on new coverage: each rule's saved search over what was indexed since its watermark.

    One alert per (rule, story): copies, URL variants and other-language coverage of an alerted
    story are listed as "also covered by", never alerted again. A rule's first run records a
    baseline and sends nothing (unless --backfill). Deliveries are retried in later runs and
    parked after [alerts].max_attempts failed runs. Exit code 1 when a delivery failed, 3 when
    another run holds the lock.

    \b
    Example:
      newsmon alert --dry-run --rule japan-uk-pact
      newsmon alert --retry
    """
    settings = get_settings(ctx)
    if dry_run:
        # a dry run reads and writes nothing, so it needs neither the run lock nor a run record
        with Store(settings.data.store_path, timeout=settings.data.busy_timeout) as store:
            outcome = run_alerts(settings, store, dry_run=True, backfill=backfill, rule=rule_id)
    else:
        result = run(settings, command="alert", stages=("alert",), options={
            "alert": {"retry": retry, "backfill": backfill, "rule": rule_id}})
        outcome = AlertOutcome.from_dict(result.steps[0].stats)
    if as_json:
        click.echo(json.dumps(outcome.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        if dry_run:
            for item in outcome.preview:
                click.echo(f"--- {item['kind']} {item['key']} -> {', '.join(item['channels'])}")
                click.echo(item["text"])
                click.echo()
        click.echo(outcome.summary_text())
    ctx.exit(outcome.exit_code)
