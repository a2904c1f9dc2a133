#!/usr/bin/env python3
"""Build the held-out sites (issue 9) from articles.yaml: static pages, feeds and labels.

    python3 tests/data/heldout/build.py        # rewrites site/ and labels.jsonl

Four fictional news sites, each in its own template style and with its own trap:

- ``kaigan`` (海岸日報, ja, UTF-8, RSS 2.0): an advertisement block in the body of every
  article, a paragraph "広告" and one of three promotional sentences between paragraphs; the
  byline is a ``文／NAME`` line under the date; ``<time datetime>`` gives the instant.
- ``harbour`` (Harbour Digest, en, UTF-8, Atom): ``<title>``, og:title and the JSON-LD
  headline are prefixed with "Harbour Digest｜"; the ``<h1>`` is clean; an "Advertisement"
  paragraph inside every body.
- ``lowland`` (The Lowland Post, en, UTF-8, RSS 2.0): pages give the date only
  (``dcterms.date``, "8 December 2026"); the RSS ``pubDate`` gives the time.
- ``hokuriku`` (北陸時事新聞, ja, Shift_JIS pages and RSS 1.0): dates printed as text,
  bylines in newspaper forms: a ``【PLACE＝NAME】`` dateline opening the first paragraph (the
  description repeats it), ``記者　NAME`` above the body, ``（NAME）`` closing the body.

Pages hold the placeholder ``__BASE__`` where an absolute URL of their own site goes; the
test server replaces it with ``http://HOST:PORT``. Only the standard library and PyYAML.
"""
from __future__ import annotations

import html
import json
import shutil
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SITE_DIR = HERE / "site"
BASE = "__BASE__"

PROMOS = (
    "年末年始のご旅行は海岸トラベルで。今なら早割で最大３０％オフ。",
    "海岸日報デジタルなら、月額９８０円で全ての記事が読み放題です。",
    "冬のギフトは産地直送の海岸マルシェで。送料無料キャンペーン実施中。",
)
KAIGAN_AD_LABEL = "広告"
HARBOUR_AD = "Advertisement"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _paths(art: dict) -> tuple[str, str]:
    """(URL path, file path under the site folder)."""
    slug = art["slug"]
    if art["site"] == "harbour":
        return f"/{slug}/", f"{slug}/index.html"
    return f"/{slug}.html", f"{slug}.html"


def _ja_date(dt: datetime, with_time: bool = True) -> str:
    out = f"{dt.year}年{dt.month}月{dt.day}日"
    return out + (f" {dt.hour}時{dt.minute:02d}分" if with_time else "")


def _related(site_articles: list[dict], art: dict) -> str:
    others = [a for a in site_articles if a["id"] != art["id"]][:3]
    return "".join(f'<li><a href="{_paths(a)[0]}">{_e(a["title"])}</a></li>' for a in others)


def kaigan_page(art: dict, site: dict, siblings: list[dict], n: int) -> tuple[str, list[str]]:
    dt = datetime.fromisoformat(art["published"])
    paras = [f"<p>{_e(p)}</p>" for p in art["paragraphs"]]
    promo = PROMOS[n % len(PROMOS)]
    ad = [KAIGAN_AD_LABEL, promo]
    paras.insert(1, f'<p class="pr">{KAIGAN_AD_LABEL}</p>\n<p>{_e(promo)}</p>')
    page = f"""<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<title>{_e(art["title"])}｜{_e(site["name"])}</title>
<meta property="og:title" content="{_e(art["title"])}">
<meta property="og:site_name" content="{_e(site["name"])}">
<meta property="og:type" content="article">
<meta name="description" content="{_e(art["paragraphs"][0][:80])}">
<link rel="canonical" href="{BASE}{_paths(art)[0]}">
</head>
<body>
<header><a href="/">{_e(site["name"])}</a>
<nav><a href="/">トップ</a> <a href="/">政治</a> <a href="/">経済</a> <a href="/">社会</a></nav></header>
<main>
<article>
<h1>{_e(art["title"])}</h1>
<div class="meta"><time datetime="{dt.isoformat()}">{_ja_date(dt)}</time></div>
<p class="byline">文／{_e(art["author"])}</p>
<div class="article-body">
{chr(10).join(paras)}
</div>
</article>
<aside><h2>関連記事</h2><ul>{_related(siblings, art)}</ul></aside>
</main>
<footer><p>© 海岸日報社　無断転載を禁じます</p><a href="/">利用規約</a></footer>
</body>
</html>
"""
    return page, ad


def harbour_page(art: dict, site: dict, siblings: list[dict], n: int) -> tuple[str, list[str]]:
    full = f'{site["name"]}｜{art["title"]}'
    paras = [f"<p>{_e(p)}</p>" for p in art["paragraphs"]]
    paras.insert(2, f'<p class="ad-slot">{HARBOUR_AD}</p>')
    ld = {
        "@context": "https://schema.org", "@type": "NewsArticle", "headline": full,
        "datePublished": art["published"], "author": {"@type": "Person", "name": art["author"]},
        "publisher": {"@type": "Organization", "name": site["name"]},
    }
    dt = datetime.fromisoformat(art["published"])
    page = f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<title>{_e(full)}</title>
