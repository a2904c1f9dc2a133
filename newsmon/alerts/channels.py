"""Channels send one rendered alert; they raise DeliveryError with the reason when they cannot.

Every channel carries the delivery's idempotency key, stable across retries: the webhook sends it
as the ``Idempotency-Key`` header and the ``idempotency_key`` JSON field, email as the
Message-ID (``<key@newsmon>``), the file channel as a field of the JSON line (and it skips a key
already in the file's tail); a feed entry's id derives from the alert's key alone, and the feed
channel rebuilds its whole Atom file from the store's history, so it never holds an alert twice.
Secrets (webhook URLs, Apprise URLs, the SMTP login) come only from the environment variables
the rule names.
"""
from __future__ import annotations

import json
import os
import smtplib
import socket
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, tzinfo
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, BinaryIO

from newsmon import __version__
from newsmon.alerts import feed
from newsmon.alerts.render import Message
from newsmon.alerts.rules import Channel
from newsmon.index.core.errors import ConfigError, DeliveryError
from newsmon.index.core.settings import AlertsSettings

FILE_TAIL_BYTES = 256 * 1024


def file_record(message: Message) -> dict[str, Any]:
    """The JSON line of the file channel: DESIGN.md's {rule, story, article, score, alerted_at}
    plus type, why, also and the idempotency key (digests and health alerts keep their own
    shape with the same key)."""
    record = dict(message.payload)
    record["idempotency_key"] = message.idempotency_key
    return record


def send_file(channel: Channel, message: Message, *, data_dir: Path) -> None:
    path = Path(channel.path or "alerts.jsonl").expanduser()
    if not path.is_absolute():
        path = data_dir / path
    line = json.dumps(file_record(message), ensure_ascii=False, default=str) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+b") as fh:
            # a crash after writing but before recording leaves the line; do not write it twice
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - FILE_TAIL_BYTES))
            if f'"idempotency_key": "{message.idempotency_key}"'.encode() in fh.read():
                return
            if size and not _ends_with_newline(fh, size):
                fh.write(b"\n")  # a torn last line must not swallow this one
            fh.write(line.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise DeliveryError(f"cannot append to {path}: {exc}", reason="file") from exc


def _ends_with_newline(fh: BinaryIO, size: int) -> bool:
    fh.seek(size - 1)
    last = fh.read(1)
    fh.seek(0, os.SEEK_END)
    return last == b"\n"


def send_feed(channel: Channel, alerts: list[dict[str, Any]], *, limit: int, data_dir: Path,
              tz: tzinfo) -> None:
    """Rebuild the channel's Atom file from ``alerts`` (the store's newest alerts delivered to
    it, this one included) and replace the file atomically."""
    path = Path(channel.path or "feeds/alerts.atom").expanduser()
    if not path.is_absolute():
        path = data_dir / path
    try:
        entries = feed.newest(alerts, tz, limit)
    except ConfigError as exc:
        raise DeliveryError(str(exc), reason="config") from None
    title, subtitle = feed.feed_title(alerts)
    document = feed.atom(entries, id=feed.feed_id(channel.key), title=title, subtitle=subtitle)
    try:
        feed.write_atomic(path, document)
    except OSError as exc:
        raise DeliveryError(f"cannot write the feed {path}: {exc}", reason="file") from exc


def _env_value(name: str | None, env: Mapping[str, str], what: str) -> str:
    value = (env.get(name or "") or "").strip()
    if not value:
        raise DeliveryError(f"environment variable {name} is not set (it must hold the {what})",
                            reason="not_configured")
    return value


def send_webhook(channel: Channel, message: Message, *, settings: AlertsSettings,
                 env: Mapping[str, str]) -> None:
    url = _env_value(channel.url_env, env, "webhook URL")
    body = json.dumps({"text": message.slack, "idempotency_key": message.idempotency_key,
                       "alert": message.payload}, ensure_ascii=False, default=str).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8",
        "Idempotency-Key": message.idempotency_key,
        "User-Agent": f"newsmon/{__version__}",
    })
    where = f"webhook {channel.url_env}"
    try:
        with urllib.request.urlopen(request, timeout=settings.webhook_timeout) as response:
            response.read(65536)
            status = response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"{where} answered HTTP {exc.code}", reason=f"http_{exc.code}"
                            ) from None
    except TimeoutError:
        raise DeliveryError(f"{where} did not answer in {settings.webhook_timeout:g}s",
                            reason="timeout") from None
    except urllib.error.URLError as exc:
        reason = "timeout" if isinstance(exc.reason, (socket.timeout, TimeoutError)) else "network"
        raise DeliveryError(f"{where}: {exc.reason}", reason=reason) from None
    except OSError as exc:
        raise DeliveryError(f"{where}: {exc}", reason="network") from None
    if not 200 <= status < 300:
        raise DeliveryError(f"{where} answered HTTP {status}", reason=f"http_{status}")


