"""A real local news site for crawl tests: saved pages from the shared corpora behind generated
feeds, sitemaps and section pages, plus every trap a crawler meets in the wild.

``NewsSite`` describes the site (routes, ground truth); ``serve(site)`` runs it on the
``LocalServer`` the demo uses too (newsmon/demo/server.py), bound to 127.0.0.1 on a free port,
recording every request. ETag and Last-Modified are sent on every 200 and honoured with 304.

Layout of ``build_news_site`` (BASE = http://127.0.0.1:PORT):

    /robots.txt              Disallow: /private/   (+ Sitemap: /sitemap_index.xml)
    /rss.xml                 RSS 2.0: English articles (one as a utm_ tracking variant)
    /atom.xml                Atom: Japanese articles in UTF-8
    /rdf.xml                 RSS 1.0/RDF: the re-encoded Japanese pages and some traps
    /sitemap_index.xml       index → /sitemaps/articles.xml (urlset) and /sitemaps/news.xml
                             (Google News, with news:publication_date)
    /section/  /section/page/2/   section page with pagination; links to articles, traps,
                             a robots-disallowed article and an off-site article
    /en/<name>.html, /ja/<name>.html      corpus pages (UTF-8)
    /ja/sjis-*.html, /ja/eucjp-*.html     corpus pages re-encoded (see ``ENCODED``)
    /amp/en/<name>.html      AMP copy of the first English page (rel=canonical → the page)
    /trap/...                404, 500, slow, 15 MB, PDF, PDF bytes labelled text/html,
                             octet-stream, redirect loop, malformed HTML, empty 200
"""
from __future__ import annotations

import email.utils
import gzip
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from newsmon.demo.server import LocalServer, Reply

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CORPORA = SHARED / "corpora"
DEVSET = SHARED / "devset"

EN_PAGES = ("APNews_0", "FreeBeacon_1", "LATimes_4", "TheGuardian_0")  # fundus-evaluation
JA_PAGES = ("MainichiShimbun_2025_01_14", "ChunichiShimbun_2025_01_13",
            "SankeiShimbun_2025_01_21")  # fundus-parser-tests/jp, served as UTF-8
# fundus-parser-tests/jp pages re-encoded: (page, codec, Content-Type header, meta charset)
ENCODED = (
    ("TokyoShimbun_2025_01_13", "cp932", "text/html; charset=Shift_JIS", "Shift_JIS"),
    ("NikkanGeadai_2025_01_31", "cp932", "text/html", "Shift_JIS"),  # only <meta> says it
    ("AsahiShimbun_2025_01_13", "euc_jp", "text/html; charset=utf-8", "EUC-JP"),  # header lies
)
PAGE_TIME = datetime(2025, 1, 20, 9, 0, tzinfo=UTC)


def Route(body: bytes = b"", content_type: str | None = "text/html; charset=utf-8", *,  # noqa: N802
          modified: datetime = PAGE_TIME, **kwargs: Any) -> Reply:
    """One reply of the test site (Last-Modified ``PAGE_TIME`` unless given)."""
    return Reply(body, content_type, modified=modified.timestamp(), **kwargs)


@dataclass(frozen=True)
class Expected:
    """Ground truth for one article URL of the site."""

    url: str
    lang: str
    title: str
    body_start: str  # the first characters of the reference body text
    corpus_file: str


@dataclass
class NewsSite:
    routes: dict[str, Reply] = field(default_factory=dict)
    articles: dict[str, Expected] = field(default_factory=dict)  # by path
    traps: dict[str, str] = field(default_factory=dict)  # path → what it is
    phase: int = 1
    phase2_routes: dict[str, Reply] = field(default_factory=dict)

    def route(self, path: str) -> Reply | None:
        if self.phase >= 2 and path in self.phase2_routes:
            return self.phase2_routes[path]
        return self.routes.get(path)

    def resolve(self, host: str, path: str, query: str) -> Reply | None:
        """What the server answers (whatever the host: the site is the whole server)."""
        return (self.route(f"{path}?{query}") if query else None) or self.route(path)


def serve(site: NewsSite, host: str = "127.0.0.1") -> LocalServer:
    """Start ``site`` on a free port of ``host`` in a daemon thread; ``.stop()`` when done."""
    return LocalServer(site.resolve, host=host).start()


