"""`newsmon alert`: evaluate the alert rules and source health, deliver the outbox."""
from __future__ import annotations

import json

import click

from newsmon.app.alerting import alert, explain_rule
from newsmon.cli.context import get_settings
from newsmon.cli.options import json_option
from newsmon.index.core.errors import ConfigError


@click.command("alert")
@click.option("--dry-run", is_flag=True,
              help="Show what each rule would send now; write and send nothing.")
@click.option("--rule", "rule_id", metavar="ID", help="Only this rule (see config/alerts.yaml).")
@click.option("--retry", is_flag=True,
              help="Send parked deliveries (failed too many runs) again.")
@click.option("--backfill", is_flag=True,
              help="Alert on coverage stored before the rule was added too (its silent baseline).")
@click.option("--explain", "explain_id", metavar="RULE",
              help="List each candidate of RULE's next run (with --backfill: every indexed "
                   "article) with its relevance, evidence and decision; send nothing.")
@json_option("Print the outcome as JSON.")
@click.pass_context
def alert_command(ctx: click.Context, dry_run: bool, rule_id: str | None, retry: bool,
                  backfill: bool, explain_id: str | None, as_json: bool) -> None:
    """Alert on new coverage: each rule's saved search over what was indexed since its watermark.

    One alert per (rule, story): copies, URL variants and other-language coverage of an alerted
    story are listed as "also covered by", never alerted again. A new rule's first evaluation records
    what was stored before a run first saw it as a silent baseline and alerts on what came
    after; --backfill sends the baseline's stories too. Deliveries are retried in later runs and
    parked after [alerts].max_attempts failed runs. Exit code 1 when a delivery failed, 3 when
    another run holds the lock.

    \b
    Example:
      newsmon alert --dry-run --rule japan-uk-pact
      newsmon alert --retry
      newsmon alert --explain japan-uk-pact --backfill
    """
    if explain_id:
        try:
            rows = explain_rule(get_settings(ctx), explain_id, backfill=backfill)
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from None
        if as_json:
            click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        if not rows:
            click.echo(f"{explain_id}: no candidates (nothing new since its last run; "
                       "--backfill lists every indexed article)")
        for row in rows:
            rel = "  -  " if row["relevance"] is None else f"{row['relevance']:.3f}"
            ev = "" if row["evidence"] is None else f" evidence {row['evidence']:.2f}"
            z = "" if row["z"] is None else f" z {row['z']:+.2f}"
            click.echo(f"{rel} [{row['lang'] or '?'}] {row['title'][:80]}")
            click.echo(f"      {row['decision']};{z}{ev}"
                       + (f"; terms: {', '.join(row['terms'])}" if row["terms"] else ""))
        return
    outcome = alert(get_settings(ctx), dry_run=dry_run, rule=rule_id, retry=retry,
                    backfill=backfill)
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
