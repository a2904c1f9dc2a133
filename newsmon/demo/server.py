"""The local web server newsmon's demo and its tests share: real HTTP on 127.0.0.1.

``LocalServer(resolve)`` answers each request with the ``Reply`` that ``resolve(host, path,
query)`` gives (None: 404). Every 200 carries an ETag and a Last-Modified and conditional
requests get 304; a reply may also be slow (``delay``), streamed (``stream``) or any status with
any headers. Every request is recorded as a ``Hit`` (``requests``, and one JSON line per request
in ``access_log`` when given).

``DemoServer(root)`` serves a folder of sites named after their host
(``site/www.harbour-times.example/...``). The host comes from a proxy-style request line
(``GET http://host/path``), or else the ``Host`` header; so the demo sources keep their
real-looking URLs, and the crawler reaches them with nothing demo-specific in it: the demo
points the standard ``http_proxy`` variable at this server. Files are served with a
Content-Type and charset (by extension, or from ``headers.json`` for feeds and the Shift_JIS
page). ``/path`` also finds ``path.html`` and ``path/index.html``. A ``headers.json`` entry may
also give a ``Status`` (say 503) that the path always answers, file or not: a failing page.
"""
from __future__ import annotations

import hashlib
import json
import logging
import posixpath
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

DEMO_SITE = Path(__file__).resolve().parent / "site"
HEADERS_FILE = "headers.json"
PHASE2_SUFFIX = "_phase2"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".css": "text/css; charset=utf-8",
}

__all__ = ["DEMO_SITE", "DemoServer", "Hit", "LocalServer", "Reply", "read_access_log"]


@dataclass
class Reply:
    """What the server answers for one path."""

    body: bytes = b""
    content_type: str | None = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    modified: float = 0.0  # Last-Modified, epoch seconds
    conditional: bool = True  # ETag / Last-Modified on a 200, and 304 when they match
    delay: float = 0.0  # seconds before answering
    # the body produced on demand, (size, chunks): a large page is not kept in memory
    stream: Callable[[], tuple[int, Iterable[bytes]]] | None = None

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:20] + '"'


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
    if_none_match: str | None = None
    if_modified_since: str | None = None


Resolver = Callable[[str, str, str], "Reply | None"]


