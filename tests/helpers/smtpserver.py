"""A real local SMTP server for the alert tests: aiosmtpd with STARTTLS required and a login.

Run by `.ci/test` (through `.ci/smtp start`) beside Elasticsearch:

    python tests/helpers/smtpserver.py --spool DIR --cert CERT --key KEY --port PORT \
        --user USER --password PASSWORD

Every accepted message is written to ``DIR/<n>.eml`` (written under a temporary name, then
renamed, so a reader never sees half a message). Clients must STARTTLS before MAIL and log in
(PLAIN or LOGIN, only over TLS) with the given user and password.
"""
from __future__ import annotations

import argparse
import itertools
import os
import signal
import ssl
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class SpoolHandler:
    def __init__(self, spool: Path) -> None:
        self.spool = spool
        self.counter = itertools.count(1 + len(list(spool.glob("*.eml"))))
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        with self.lock:
            n = next(self.counter)
        tmp = self.spool / f".{n}.tmp"
        tmp.write_bytes(envelope.original_content or envelope.content)
        os.replace(tmp, self.spool / f"{n:06d}.eml")
        return "250 OK"


def make_authenticator(user: str, password: str):  # noqa: ANN201
    def authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
              and auth_data.password.decode() == password)
        return AuthResult(success=ok)
    return authenticator


def start(spool: Path, cert: Path, key: Path, port: int, user: str, password: str
          ) -> Controller:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    spool.mkdir(parents=True, exist_ok=True)
    controller = Controller(
        SpoolHandler(spool), hostname="127.0.0.1", port=port, tls_context=context,
        require_starttls=True, auth_required=True, auth_require_tls=True,
        authenticator=make_authenticator(user, password), enable_SMTPUTF8=True,
        ready_timeout=30)
    controller.start()
    return controller


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spool", type=Path, required=True)
    parser.add_argument("--cert", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    controller = start(args.spool, args.cert, args.key, args.port, args.user, args.password)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"listening on 127.0.0.1:{args.port}", flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