# -- building the site ------------------------------------------------------------------------------
def _gunzip(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())


def _ja_truth(name: str) -> dict:
    return json.loads((CORPORA / "fundus-parser-tests/truth/jp" / f"{name}.json")
                      .read_text(encoding="utf-8"))


_CANONICAL = re.compile(r"<link[^>]+rel=[\"']?canonical[\"']?[^>]*>", re.IGNORECASE)
_META_CHARSET = re.compile(
    r"<meta[^>]+charset\s*=\s*[\"']?[\w-]+[\"']?[^>]*>", re.IGNORECASE)


def _with_canonical(html: str, url: str) -> str:
    html = _CANONICAL.sub("", html)
    return re.sub(r"(<head[^>]*>)", rf'\1<link rel="canonical" href="{url}">', html, count=1,
                  flags=re.IGNORECASE)


def _with_charset(html: str, charset: str) -> str:
    html = _META_CHARSET.sub("", html)
    return re.sub(r"(<head[^>]*>)", rf'\1<meta charset="{charset}">', html, count=1,
                  flags=re.IGNORECASE)


def _rss(base: str, items: list[tuple[str, str, datetime]]) -> bytes:
    out = ['<?xml version="1.0" encoding="utf-8"?>', '<rss version="2.0"><channel>',
           "<title>Test News</title>", f"<link>{base}/</link>", "<description>t</description>"]
    for url, title, when in items:
        out.append(f"<item><title>{escape(title)}</title><link>{escape(url)}</link>"
                   f"<pubDate>{email.utils.format_datetime(when)}</pubDate></item>")
    out.append("</channel></rss>")
    return "\n".join(out).encode("utf-8")


def _atom(base: str, items: list[tuple[str, str, datetime]]) -> bytes:
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="ja"><title>テスト</title>',
           f"<id>{base}/atom.xml</id><updated>{PAGE_TIME.isoformat()}</updated>"]
    for url, title, when in items:
        out.append(f'<entry><title>{escape(title)}</title><link rel="alternate" '
                   f'href="{escape(url)}"/><id>{escape(url)}</id>'
                   f"<published>{when.isoformat()}</published></entry>")
    out.append("</feed>")
    return "\n".join(out).encode("utf-8")


def _rdf(base: str, urls: list[str]) -> bytes:
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
           'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">',
           f'<channel rdf:about="{base}/rdf.xml"><title>t</title><link>{base}/</link></channel>']
    for url in urls:
        out.append(f'<item rdf:about="{escape(url)}"><title>x</title><link>{escape(url)}</link>'
                   f"<dc:date>2025-01-19T10:00:00+09:00</dc:date></item>")
    out.append("</rdf:RDF>")
    return "\n".join(out).encode("utf-8")


def _urlset(urls: list[str], news: bool) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
           'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">']
    for url in urls:
        extra = ("<news:news><news:publication><news:name>T</news:name><news:language>ja"
                 "</news:language></news:publication><news:publication_date>"
                 "2025-01-18T08:00:00+09:00</news:publication_date><news:title>t</news:title>"
                 "</news:news>") if news else "<lastmod>2025-01-18</lastmod>"
        out.append(f"<url><loc>{escape(url)}</loc>{extra}</url>")
    out.append("</urlset>")
    return "\n".join(out).encode("utf-8")


def _section(links: list[str], next_page: str | None) -> bytes:
    items = "\n".join(f'<li><a href="{escape(u)}">story {i}</a></li>' for i, u in enumerate(links))
    nav = ('<a href="/">Home</a> <a href="/about/">About</a> '
           '<a href="https://twitter.example/share">Share</a>')
    pager = f'<a class="next" href="{next_page}">Next page</a>' if next_page else ""
    return (f"<!doctype html><html><head><meta charset=utf-8><title>Section</title></head>"
            f"<body><nav>{nav}</nav><ul>{items}</ul>{pager}</body></html>").encode()