class LocalServer:
    """``with LocalServer(resolve) as server:`` serves on ``host`` (a free port unless given)."""

    def __init__(self, resolve: Resolver, *, host: str = "127.0.0.1", port: int = 0,
                 access_log: str | Path | None = None) -> None:
        self.resolve = resolve
        self.access_log = Path(access_log) if access_log else None
        self.requests: list[Hit] = []
        self._lock = threading.Lock()
        self._httpd = _HTTPServer((host, port), _handler_for(self))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The server's own address (as ``http_proxy``, it reaches a ``DemoServer``'s hosts)."""
        host = self._httpd.server_address[0]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{self.port}"

    base = url

    def paths(self, status: int | None = None) -> list[str]:
        with self._lock:
            return [h.path for h in self.requests if status is None or h.status == status]

    def start(self) -> LocalServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, name="local-server",
                                            daemon=True)
            self._thread.start()
            log.info("local server on %s", self.url)
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

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, hit: Hit) -> None:
        with self._lock:
            self.requests.append(hit)
            if self.access_log is not None:
                self.access_log.parent.mkdir(parents=True, exist_ok=True)
                with self.access_log.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(asdict(hit), ensure_ascii=False) + "\n")


class DemoServer(LocalServer):
    """``with DemoServer() as server:`` serves the sites under ``root`` (the bundled demo sites
    unless given).

    The sites come in two phases, so the demo can show newsmon noticing news as it appears:
    phase 1 serves ``root``; phase 2 (``server.set_phase(2)``) first looks in
    ``<root>_phase2/``, which holds the new articles and the feeds, sitemaps and section pages
    that list them. Files of the overlay count as modified when the phase began (conditional
    requests see the change)."""

    def __init__(self, root: str | Path = DEMO_SITE, *, host: str = "127.0.0.1", port: int = 0,
                 access_log: str | Path | None = None, phase: int = 1) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(f"demo site folder not found: {self.root}")
        self.overlay = self.root.with_name(self.root.name + PHASE2_SUFFIX)
        self.phase = 1
        self._phase_since = 0
        self.set_phase(phase)
        self._headers = _read_headers(self.root / HEADERS_FILE)
        super().__init__(self.lookup, host=host, port=port, access_log=access_log)

    def set_phase(self, phase: int) -> None:
        """Serve phase 1 (the base sites) or phase 2 (new articles on top)."""
        if phase not in (1, 2):
            raise ValueError(f"demo phase must be 1 or 2, not {phase!r}")
        if phase == 2 and not self.overlay.is_dir():
            raise FileNotFoundError(f"demo phase-2 folder not found: {self.overlay}")
        self.phase = phase
        self._phase_since = int(time.time()) if phase == 2 else 0

    @property
    def hosts(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def start(self) -> DemoServer:
        super().start()
        log.info("demo server on %s serving %s", self.url, ", ".join(self.hosts))
        return self

    def __enter__(self) -> DemoServer:
        return self.start()

    def lookup(self, host: str, path: str, query: str = "") -> Reply | None:
        forced = self._headers.get(f"{host}/{unquote(path).lstrip('/')}", {}).get("Status")
        if forced is not None:
            return Reply(content_type=None, status=int(forced), conditional=False)
        if not host or "/" in host or host.startswith(".") or not (self.root / host).is_dir():
            return None
        clean = posixpath.normpath("/" + unquote(path))
        if clean.startswith("/.."):
            return None
        rel = clean.lstrip("/")
        candidates = [rel + "/index.html" if rel else "index.html"]
        if rel and not path.endswith("/"):
            candidates = [rel, rel + ".html", rel + "/index.html"]
        sites = [self.overlay / host, self.root / host] if self.phase == 2 else [self.root / host]
        for site in sites:
            for name in candidates:
                file = (site / name).resolve()
                if file.is_file() and file.is_relative_to(site):
                    key = f"{host}/{file.relative_to(site).as_posix()}"
                    ctype = self._headers.get(key, {}).get("Content-Type") or CONTENT_TYPES.get(
                        file.suffix.lower(), "application/octet-stream")
                    modified = int(file.stat().st_mtime)
                    if site.parent == self.overlay:
                        modified = max(modified, self._phase_since)
                    return Reply(file.read_bytes(), ctype, modified=modified,
                                 headers={"Cache-Control": "max-age=60"})
        return None


def _read_headers(path: Path) -> dict[str, dict[str, str]]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected an object of 'host/path': {{header: value}}")
    return data


def read_access_log(path: str | Path) -> list[Hit]:
    """The requests a server wrote to its access log (for tests and for the curious)."""
    path = Path(path)
    if not path.exists():
        return []
    return [Hit(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def _not_modified(headers: Any, reply: Reply) -> bool:
    # If-None-Match wins over If-Modified-Since when both are sent (RFC 9110 13.2.2)
    tags = headers.get("If-None-Match")
    if tags is not None:
        return tags.strip() == "*" or reply.etag in [t.strip() for t in tags.split(",")]
    since = headers.get("If-Modified-Since")
    if since:
        try:
            return int(reply.modified) <= int(parsedate_to_datetime(since).timestamp())
        except (TypeError, ValueError):
            return False
    return False


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket],
                     client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return  # the client hung up (a timeout, or a page too large for it): expected
        super().handle_error(request, client_address)


def _handler_for(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "newsmon-local/1"

        def do_GET(self) -> None:  # noqa: N802 (http.server naming)
            self._answer(with_body=True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(with_body=False)

        def _answer(self, *, with_body: bool) -> None:
            proxied = self.path.startswith(("http://", "https://"))
            parts = urlsplit(self.path)
            if proxied:
                host = (parts.hostname or "").lower()
            else:
                host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
            path = parts.path or "/"
            shown = path + (f"?{parts.query}" if parts.query else "")
            reply = server.resolve(host, path, parts.query)
            if reply is not None and reply.delay:
                time.sleep(reply.delay)
            if reply is None:
                status = HTTPStatus.NOT_FOUND
            elif reply.status == 200 and reply.conditional and reply.stream is None \
                    and _not_modified(self.headers, reply):
                status = HTTPStatus.NOT_MODIFIED
            else:
                status = HTTPStatus(reply.status)
            # recorded before answering: whoever got the answer can rely on the record
            server.record(Hit(at=time.time(), method=self.command, host=host, path=shown,
                              status=int(status), user_agent=self.headers.get("User-Agent", ""),
                              proxied=proxied, if_none_match=self.headers.get("If-None-Match"),
                              if_modified_since=self.headers.get("If-Modified-Since")))
            self.send_response(status)
            if reply is None or (reply.content_type is None and not reply.body and status != 304):
                reply = Reply(f"{status.value} {status.phrase}\n".encode(),
                              "text/plain; charset=utf-8", int(status),
                              reply.headers if reply else {}, conditional=False)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.conditional and reply.status == 200 and reply.stream is None:
                self.send_header("ETag", reply.etag)
                self.send_header("Last-Modified", formatdate(reply.modified, usegmt=True))
            if status == HTTPStatus.NOT_MODIFIED:
                self.end_headers()
                return
            if reply.content_type:
                self.send_header("Content-Type", reply.content_type)
            size, chunks = reply.stream() if reply.stream else (len(reply.body), (reply.body,))
            self.send_header("Content-Length", str(size))
            self.end_headers()
            if not with_body:
                return
            try:
                for chunk in chunks:
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client hung up, as a crawler should on a page this large

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            log.debug("local server: " + format, *args)

    return Handler