<meta property="og:title" content="{_e(full)}">
<meta property="og:site_name" content="{_e(site["name"])}">
<meta name="author" content="{_e(art["author"])}">
<link rel="canonical" href="{BASE}{_paths(art)[0]}">
<script type="application/ld+json">{json.dumps(ld, ensure_ascii=False)}</script>
</head>
<body>
<div class="masthead"><a href="/">Harbour Digest</a> <a href="/">News</a> <a href="/">Business</a>
<a href="/">Culture</a> <a href="/">Sport</a></div>
<div class="story">
<h1 class="story-title">{_e(art["title"])}</h1>
<div class="story-meta">By <span class="author">{_e(art["author"])}</span> ·
<span class="date">{dt.day} {dt.strftime("%B %Y, %H:%M")}</span></div>
<div class="story-text">
{chr(10).join(paras)}
</div>
</div>
<div class="more"><h3>More from Harbour Digest</h3><ul>{_related(siblings, art)}</ul></div>
<div class="footer">Harbour Digest Ltd. Registered in England. <a href="/">Contact</a></div>
</body>
</html>
"""
    return page, [HARBOUR_AD]


def lowland_page(art: dict, site: dict, siblings: list[dict], n: int) -> tuple[str, list[str]]:
    dt = datetime.fromisoformat(art["published"])
    paras = "\n".join(f"<p>{_e(p)}</p>" for p in art["paragraphs"])
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{_e(art["title"])} - {_e(site["name"])}</title>
<meta name="dcterms.date" content="{dt.date().isoformat()}">
<meta name="dcterms.title" content="{_e(art["title"])}">
<meta name="description" content="{_e(art["paragraphs"][0][:120])}">
<link rel="canonical" href="{BASE}{_paths(art)[0]}">
</head>
<body>
<div id="top"><a href="/">The Lowland Post</a> | <a href="/">Home</a> | <a href="/">Politics</a></div>
<div id="content">
<h1>{_e(art["title"])}</h1>
<p class="dateline">{dt.day} {dt.strftime("%B %Y")}</p>
<p class="byline">By {_e(art["author"])}</p>
<div class="entry">
{paras}
</div>
<div class="related"><h4>Read next</h4><ul>{_related(siblings, art)}</ul></div>
</div>
<div id="footer">© The Lowland Post. All rights reserved.</div>
</body>
</html>
"""
    return page, []


def hokuriku_page(art: dict, site: dict, siblings: list[dict], n: int) -> tuple[str, list[str]]:
    dt = datetime.fromisoformat(art["published"])
    paras = list(art["paragraphs"])
    style = art.get("byline", "none")
    above = ""
    if style == "dateline":
        paras[0] = f'【{art["dateline"]}＝{art["author"]}】{paras[0]}'
    elif style == "kisha":
        above = f'<p class="kisha">記者　{_e(art["author"])}</p>\n'
    elif style == "end":
        paras.append(f'（{art["author"]}）')
    body = "\n".join(f"<p>{_e(p)}</p>" for p in paras)
    page = f"""<!DOCTYPE html>
<html lang="ja">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">
<title>{_e(art["title"])}：{_e(site["name"])}</title>
<meta name="description" content="{_e(paras[0][:70])}">
<link rel="canonical" href="{BASE}{_paths(art)[0]}">
</head>
<body>
<table class="head"><tr><td><a href="/">{_e(site["name"])}</a></td>
<td><a href="/">ニュース</a>｜<a href="/">地域</a>｜<a href="/">スポーツ</a></td></tr></table>
<div class="kiji">
<h1>{_e(art["title"])}</h1>
<p class="hizuke">{_ja_date(dt)}</p>
{above}<div class="honbun">
{body}
</div>
</div>
<div class="kanren"><p>関連ニュース</p><ul>{_related(siblings, art)}</ul></div>
<p class="copy">Copyright (C) 北陸時事新聞社 All rights reserved.</p>
</body>
</html>
"""
    return page, []


RENDER = {"kaigan": kaigan_page, "harbour": harbour_page, "lowland": lowland_page,
          "hokuriku": hokuriku_page}


def _index(site: dict, arts: list[dict]) -> str:
    items = "".join(f'<li><a href="{_paths(a)[0]}">{_e(a["title"])}</a></li>\n' for a in arts)
    charset = "Shift_JIS" if site["charset"] == "shift_jis" else "utf-8"
    return (f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>{_e(site["name"])}'
            f'</title></head><body><h1>{_e(site["name"])}</h1><ul class="latest">\n{items}'
            f'</ul></body></html>\n')


