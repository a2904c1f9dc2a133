"""A real local HTTP receiver for webhook (and Apprise json://) deliveries.

Every POST is recorded (path, headers, parsed JSON body). What it answers is scripted:
``receiver.behaviour`` is "ok" (200), "error" (500) or "hang" (answers nothing for
``hang_s`` seconds, longer than the client's timeout); ``receiver.script`` is a list of
behaviours used one per request before falling back to ``behaviour``.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    answered: str
    at: float


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    behaviour: str = "ok"
    script: list[str] = field(default_factory=list)
    hang_s: float = 2.0
    delay_s: float = 0.0  # how long an "ok" answer waits: a delivery held in flight
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def delivered(self) -> list[Received]:
        """Requests that were answered 200 (what a receiver actually accepted)."""
        return [r for r in self.requests if r.answered == "ok"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_receiver() -> Receiver:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            rec = holder["r"]
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body: Any = json.loads(raw.decode("utf-8"))
            except ValueError:
                body = raw.decode("utf-8", "replace")
            with rec.lock:
                action = rec.script.pop(0) if rec.script else rec.behaviour
                rec.requests.append(Received(self.path, dict(self.headers.items()), body,
                                             action, time.time()))
            if action == "hang":
                time.sleep(rec.hang_s)
                return
            if action == "ok" and rec.delay_s:
                time.sleep(rec.delay_s)
            status = 200 if action == "ok" else 500
            payload = b'{"ok": true}' if status == 200 else b'{"error": "boom"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec = Receiver(server)
    holder["r"] = rec
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return rec
