"""Where `newsmon serve` listens: the default address, its URL, and the bound socket. Light on
purpose (no web stack), since `newsmon demo` prints the page's URL too."""
from __future__ import annotations

import ipaddress
import socket

from newsmon.index.core.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8750


def page_url(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """Bind here, not in uvicorn, so that a taken port is a usage error with a message and
    port 0 tells us which port it got."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host}: {exc.strerror}") from None
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"--host {host} --port {port}: cannot listen there: "
                          f"{exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "is_loopback", "listen", "page_url"]