def email_message(channel: Channel, message: Message, *, sender: str) -> EmailMessage:
    msg = EmailMessage()  # default policy: non-ASCII headers are RFC 2047 UTF-8 words
    msg["Subject"] = f"{channel.subject_prefix} {message.subject}".strip()
    msg["From"] = sender
    msg["To"] = ", ".join(channel.to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = f"<{message.idempotency_key}@newsmon>"
    msg["X-Newsmon-Idempotency-Key"] = message.idempotency_key
    msg.set_content(message.text, charset="utf-8")
    msg.add_alternative(message.html, subtype="html", charset="utf-8")
    return msg


def send_email(channel: Channel, message: Message, *, settings: AlertsSettings,
               env: Mapping[str, str]) -> None:
    msg = email_message(channel, message, sender=settings.smtp_from)
    where = f"SMTP {settings.smtp_host}:{settings.smtp_port}"
    context = ssl.create_default_context(cafile=settings.smtp_cafile or None)
    user, password = env.get("NEWSMON_SMTP_USER", ""), env.get("NEWSMON_SMTP_PASSWORD", "")
    try:
        if settings.smtp_security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port,
                                                  timeout=settings.smtp_timeout, context=context)
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port,
                                timeout=settings.smtp_timeout)
        with smtp:
            smtp.ehlo()
            if settings.smtp_security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(f"{where} does not offer STARTTLS "
                                        f"([alerts].smtp_security = \"starttls\")",
                                        reason="no_starttls")
                smtp.starttls(context=context)
                smtp.ehlo()
            if user:
                smtp.login(user, password)
            refused = smtp.send_message(msg)
    except DeliveryError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"{where} refused the login of NEWSMON_SMTP_USER: {exc.smtp_code}",
                            reason="smtp_auth") from None
    except smtplib.SMTPException as exc:
        raise DeliveryError(f"{where}: {exc}", reason="smtp") from None
    except ssl.SSLError as exc:
        raise DeliveryError(f"{where}: TLS failed: {exc}", reason="tls") from None
    except TimeoutError:
        raise DeliveryError(f"{where} did not answer in {settings.smtp_timeout:g}s",
                            reason="timeout") from None
    except OSError as exc:
        raise DeliveryError(f"{where}: {exc}", reason="network") from None
    if refused:
        raise DeliveryError(f"{where} refused recipients {sorted(refused)}", reason="refused")


def send_stdout(message: Message) -> None:
    sys.stdout.write(message.text + "\n\n")
    sys.stdout.flush()


def send_apprise(channel: Channel, message: Message, *, env: Mapping[str, str]) -> None:
    import apprise  # the long tail (Slack, Teams, Discord, Telegram, ntfy, ...)

    urls = _env_value(channel.urls_env, env, "Apprise URLs (space- or comma-separated)")
    app = apprise.Apprise()
    for url in urls.replace(",", " ").split():
        if not app.add(url):
            raise DeliveryError(f"apprise {channel.urls_env}: a URL Apprise cannot use",
                                reason="not_configured")
    ok = app.notify(title=message.subject,
                    body=f"{message.text}", body_format=apprise.NotifyFormat.TEXT)
    if not ok:
        raise DeliveryError(f"apprise {channel.urls_env}: at least one service refused the "
                            f"notification (see the log)", reason="apprise")


def send(channel: Channel, message: Message, *, settings: AlertsSettings, data_dir: Path,
         env: Mapping[str, str] | None = None,
         history: Callable[[], list[dict[str, Any]]] | None = None,
         tz: tzinfo | None = None) -> None:
    """Send one alert. A feed channel also needs ``history``: the store's newest alerts
    delivered to it, this one included (AlertRepo.feed_alerts)."""
    env = os.environ if env is None else env
    if channel.type == "file":
        send_file(channel, message, data_dir=data_dir)
    elif channel.type == "feed":
        if history is None:
            raise DeliveryError("the feed channel is rebuilt from the store's alert history, "
                                "and none was given", reason="config")
        send_feed(channel, history(), limit=settings.feed_entries, data_dir=data_dir,
                  tz=tz if tz is not None else UTC)
    elif channel.type == "webhook":
        send_webhook(channel, message, settings=settings, env=env)
    elif channel.type == "email":
        send_email(channel, message, settings=settings, env=env)
    elif channel.type == "apprise":
        send_apprise(channel, message, env=env)
    elif channel.type == "stdout":
        send_stdout(message)
    else:  # pragma: no cover - rules validation admits only the types above
        raise DeliveryError(f"unknown channel type {channel.type!r}", reason="config")


__all__ = ["send", "send_file", "send_feed", "send_webhook", "send_email", "send_stdout", "send_apprise",
           "email_message", "file_record"]
