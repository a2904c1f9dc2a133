"""Alerts: rules are saved searches evaluated on the change feed; an outbox delivers them.

    rules.py     config/alerts.yaml -> frozen Rule / Channel / HealthConfig (strict validation)
    evaluate.py  a rule's decisions about the articles changed since its watermark
    health.py    source health: failing / silent sources, one alert and one recovery notice
    render.py    subject, plain text, HTML and Slack text of an alert
    channels.py  file, feed, webhook, email (SMTP STARTTLS), stdout, Apprise
    feed.py      Atom feeds of alerts, rebuilt from the store and replaced atomically
    deliver.py   the outbox loop: retries with backoff, parking, one channel never blocks another
    service.py   run_alerts(settings, store, ...) -> AlertOutcome, status(store),
                 explain(settings, store, rule) -> each candidate's relevance and decision

The tables live in newsmon.index.store.repos.alerts (store.alerts; migration 4).
"""
from newsmon.alerts.service import (
    AlertOutcome,
    explain,
    load_config,
    run_alerts,
    see_rules,
    status,
    status_lines,
)

__all__ = ["run_alerts", "AlertOutcome", "status", "status_lines", "load_config", "see_rules",
           "explain"]