def build_news_site(base: str, offsite_base: str) -> NewsSite:
    """The test site for a server at ``base``; ``offsite_base`` is another host that must
    never be requested."""
    site = NewsSite()
    routes = site.routes
    gt = json.loads((CORPORA / "fundus-evaluation/ground_truth.json").read_text(encoding="utf-8"))
    en_items: list[tuple[str, str, datetime]] = []
    for i, name in enumerate(EN_PAGES):
        path = f"/en/{name.lower()}.html"
        html = _gunzip(CORPORA / "fundus-evaluation/html" / f"{name}.html.gz")
        routes[path] = Route(html)
        # the longest paragraph: the first is sometimes a standfirst, short ones pull-quotes
        paragraphs = [p for p in gt[f"{name}.html.gz"]["body"] if not p.startswith("[")]
        middle = max(paragraphs, key=len)
        site.articles[path] = Expected(base + path, "en", "", middle[:40],
                                       f"fundus-evaluation/html/{name}.html.gz")
        en_items.append((base + path, name, PAGE_TIME - timedelta(hours=i)))
    # the feed links the first article with tracking parameters; the section links it clean
    first_en = en_items[0][0]
    rss_items = [(first_en + "?utm_source=rss&utm_medium=feed&fbclid=abc", "tracked",
                  en_items[0][2])] + en_items[1:]
    routes["/rss.xml"] = Route(_rss(base, rss_items), "application/rss+xml; charset=utf-8")

    amp_path = f"/amp{urlsplit(first_en).path}"
    amp_html = _with_canonical(
        _gunzip(CORPORA / "fundus-evaluation/html" / f"{EN_PAGES[0]}.html.gz").decode("utf-8"),
        first_en)
    routes[amp_path] = Route(amp_html.encode("utf-8"))
    site.traps[amp_path] = "amp copy of " + first_en

    ja_items: list[tuple[str, str, datetime]] = []
    for i, name in enumerate(JA_PAGES):
        path = f"/ja/{name.lower()}.html"
        truth = _ja_truth(name)
        routes[path] = Route(_gunzip(CORPORA / "fundus-parser-tests/jp" / f"{name}.html.gz"))
        site.articles[path] = Expected(base + path, "ja", truth["title"], truth["body_text"][:20],
                                       f"fundus-parser-tests/jp/{name}.html.gz")
        ja_items.append((base + path, truth["title"], PAGE_TIME - timedelta(hours=i)))
    routes["/atom.xml"] = Route(_atom(base, ja_items), "application/atom+xml; charset=utf-8")

    encoded_urls = []
    for name, codec, ctype, meta in ENCODED:
        label = "sjis" if codec == "cp932" else "eucjp"
        path = f"/ja/{label}-{name.lower()}.html"
        html = _gunzip(CORPORA / "fundus-parser-tests/jp" / f"{name}.html.gz").decode("utf-8")
        body = _with_charset(html, meta).encode(codec, errors="xmlcharrefreplace")
        routes[path] = Route(body, ctype)
        truth = _ja_truth(name)
        site.articles[path] = Expected(base + path, "ja", truth["title"], truth["body_text"][:20],
                                       f"fundus-parser-tests/jp/{name}.html.gz ({codec})")
        encoded_urls.append(base + path)

    # traps
    traps = {
        "/trap/missing.html": ("404", None),
        "/trap/error.html": ("500", Route(b"<h1>oops</h1>", status=500, conditional=False)),
        "/trap/slow.html": ("slower than the timeout",
                            Route(routes[f"/en/{EN_PAGES[1].lower()}.html"].body, delay=4.0)),
        "/trap/huge.html": ("15 MB page", Route(stream=_huge, conditional=False)),
        "/trap/report.pdf": ("PDF", Route(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
                                          "application/pdf")),
        "/trap/mislabelled.html": ("PDF bytes labelled text/html",
                                   Route(b"%PDF-1.7\n" + b"0" * 2000, "text/html")),
        "/trap/blob.html": ("octet-stream", Route(b"\x00\x01binary" * 100,
                                                  "application/octet-stream")),
        "/trap/loop-a.html": ("redirect loop", Route(status=302, conditional=False,
                                                     headers={"Location": "/trap/loop-b.html"})),
        "/trap/loop-b.html": ("redirect loop", Route(status=302, conditional=False,
                                                     headers={"Location": "/trap/loop-a.html"})),
        "/trap/malformed.html": ("malformed HTML", Route(
            b"<html><head><title>x</ti<body><<<>>><p>unclosed<div><table><tr><td>\x00\x01"
            b"</span></html></html>")),
        "/trap/empty.html": ("empty 200", Route(b"")),
    }
    for path, (what, route) in traps.items():
        site.traps[path] = what
        if route is not None:
            routes[path] = route
    trap_urls = [base + p for p in traps if p != "/trap/loop-b.html"]
    routes["/rdf.xml"] = Route(_rdf(base, encoded_urls + trap_urls[:4]),
                               "application/rdf+xml; charset=utf-8")

    # sitemaps: an index naming a plain urlset and a Google News sitemap
    routes["/sitemap_index.xml"] = Route((
        '<?xml version="1.0" encoding="UTF-8"?><sitemapindex '
        'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{base}/sitemaps/articles.xml</loc></sitemap>"
        f"<sitemap><loc>{base}/sitemaps/news.xml</loc></sitemap>"
        f"<sitemap><loc>{offsite_base}/sitemap.xml</loc></sitemap>"
        "</sitemapindex>").encode(), "application/xml")
    routes["/sitemaps/articles.xml"] = Route(
        _urlset([u for u, _, _ in en_items] + [base + amp_path] + trap_urls[4:], news=False),
        "application/xml")
    routes["/sitemaps/news.xml"] = Route(_urlset([u for u, _, _ in ja_items], news=True),
                                         "application/xml")

    site.traps["/private/leak.html"] = "robots.txt disallows /private/"
    routes["/private/leak.html"] = Route(routes[f"/en/{EN_PAGES[2].lower()}.html"].body)
    offsite_url = f"{offsite_base}/en/stolen.html"
    page1 = [first_en, base + "/private/leak.html", offsite_url, base + "/trap/missing.html",
             base + "/trap/loop-a.html"] + [u for u, _, _ in ja_items]
    page2 = [u for u, _, _ in en_items[1:]] + [base + "/trap/malformed.html"]
    routes["/section/"] = Route(_section(page1, "/section/page/2/"))
    routes["/section/page/2/"] = Route(_section(page2, None))
    routes["/robots.txt"] = Route(
        f"User-agent: *\nDisallow: /private/\n\nSitemap: {base}/sitemap_index.xml\n"
        .encode(), "text/plain; charset=utf-8")

    # phase 2: one new English article in the RSS feed; every other listing unchanged
    new_path = "/en/theguardian_0-followup.html"
    routes_new = Route(routes[f"/en/{EN_PAGES[3].lower()}.html"].body.replace(
        b"</head>", b"<meta name=x content=followup></head>", 1))
    site.phase2_routes[new_path] = routes_new
    site.phase2_routes["/rss.xml"] = Route(
        _rss(base, [(base + new_path, "new", PAGE_TIME + timedelta(hours=2))] + rss_items),
        "application/rss+xml; charset=utf-8", modified=PAGE_TIME + timedelta(hours=2))
    site.traps[new_path] = "phase 2 article"
    return site


