"""A small local web server for the bundled demo news sites (and for tests that need real HTTP).

Sites live in folders named after their host (``demo_site/www.harbour-times.example/...``). The
server picks the folder from the request: a proxy-style request line (``GET http://host/path``),
or else the ``Host`` header. So the demo sources keep their real-looking URLs, and the crawler
reaches them with nothing demo-specific in it: the demo points the standard ``http_proxy``
variable at this server.

Files are served with a Content-Type and charset (by extension, or from ``headers.json`` for
feeds and the Shift_JIS page), an ETag and Last-Modified, and answer conditional requests with
304. ``/path`` also finds ``path.html`` and ``path/index.html``. A ``headers.json`` entry may
also give a ``Status`` (say 503) that the path always answers, file or not: a failing page for
tests. Every request is recorded (``requests``, and one JSON line per request in
``access_log`` when given).
"""
from __future__ import annotations

import hashlib
import json
import logging
import posixpath
import threading
import time
from dataclasses import asdict, dataclass
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

DEMO_SITE = Path(__file__).resolve().parent / "demo_site"
HEADERS_FILE = "headers.json"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".css": "text/css; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class Hit:
    """One request the server answered."""

    at: float
    method: str
    host: str
    path: str  # path and query as requested
    status: int
    user_agent: str
    proxied: bool  # the request line carried an absolute URL (the client used us as a proxy)


@dataclass(frozen=True, slots=True)
class _File:
    body: bytes
    content_type: str
    etag: str
    mtime: int


class DemoServer:
    """``with DemoServer() as server:`` serves ``root`` on 127.0.0.1 (a free port unless given)."""

    def __init__(self, root: str | Path = DEMO_SITE, *, host: str = "127.0.0.1", port: int = 0,
                 access_log: str | Path | None = None) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(f"demo site folder not found: {self.root}")
        self.access_log = Path(access_log) if access_log else None
        self.requests: list[Hit] = []
        self._headers = _read_headers(self.root / HEADERS_FILE)
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The server's own address: use it as ``http_proxy`` to reach the demo hosts."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def hosts(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def start(self) -> "DemoServer":
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, name="demo-server",
                                            daemon=True)
            self._thread.start()
            log.info("demo server on %s serving %s", self.url, ", ".join(self.hosts))
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        self._httpd.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> "DemoServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- used by the handler ------------------------------------------------------------------
    def lookup(self, host: str, path: str) -> _File | None:
        site = self.root / host
        if not host or "/" in host or host.startswith(".") or not site.is_dir():
            return None
        clean = posixpath.normpath("/" + unquote(path))
        if clean.startswith("/.."):
            return None
        rel = clean.lstrip("/")
        candidates = [rel + "/index.html" if rel else "index.html"]
        if rel and not path.endswith("/"):
            candidates = [rel, rel + ".html", rel + "/index.html"]
        for name in candidates:
            file = (site / name).resolve()
            if file.is_file() and file.is_relative_to(site):
                body = file.read_bytes()
                key = f"{host}/{file.relative_to(site).as_posix()}"
                ctype = self._headers.get(key, {}).get("Content-Type") or CONTENT_TYPES.get(
                    file.suffix.lower(), "application/octet-stream")
                etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
                return _File(body, ctype, etag, int(file.stat().st_mtime))
        return None

    def forced_status(self, host: str, path: str) -> int | None:
        """The status ``headers.json`` makes this path answer whatever the files say."""
        entry = self._headers.get(f"{host}/{unquote(path).lstrip('/')}", {})
        status = entry.get("Status")
        return int(status) if status is not None else None

    def record(self, hit: Hit) -> None:
        with self._lock:
            self.requests.append(hit)
            if self.access_log is not None:
                self.access_log.parent.mkdir(parents=True, exist_ok=True)
                with self.access_log.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(asdict(hit), ensure_ascii=False) + "\n")


def _read_headers(path: Path) -> dict[str, dict[str, str]]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected an object of 'host/path': {{header: value}}")
    return data


def read_access_log(path: str | Path) -> list[Hit]:
    """The requests a demo server wrote to its access log (for tests and for the curious)."""
    path = Path(path)
    if not path.exists():
        return []
    return [Hit(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def _not_modified(headers: Any, file: _File) -> bool:
    # If-None-Match wins over If-Modified-Since when both are sent (RFC 9110 13.2.2)
    tags = headers.get("If-None-Match")
    if tags is not None:
        return tags.strip() == "*" or file.etag in [t.strip() for t in tags.split(",")]
    since = headers.get("If-Modified-Since")
    if since:
        try:
            return file.mtime <= int(parsedate_to_datetime(since).timestamp())
        except (TypeError, ValueError):
            return False
    return False


def _handler_for(server: DemoServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "newsmon-demo/1"

        def do_GET(self) -> None:
            self._answer(with_body=True)

        def do_HEAD(self) -> None:
            self._answer(with_body=False)

        def _answer(self, *, with_body: bool) -> None:
            proxied = self.path.startswith(("http://", "https://"))
            if proxied:
                parts = urlsplit(self.path)
                host = (parts.hostname or "").lower()
                path = parts.path or "/"
                shown = path + (f"?{parts.query}" if parts.query else "")
            else:
                host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
                shown = self.path
                path = urlsplit(self.path).path or "/"
            forced = server.forced_status(host, path)
            file = server.lookup(host, path) if forced is None else None
            if file is None:
                status = HTTPStatus(forced or HTTPStatus.NOT_FOUND)
            elif _not_modified(self.headers, file):
                status = HTTPStatus.NOT_MODIFIED
            else:
                status = HTTPStatus.OK
            # recorded before answering: whoever got the answer can rely on the record
            server.record(Hit(at=time.time(), method=self.command, host=host, path=shown,
                              status=int(status), user_agent=self.headers.get("User-Agent", ""),
                              proxied=proxied))
            self.send_response(status)
            if file is None:
                body = f"{status.value} {status.phrase}\n".encode()
                self.send_header("Content-Type", "text/plain; charset=utf-8")
            else:
                self.send_header("ETag", file.etag)
                self.send_header("Last-Modified", formatdate(file.mtime, usegmt=True))
                self.send_header("Cache-Control", "max-age=60")
                body = file.body if status == HTTPStatus.OK else b""
                if status == HTTPStatus.OK:
                    self.send_header("Content-Type", file.content_type)
            if status != HTTPStatus.NOT_MODIFIED:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body and body:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            log.debug("demo server: " + format, *args)

    return Handler


__all__ = ["DemoServer", "Hit", "DEMO_SITE", "read_access_log"]