def _rss(site: dict, arts: list[dict]) -> str:
    items = []
    for a in arts:
        dt = datetime.fromisoformat(a["published"])
        items.append(f"<item><title>{_e(a['title'])}</title><link>{BASE}{_paths(a)[0]}</link>"
                     f"<guid>{BASE}{_paths(a)[0]}</guid>"
                     f"<pubDate>{format_datetime(dt)}</pubDate></item>")
    return ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>{_e(site['name'])}</title><link>{BASE}/</link>"
            f"<description>{_e(site['name'])}</description>\n" + "\n".join(items)
            + "\n</channel></rss>\n")


def _atom(site: dict, arts: list[dict]) -> str:
    entries = []
    for a in arts:
        url = f"{BASE}{_paths(a)[0]}"
        entries.append(f'<entry><title>{_e(a["title"])}</title><link href="{url}"/>'
                       f"<id>{url}</id><published>{a['published']}</published>"
                       f"<updated>{a['published']}</updated></entry>")
    return ('<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{_e(site['name'])}</title><id>{BASE}/</id>"
            f"<updated>{max(a['published'] for a in arts)}</updated>\n" + "\n".join(entries)
            + "\n</feed>\n")


def _rdf(site: dict, arts: list[dict]) -> str:
    seq = "".join(f'<rdf:li rdf:resource="{BASE}{_paths(a)[0]}"/>' for a in arts)
    items = "\n".join(
        f'<item rdf:about="{BASE}{_paths(a)[0]}"><title>{_e(a["title"])}</title>'
        f"<link>{BASE}{_paths(a)[0]}</link><dc:date>{a['published']}</dc:date></item>"
        for a in arts)
    return ('<?xml version="1.0" encoding="Shift_JIS"?>\n'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f'<channel rdf:about="{BASE}/rss.rdf"><title>{_e(site["name"])}</title>'
            f"<link>{BASE}/</link><description>{_e(site['name'])}</description>"
            f"<items><rdf:Seq>{seq}</rdf:Seq></items></channel>\n{items}\n</rdf:RDF>\n")


FEEDS = {"kaigan": ("rss.xml", _rss), "harbour": ("atom.xml", _atom),
         "lowland": ("rss.xml", _rss), "hokuriku": ("rss.rdf", _rdf)}


def _sentences(text: str, lang: str) -> list[str]:
    if lang == "ja":
        return [s + "。" for s in text.split("。") if s.strip()]
    out, cur = [], ""
    for word in text.split(" "):
        cur = f"{cur} {word}".strip()
        if word.endswith((".", "?", "!")):
            out.append(cur)
            cur = ""
    return out + ([cur] if cur else [])


def _utc(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(timezone.utc).isoformat()


def build() -> dict[str, int]:
    data = yaml.safe_load((HERE / "articles.yaml").read_text(encoding="utf-8"))
    sites, arts = data["sites"], data["articles"]
    if SITE_DIR.exists():
        shutil.rmtree(SITE_DIR)
    labels = []
    counts: dict[str, int] = {}
    for key, site in sites.items():
        mine = sorted((a for a in arts if a["site"] == key), key=lambda a: a["published"],
                      reverse=True)
        root = SITE_DIR / key
        codec = "cp932" if site["charset"] == "shift_jis" else "utf-8"
        for n, art in enumerate(sorted(mine, key=lambda a: a["id"])):
            page, boiler = RENDER[key](art, site, mine, n)
            url_path, file_path = _paths(art)
            out = root / file_path
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(page.encode(codec))  # strict: a character the codec lacks fails
            paragraphs = art["paragraphs"]
            labels.append({
                "id": art["id"], "source": key, "lang": site["lang"], "path": url_path,
                "title": art["title"], "authors": [art["author"]] if art["author"] else [],
                "dateline": art.get("dateline"), "published": _utc(art["published"]),
                "story": art["story"], "topics": sorted(art["topics"]), "pact": art["pact"],
                "key_sentences": [_sentences(paragraphs[0], site["lang"])[0],
                                  _sentences(paragraphs[-1], site["lang"])[-1]],
                "boilerplate": boiler, "text": "\n\n".join(paragraphs),
            })
        (root / "index.html").write_bytes(_index(site, mine).encode(codec))
        name, render = FEEDS[key]
        (root / name).write_bytes(render(site, mine).encode(codec))
        (root / "robots.txt").write_text("User-agent: *\nDisallow: /search\n", encoding="utf-8")
        counts[key] = len(mine)
    labels.sort(key=lambda r: r["id"])
    with (HERE / "labels.jsonl").open("w", encoding="utf-8") as fh:
        for rec in labels:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    (HERE / "sites.json").write_text(json.dumps(
        {k: {**v, "feed": FEEDS[k][0]} for k, v in sites.items()}, ensure_ascii=False,
        indent=1) + "\n", encoding="utf-8")
    return counts


if __name__ == "__main__":
    print(build())