def _huge() -> tuple[int, object]:
    size = 15 * 1024 * 1024
    chunk = b"<p>" + b"x" * 65530 + b"</p>"

    def chunks():
        sent = 0
        yield b"<html><body>"
        sent += 12
        while sent < size:
            part = chunk[: size - sent]
            sent += len(part)
            yield part

    return size, chunks()


def sources_yaml(base: str) -> str:
    """The source list for ``build_news_site``: one English and one Japanese source on the
    same host, between them using every discovery kind."""
    return f"""\
sources:
  - id: test-en
    name: Test English
    lang: en
    feeds: ["{base}/rss.xml"]
    sections: ["{base}/section/"]
    sitemaps: ["{base}/sitemap_index.xml"]
    allow: ['/en/', '/amp/', '/trap/', '/private/']
  - id: test-ja
    name: テスト
    lang: ja
    feeds: ["{base}/atom.xml", "{base}/rdf.xml"]
    robots_sitemaps: true
    allow: ['/ja/', '/trap/']
"""


def start_news_site() -> tuple[LocalServer, LocalServer, NewsSite]:
    """The test site on 127.0.0.1 and an off-site server on 127.0.0.2 (another host name, so
    only the crawler's domain rules keep it from being requested; its log must stay empty)."""
    offsite = serve(NewsSite(), host="127.0.0.2")
    site = NewsSite()
    srv = serve(site)
    built = build_news_site(srv.base, offsite.base)
    site.routes.update(built.routes)
    site.phase2_routes.update(built.phase2_routes)
    site.articles.update(built.articles)
    site.traps.update(built.traps)
    return srv, offsite, site
