"""The held-out sites, served by ``webserver.serve`` over real HTTP, each on its own loopback
address so that every source has its own host as on the web. Pages are committed with the
placeholder ``__BASE__`` for their site's origin.

Two sets, each a folder with ``sites.json``, ``labels.jsonl`` and ``site/`` built by its
``build.py``: ``HELDOUT`` (issue 9, tests/data/heldout, 127.0.0.11-14) and ``HELDOUT2``
(issue 17, tests/data/heldout2, 127.0.0.21-26). Every function takes the set's folder and
defaults to the first set::

    servers = start_heldout_sites(HELDOUT2)       # {site key: LocalServer}
    yaml_text = sources_yaml(servers, HELDOUT2)
    truth = {servers[r["source"]].base + r["path"]: r for r in labels(HELDOUT2)}
"""
from __future__ import annotations

import json
from pathlib import Path

from newsmon.demo.server import LocalServer, Reply
from tests.helpers.webserver import NewsSite, Route, serve

DATA = Path(__file__).resolve().parents[1] / "data"
HELDOUT = DATA / "heldout"
HELDOUT2 = DATA / "heldout2"
# which links of each site of the first set are articles, as a user would write it in
# config/sources.yaml (the second set keeps them in sites.json as "allow")
ARTICLE_PATTERNS = {
    "kaigan": r"/\d{8}/[a-z]+/[a-z0-9-]+\.html$",
    "harbour": r"/[a-z]+/\d{4}/\d{2}/\d{2}/[a-z0-9-]+/$",
    "lowland": r"/\d{4}/\d{2}/\d{2}/[a-z0-9-]+\.html$",
    "hokuriku": r"/news/\d{8}/k\d+\.html$",
}
# charset of sites.json -> the name a Content-Type header gives
HEADER_CHARSETS = {"shift_jis": "Shift_JIS", "euc-jp": "EUC-JP", "utf-8": "utf-8",
                   "windows-1252": "windows-1252"}


def sites(folder: Path = HELDOUT) -> dict[str, dict]:
    return json.loads((folder / "sites.json").read_text(encoding="utf-8"))


def labels(folder: Path = HELDOUT) -> list[dict]:
    with (folder / "labels.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def article_pattern(key: str, info: dict) -> str:
    return info.get("allow") or ARTICLE_PATTERNS[key]


def content_type(path: Path, charset: str) -> str:
    header = HEADER_CHARSETS.get(charset, charset)
    if path.suffix == ".html":
        return f"text/html; charset={header}"
    if path.name == "robots.txt":
        return "text/plain; charset=utf-8"
    if path.suffix == ".rdf":
        return f"application/rdf+xml; charset={header}"
    if "sitemap" in path.name:
        return f"application/xml; charset={header}"
    kind = "atom" if path.name.startswith("atom") else "rss"
    return f"application/{kind}+xml; charset={header}"


def site_routes(key: str, origin: str, folder: Path = HELDOUT) -> dict[str, Reply]:
    """URL path → route for every file of one site, ``__BASE__`` replaced by ``origin``."""
    info = sites(folder)[key]
    root = folder / "site" / key
    routes: dict[str, Reply] = {}
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        body = file.read_bytes().replace(b"__BASE__", origin.encode("ascii"))
        route = Route(body=body, content_type=content_type(file, info["charset"]))
        path = "/" + rel
        if rel.endswith("index.html"):
            path = path[: -len("index.html")]
        routes[path] = route
    return routes


def start_heldout_sites(folder: Path = HELDOUT) -> dict[str, LocalServer]:
    """One server per site, on its own loopback address; ``.stop()`` each when done."""
    servers: dict[str, LocalServer] = {}
    try:
        for key, info in sites(folder).items():
            site = NewsSite()
            srv = serve(site, host=info["host"])
            servers[key] = srv
            site.routes.update(site_routes(key, srv.base, folder))
    except BaseException:
        for srv in servers.values():
            srv.stop()
        raise
    return servers


def sources_yaml(servers: dict[str, LocalServer], folder: Path = HELDOUT) -> str:
    out = ["sources:"]
    for key, info in sites(folder).items():
        base = servers[key].base
        out += [f"  - id: {key}", f"    name: {json.dumps(info['name'], ensure_ascii=False)}",
                f"    lang: {info['lang']}", f"    tz: {info['tz']}"]
        if "feed" in info:
            out.append(f"    feeds: [\"{base}/{info['feed']}\"]")
        if "sitemap" in info:
            out.append(f"    sitemaps: [\"{base}/{info['sitemap']}\"]")
        out += [f"    sections: [\"{base}/\"]", f"    allow: ['{article_pattern(key, info)}']"]
    return "\n".join(out) + "\n"
