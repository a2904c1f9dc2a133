"""The held-out sites of issue 9 (tests/data/heldout), served by ``webserver.serve`` over real
HTTP, each on its own loopback address (127.0.0.11–14), so that every source has its own host
as on the web. Pages are committed with the placeholder ``__BASE__`` for their site's origin."""
from __future__ import annotations

import json
from pathlib import Path

from newsmon.demo.server import LocalServer, Reply
from tests.helpers.webserver import NewsSite, Route, serve

HELDOUT = Path(__file__).resolve().parents[1] / "data" / "heldout"
FEED_TYPES = {".xml": "application/{kind}+xml", ".rdf": "application/rdf+xml"}
# which links of each site are articles, as a user would write it in config/sources.yaml
ARTICLE_PATTERNS = {
    "kaigan": r"/\d{8}/[a-z]+/[a-z0-9-]+\.html$",
    "harbour": r"/[a-z]+/\d{4}/\d{2}/\d{2}/[a-z0-9-]+/$",
    "lowland": r"/\d{4}/\d{2}/\d{2}/[a-z0-9-]+\.html$",
    "hokuriku": r"/news/\d{8}/k\d+\.html$",
}


def sites() -> dict[str, dict]:
    return json.loads((HELDOUT / "sites.json").read_text(encoding="utf-8"))


def labels() -> list[dict]:
    with (HELDOUT / "labels.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _content_type(path: Path, charset: str) -> str:
    header = "Shift_JIS" if charset == "shift_jis" else charset
    if path.suffix == ".html":
        return f"text/html; charset={header}"
    if path.name == "robots.txt":
        return "text/plain; charset=utf-8"
    if path.suffix == ".rdf":
        return f"application/rdf+xml; charset={header}"
    kind = "atom" if path.name.startswith("atom") else "rss"
    return f"application/{kind}+xml; charset={header}"


def site_routes(key: str, origin: str) -> dict[str, Reply]:
    """URL path → route for every file of one site, ``__BASE__`` replaced by ``origin``."""
    info = sites()[key]
    root = HELDOUT / "site" / key
    routes: dict[str, Reply] = {}
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        body = file.read_bytes().replace(b"__BASE__", origin.encode("ascii"))
        route = Route(body=body, content_type=_content_type(file, info["charset"]))
        path = "/" + rel
        if rel.endswith("index.html"):
            path = path[: -len("index.html")]
        routes[path] = route
    return routes


def start_heldout_sites() -> dict[str, LocalServer]:
    """One server per site, on its own loopback address; ``.stop()`` each when done."""
    servers: dict[str, LocalServer] = {}
    for key, info in sites().items():
        site = NewsSite()
        srv = serve(site, host=info["host"])
        site.routes.update(site_routes(key, srv.base))
        servers[key] = srv
    return servers


def sources_yaml(servers: dict[str, LocalServer]) -> str:
    out = ["sources:"]
    for key, info in sites().items():
        base = servers[key].base
        out += [f"  - id: {key}", f"    name: {json.dumps(info['name'], ensure_ascii=False)}",
                f"    lang: {info['lang']}", f"    tz: {info['tz']}",
                f"    feeds: [\"{base}/{info['feed']}\"]", f"    sections: [\"{base}/\"]",
                f"    allow: ['{ARTICLE_PATTERNS[key]}']"]
    return "\n".join(out) + "\n"
