#!/usr/bin/env python3
"""Build the second held-out set (issue 17) from articles.yaml: static pages, feeds and labels.

    python3 tests/data/heldout2/build.py       # rewrites site/, labels.jsonl and sites.json

Six fictional news sites, 49 articles, each site with traps of issue 17, served by
tests/helpers/heldout.py on 127.0.0.21-26 (``start_heldout_sites(HELDOUT2)``). Nobody tunes on these pages: they are
for reporting floors only (calibrate on ../shared/devset).

- ``sanriku`` (三陸民報, ja, EUC-JP, RSS 2.0): an old table layout. The article sits in the
  middle ``<td>`` of a layout table whose header, left navigation and right column (a
  promotion and a ranking) are nested layout tables. Headline ``<div class="midashi"><h2>``;
  date line ``掲載日：2026年12月9日 14時05分``; byline ``<div>文／NAME</div>``; then ``<p>``
  paragraphs. One article (sr-02) holds a genuine data table (``<caption>``, ``<th>`` row,
  four rows of figures) between two paragraphs: it must stay a table.
- ``chikuma`` (千曲新報, ja, Shift_JIS pages and RSS 1.0): another table layout
  (``<table width="780">``, ``<td class="honbun">``, ``<font>`` wrapping the paragraphs, the
  headline a ``<b><font size="4">`` with no heading element). The page prints the date only,
  ``2026年12月10日（木）``; the time is in the feed's ``dc:date`` (+09:00). Bylines as
  ``（記者　NAME）`` closing the body or a ``【PLACE＝NAME】`` dateline opening the first
  paragraph. Three articles are paragraphed with ``<br><br>`` instead of ``<p>``.
- ``meridian`` (The Meridian Courier, en, UTF-8, RSS 2.0): no ``<article>`` element; the
  ``<h1>``, a ``<p class="date">`` date line, a ``<p class="byline">By NAME</p>`` and the
  paragraphs are siblings in one ``<div class="article">``, followed by a share line.
- ``toyo`` (東洋時報, ja, UTF-8, Atom): no ``<article>``; the ``<h1>``, a date line
  ``2026.12.09 17:50`` and the paragraphs share ``<div id="main">``. Datelines
  ``【北京＝NAME】`` open the first paragraph, or ``（NAME）`` closes the body. The line
  ``記事・写真・図表の無断転載・複製を禁じます`` follows the last paragraph on every page, inside
  the same column; four of the nine articles are one or two short paragraphs (no byline).
- ``severn`` (The Severn Gazette, en, UTF-8, Google News sitemap, no feed): a normal
  ``<article>``, but a legal line "© 2026 Severn Gazette Media Ltd. All rights reserved. No
  part of this article may be reproduced without permission." is the last ``<p>`` of the body
  on every page; most articles are one or two short paragraphs (2-3 sentences).
- ``tradewinds`` (Tradewinds Industry Bulletin, en, windows-1252 pages and RSS 2.0, published
  in Tokyo): a table layout in English: a left navigation table and the article in a table
  nested in the content cell; the headline a ``<b>`` in a ``<font>``, no heading element; the
  date line ``Posted: 9 December 2026, 19:30 (Tokyo)`` has no offset (the source's tz is
  Asia/Tokyo); the byline ``By NAME, Tokyo correspondent`` carries a role that is not part of
  the name; curly apostrophes, dashes and £ are single windows-1252 bytes.

Stories: four events (``events`` in articles.yaml), three of them about the Japan-UK
agreements, each with a preview, an outcome and two parties' reactions (a business reaction
in one country, a diplomatic one from another), in English and Japanese across the sites.
Preview, outcome and each reaction are different stories; the same story is told by sites in
both languages. The Bank of Japan meeting has a preview and an outcome only.

Labels (labels.jsonl, one JSON object per article): id, source, lang, path, title, authors,
dateline, published (UTC), story, topics, pact, key_sentences (the first sentence of the
first paragraph and the last of the last, verbatim), boilerplate (every line of the page near
the body that must not be in the text: date lines, bylines, promotions, footers, share
lines), text (the body's paragraphs separated by blank lines: no headline, date line,
byline or dateline), and for this set also: event, role (preview, outcome, reaction or
null), party (the reacting party or null), tables (data tables of the body: caption, head,
rows, and ``after``, the number of paragraphs before the table).

Pages hold the placeholder ``__BASE__`` where an absolute URL of their own site goes; the
test server replaces it with ``http://HOST:PORT``. Only the standard library and PyYAML.
Every page is encoded strictly in its site's charset (a character the charset lacks fails
the build), and declares it in a meta element as the server does in Content-Type.
"""
from __future__ import annotations

import html
import json
import shutil
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

HERE = Path(__file__).resolve().parent
BASE = "__BASE__"
# Python codec and the name pages and HTTP headers declare, per charset of articles.yaml
CODECS = {"utf-8": ("utf-8", "utf-8"), "euc-jp": ("euc_jp", "EUC-JP"),
          "shift_jis": ("shift_jis", "Shift_JIS"), "windows-1252": ("cp1252", "windows-1252")}
# which links of each site are articles, as a user would write it in config/sources.yaml
ALLOW = {
    "sanriku": r"/news/\d{4}/\d{2}/\d{2}/\d{4}\.html$",
    "chikuma": r"/news/\d{8}/k\d{4}\.html$",
    "meridian": r"/(?:world/[a-z]+|business|uk)/[a-z0-9-]+/$",
    "toyo": r"/articles/\d{8}-[0-9a-f]{4}\.html$",
    "severn": r"/news/\d{4}/\d{2}/\d{2}/[a-z0-9-]+/$",
    "tradewinds": r"/bulletin/\d{4}/\d{2}/\d{2}/[a-z0-9-]+\.html$",
}
SANRIKU_PROMO = "三陸民報電子版は月額８８０円。紙面ビューアーで朝刊がそのまま読めます。"
SANRIKU_COPY = "Copyright (C) 2026 三陸民報社 All Rights Reserved."
CHIKUMA_COPY = "当サイトに掲載の記事・写真の無断転載を禁止します。Copyright 2026 千曲新報社"
MERIDIAN_SHARE = "Share this article: Email · X · LinkedIn"
TOYO_NOTICE = "記事・写真・図表の無断転載・複製を禁じます"
SEVERN_LEGAL = ("© 2026 Severn Gazette Media Ltd. All rights reserved. No part of this article "
                "may be reproduced without permission.")
TRADEWINDS_MEMBERS = "Subscribers can download this bulletin as a PDF from the member area."
TRADEWINDS_FOOT = "Tradewinds Industry Bulletin K.K. · Minato-ku, Tokyo"
TRADEWINDS_ROLES = {"Hiroshi Tanaka": "Tokyo correspondent", "Naomi Sato": "Industry editor"}
WEEKDAYS_JA = "月火水木金土日"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _paths(art: dict) -> tuple[str, str]:
    """(URL path, file path under the site folder)."""
    slug, site = art["slug"], art["site"]
    if site in ("meridian", "severn"):
        return f"/{slug}/", f"{slug}/index.html"
    if site in ("sanriku", "chikuma"):
        return f"/news/{slug}.html", f"news/{slug}.html"
    if site == "tradewinds":
        return f"/bulletin/{slug}.html", f"bulletin/{slug}.html"
    return f"/{slug}.html", f"{slug}.html"


def _local(art: dict, tz: str) -> datetime:
    return datetime.fromisoformat(art["published"]).astimezone(ZoneInfo(tz))


def _others(siblings: list[dict], art: dict, n: int = 4) -> list[dict]:
    return [a for a in siblings if a["id"] != art["id"]][:n]


def _first_para(art: dict) -> list[str]:
    """The body as printed: a dateline opens the first paragraph where the site uses one."""
    paras = list(art["paragraphs"])
    if art.get("byline") == "dateline":
        paras[0] = f'【{art["dateline"]}＝{art["author"]}】{paras[0]}'
    return paras


def _data_table(table: dict) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in table["head"])
    rows = "\n".join(f"<tr><td>{_e(row[0])}</td>"
                     + "".join(f'<td align="right">{_e(c)}</td>' for c in row[1:]) + "</tr>"
                     for row in table["rows"])
    return (f'<table class="data" border="1" cellspacing="0" cellpadding="4">\n'
            f'<caption>{_e(table["caption"])}</caption>\n<tr>{head}</tr>\n{rows}\n</table>')


def sanriku_page(art: dict, site: dict, siblings: list[dict]) -> tuple[str, list[str]]:
    dt = _local(art, site["tz"])
    dateline = f"掲載日：{dt.year}年{dt.month}月{dt.day}日 {dt.hour}時{dt.minute:02d}分"
    byline = f'文／{art["author"]}'
    blocks = [f"<p>{_e(p)}</p>" for p in art["paragraphs"]]
    if art.get("table"):
        blocks.insert(art["table"]["after"], _data_table(art["table"]))
    ranking = "\n".join(f'<tr><td><font size="2"><a href="{_paths(a)[0]}">{_e(a["title"])}'
                        f"</a></font></td></tr>" for a in _others(siblings, art))
    nav = "\n".join(f'<tr><td><a href="/">{s}</a></td></tr>'
                    for s in ("政治", "経済", "国際", "地域", "スポーツ", "おくやみ"))
    page = f"""<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">
<html lang="ja">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=EUC-JP">
<title>{_e(art["title"])} - {_e(site["name"])}</title>
<meta name="description" content="{_e(art["paragraphs"][0][:60])}">
<link rel="canonical" href="{BASE}{_paths(art)[0]}">
</head>
<body bgcolor="#ffffff" topmargin="0" leftmargin="0">
<table width="900" border="0" cellspacing="0" cellpadding="0" align="center">
<tr><td colspan="3">
<table width="100%" border="0" cellspacing="0" cellpadding="4"><tr>
<td width="240"><a href="/"><img src="/img/logo.gif" alt="{_e(site["name"])}" width="220" height="48" border="0"></a></td>
<td align="right"><font size="2"><a href="/">トップ</a>｜<a href="/">ニュース</a>｜<a href="/">地域</a>｜<a href="/">お問い合わせ</a></font></td>
</tr></table>
</td></tr>
<tr>
<td width="160" valign="top" bgcolor="#eef3f7">
<table width="100%" border="0" cellspacing="0" cellpadding="3">
<tr><td><b>ニュース</b></td></tr>
{nav}
</table>
</td>
<td width="560" valign="top" class="main">
<div class="pankuzu"><a href="/">トップ</a> &gt; <a href="/">ニュース</a></div>
<div class="midashi"><h2>{_e(art["title"])}</h2></div>
<div class="hizuke">{dateline}</div>
<div class="kisha">{_e(byline)}</div>
{chr(10).join(blocks)}
</td>
<td width="180" valign="top">
<table width="100%" border="0" cellspacing="0" cellpadding="3">
<tr><td><font size="1">ＰＲ</font></td></tr>
<tr><td><font size="2">{SANRIKU_PROMO}</font></td></tr>
<tr><td><b>よく読まれている記事</b></td></tr>
{ranking}
</table>
</td>
</tr>
<tr><td colspan="3" align="center"><font size="1">{SANRIKU_COPY}</font></td></tr>
</table>
</body>
</html>
"""
    return page, [dateline, byline, SANRIKU_PROMO, SANRIKU_COPY]


def chikuma_page(art: dict, site: dict, siblings: list[dict]) -> tuple[str, list[str]]:
    dt = _local(art, site["tz"])
    date = f"{dt.year}年{dt.month}月{dt.day}日（{WEEKDAYS_JA[dt.weekday()]}）"
    paras = [_e(p) for p in _first_para(art)]
    boiler = [date, CHIKUMA_COPY]
    closing = ""
    if art.get("byline") == "kisha":
        closing = f'（記者　{_e(art["author"])}）'
        boiler.insert(1, closing)
    if art.get("br"):
        body = "<br><br>\n".join(paras + ([closing] if closing else []))
    else:
        body = "\n".join([f"<p>{p}</p>" for p in paras]
                         + ([f'<p align="right">{closing}</p>'] if closing else []))
    links = "\n".join(f'<tr><td><font size="2">・<a href="{_paths(a)[0]}">{_e(a["title"])}'
                      f"</a></font></td></tr>" for a in _others(siblings, art))
    page = f"""<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">
<title>{_e(art["title"])}｜{_e(site["name"])}</title>
<link rel="canonical" href="{BASE}{_paths(art)[0]}">
</head>
<body bgcolor="#ffffff" leftmargin="0" topmargin="0" marginwidth="0" marginheight="0">
<table width="780" border="0" cellspacing="0" cellpadding="0" align="center">
<tr><td colspan="2" bgcolor="#1f3a5f" height="50"><font color="#ffffff" size="5"><b>{_e(site["name"])}</b></font>　<font color="#ffffff" size="2">信州のニュースサイト</font></td></tr>
<tr><td colspan="2" bgcolor="#dde4ee"><font size="2"><a href="/">ホーム</a>｜<a href="/">県内</a>｜<a href="/">国際</a>｜<a href="/">経済</a>｜<a href="/">スポーツ</a></font></td></tr>
<tr>
<td width="600" valign="top">
<table width="100%" border="0" cellspacing="0" cellpadding="6">
<tr><td class="midashi"><b><font size="4">{_e(art["title"])}</font></b></td></tr>
<tr><td class="hiduke" align="right"><font size="2" color="#666666">{date}</font></td></tr>
<tr><td class="honbun"><font size="3">
{body}
</font></td></tr>
<tr><td align="center"><font size="2"><a href="/">＜前の記事</a>　<a href="/">次の記事＞</a></font></td></tr>
</table>
</td>
<td width="180" valign="top" bgcolor="#f4f4f4">
<table width="100%" border="0" cellspacing="0" cellpadding="4">
<tr><td><font size="2"><b>最新ニュース</b></font></td></tr>
{links}
</table>
</td>
</tr>
<tr><td colspan="2" align="center"><font size="1">{CHIKUMA_COPY}</font></td></tr>
</table>
</body>
</html>
"""
    return page, boiler


def meridian_page(art: dict, site: dict, siblings: list[dict]) -> tuple[str, list[str]]:
    dt = _local(art, site["tz"])
    date = f'{dt.strftime("%A")} {dt.day} {dt.strftime("%B %Y, %H:%M")} GMT'
    byline = f'By {art["author"]}'
    paras = "\n".join(f"<p>{_e(p)}</p>" for p in art["paragraphs"])
    most = "".join(f'<li><a href="{_paths(a)[0]}">{_e(a["title"])}</a></li>'
                   for a in _others(siblings, art))
    page = f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<title>{_e(art["title"])} | {_e(site["name"])}</title>
<meta property="og:title" content="{_e(art["title"])}">
<meta property="og:site_name" content="{_e(site["name"])}">
<meta name="description" content="{_e(art["paragraphs"][0][:140])}">
<link rel="canonical" href="{BASE}{_paths(art)[0]}">
</head>
<body>
<div id="header"><a href="/" class="logo">{_e(site["name"])}</a>
<ul class="nav"><li><a href="/">Home</a></li><li><a href="/">World</a></li><li><a href="/">Business</a></li><li><a href="/">UK</a></li></ul></div>
<div id="page">
<div class="article">
<h1>{_e(art["title"])}</h1>
<p class="date">{date}</p>
<p class="byline">{_e(byline)}</p>
{paras}
<p class="share">{MERIDIAN_SHARE}</p>
</div>
<div class="sidebar"><h3>Most read</h3><ul>{most}</ul></div>
</div>
<div id="footer">The Meridian Courier Ltd, 14 Fenchurch Row, London. <a href="/">Privacy</a> <a href="/">Terms</a></div>
</body>
</html>
"""
    return page, [date, byline, MERIDIAN_SHARE]


def toyo_page(art: dict, site: dict, siblings: list[dict]) -> tuple[str, list[str]]:
    dt = _local(art, site["tz"])
    date = f"{dt:%Y.%m.%d %H:%M}"
    paras = _first_para(art)
    boiler = [date]
    if art.get("byline") == "end":
        paras.append(f'（{art["author"]}）')
        boiler.append(paras[-1])
    body = "\n".join(f"<p>{_e(p)}</p>" for p in paras)
    related = "".join(f'<li><a href="{_paths(a)[0]}">{_e(a["title"])}</a></li>'
                      for a in _others(siblings, art, 3))
    page = f"""<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<title>{_e(art["title"])} | {_e(site["name"])}</title>
<meta name="description" content="{_e(art["paragraphs"][0][:80])}">
<link rel="canonical" href="{BASE}{_paths(art)[0]}">
</head>
<body>
<div id="wrap">
<div id="header"><a href="/" class="logo">{_e(site["name"])}</a>
<ul id="gnav"><li><a href="/">トップ</a></li><li><a href="/">政治</a></li><li><a href="/">経済</a></li><li><a href="/">国際</a></li></ul></div>
<div id="container">
<div id="main">
<h1>{_e(art["title"])}</h1>
<p class="date">{date}</p>
{body}
<p class="notice">{TOYO_NOTICE}</p>
<div class="sns"><a href="/">X</a> <a href="/">Facebook</a> <a href="/">LINE</a></div>
<div class="related"><h2>関連記事</h2><ul>{related}</ul></div>
</div>
<div id="side"><h2>アクセスランキング</h2><ol>{related}</ol></div>
</div>
<div id="footer"><p>© {_e(site["name"])}社</p></div>
</div>
</body>
</html>
"""
    return page, boiler + [TOYO_NOTICE]


def severn_page(art: dict, site: dict, siblings: list[dict]) -> tuple[str, list[str]]:
    dt = _local(art, site["tz"])
    utc = datetime.fromisoformat(art["published"]).astimezone(UTC)
    date = f'{dt.day} {dt.strftime("%B %Y")}'
    by = f'By {art["author"]}' if art["author"] else ""
    meta = (f'<span class="by">{_e(by)}</span> · ' if by else "") + \
        f'<time datetime="{utc:%Y-%m-%dT%H:%M:%SZ}">{date}</time>'
    paras = "\n".join(f"<p>{_e(p)}</p>" for p in art["paragraphs"])
    most = "".join(f'<li><a href="{_paths(a)[0]}">{_e(a["title"])}</a></li>'
                   for a in _others(siblings, art, 3))
    page = f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<title>{_e(art["title"])} – {_e(site["name"])}</title>
<meta property="og:title" content="{_e(art["title"])}">
<meta property="og:type" content="article">
<link rel="canonical" href="{BASE}{_paths(art)[0]}">
</head>
<body>
<header class="site"><a href="/">{_e(site["name"])}</a>
<nav><a href="/">News</a> <a href="/">Sport</a> <a href="/">What's On</a> <a href="/">Property</a></nav></header>
<main>
<article>
<h1>{_e(art["title"])}</h1>
<p class="meta">{meta}</p>
<div class="body">
{paras}
<p class="legal">{_e(SEVERN_LEGAL)}</p>
</div>
</article>
<aside><h2>Most read</h2><ul>{most}</ul></aside>
</main>
<footer>Severn Gazette Media Ltd, Westgate Street, Gloucester</footer>
</body>
</html>
"""
    return page, ([by] if by else []) + [date, SEVERN_LEGAL]


def tradewinds_page(art: dict, site: dict, siblings: list[dict]) -> tuple[str, list[str]]:
    dt = _local(art, site["tz"])
    date = f'Posted: {dt.day} {dt.strftime("%B %Y, %H:%M")} (Tokyo)'
    boiler = [date]
    byline = ""
    if art["author"]:
        boiler.append(f'By {art["author"]}, {TRADEWINDS_ROLES[art["author"]]}')
        byline = f'<font face="Arial" size="2"><i>{_e(boiler[-1])}</i></font>\n'
    paras = "\n".join(f"<p>{_e(p)}</p>" for p in art["paragraphs"])
    nav = "\n".join(f'<tr><td><font face="Arial" size="2"><a href="/">{s}</a></font></td></tr>'
                    for s in ("Home", "Industry", "Energy", "Defence", "Markets", "Subscribe"))
    page = f"""<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">
<title>{_e(site["name"])} :: {_e(art["title"])}</title>
<link rel="canonical" href="{BASE}{_paths(art)[0]}">
</head>
<body bgcolor="#ffffff">
<table width="100%" border="0" cellpadding="0" cellspacing="0">
<tr><td colspan="2" bgcolor="#00334d"><font face="Arial" color="#ffffff" size="5"><b>Tradewinds</b> Industry Bulletin</font><br>
<font face="Arial" color="#cccccc" size="1">Japan business and industry news in English since 1998</font></td></tr>
<tr>
<td width="150" valign="top" bgcolor="#e8eef2">
<table width="100%" border="0" cellpadding="4" cellspacing="0">
{nav}
</table>
</td>
<td valign="top" class="content">
<table width="100%" border="0" cellpadding="8" cellspacing="0"><tr><td>
<font face="Arial" size="5"><b>{_e(art["title"])}</b></font><br>
<font face="Arial" size="1" color="#777777">{date}</font><br>
{byline}{paras}
<p><font size="1">{TRADEWINDS_MEMBERS}</font></p>
</td></tr></table>
</td>
</tr>
<tr><td colspan="2" align="center"><font size="1">{_e(TRADEWINDS_FOOT)}</font></td></tr>
</table>
</body>
</html>
"""
    return page, boiler + [TRADEWINDS_MEMBERS, TRADEWINDS_FOOT]


RENDER = {"sanriku": sanriku_page, "chikuma": chikuma_page, "meridian": meridian_page,
          "toyo": toyo_page, "severn": severn_page, "tradewinds": tradewinds_page}


def _index(site: dict, arts: list[dict]) -> str:
    items = "".join(f'<li><a href="{_paths(a)[0]}">{_e(a["title"])}</a></li>\n' for a in arts)
    return (f'<!DOCTYPE html><html><head><meta charset="{CODECS[site["charset"]][1]}">'
            f'<title>{_e(site["name"])}</title></head><body><h1>{_e(site["name"])}</h1>'
            f'<ul class="latest">\n{items}</ul></body></html>\n')


def _rss(site: dict, arts: list[dict]) -> str:
    items = []
    for a in arts:
        dt = datetime.fromisoformat(a["published"])
        items.append(f"<item><title>{_e(a['title'])}</title><link>{BASE}{_paths(a)[0]}</link>"
                     f"<guid>{BASE}{_paths(a)[0]}</guid>"
                     f"<pubDate>{format_datetime(dt)}</pubDate></item>")
    return (f'<?xml version="1.0" encoding="{CODECS[site["charset"]][1]}"?>\n'
            f"<rss version=\"2.0\"><channel><title>{_e(site['name'])}</title>"
            f"<link>{BASE}/</link><description>{_e(site['name'])}</description>\n"
            + "\n".join(items) + "\n</channel></rss>\n")


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
    return (f'<?xml version="1.0" encoding="{CODECS[site["charset"]][1]}"?>\n'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f'<channel rdf:about="{BASE}/index.rdf"><title>{_e(site["name"])}</title>'
            f"<link>{BASE}/</link><description>{_e(site['name'])}</description>"
            f"<items><rdf:Seq>{seq}</rdf:Seq></items></channel>\n{items}\n</rdf:RDF>\n")


def _news_sitemap(site: dict, arts: list[dict]) -> str:
    urls = "\n".join(
        f"<url><loc>{BASE}{_paths(a)[0]}</loc><news:news><news:publication>"
        f"<news:name>{_e(site['name'])}</news:name><news:language>{site['lang']}"
        f"</news:language></news:publication><news:publication_date>{a['published']}"
        f"</news:publication_date><news:title>{_e(a['title'])}</news:title></news:news></url>"
        for a in arts)
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n'
            f"{urls}\n</urlset>\n")


# (kind in sources.yaml, file name, renderer)
FEEDS = {"sanriku": ("feed", "rss.xml", _rss), "chikuma": ("feed", "index.rdf", _rdf),
         "meridian": ("feed", "rss.xml", _rss), "toyo": ("feed", "atom.xml", _atom),
         "severn": ("sitemap", "news-sitemap.xml", _news_sitemap),
         "tradewinds": ("feed", "rss.xml", _rss)}


def _sentences(text: str, lang: str) -> list[str]:
    if lang == "ja":  # a 。 inside 「」 does not end the sentence
        out, cur, depth = [], "", 0
        for ch in text:
            cur += ch
            depth += (ch == "「") - (ch == "」" and depth > 0)
            if ch == "。" and depth == 0:
                out.append(cur)
                cur = ""
        return out + ([cur] if cur.strip() else [])
    out, cur = [], ""
    for word in text.split(" "):
        cur = f"{cur} {word}".strip()
        if word.endswith((".", "?", "!")):
            out.append(cur)
            cur = ""
    return out + ([cur] if cur else [])


def _utc(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).isoformat()


def _roles(events: dict) -> dict[str, tuple[str, str, str | None]]:
    """story id → (event, role, party)."""
    out: dict[str, tuple[str, str, str | None]] = {}
    for event, ev in events.items():
        out[ev["preview"]] = (event, "preview", None)
        out[ev["outcome"]] = (event, "outcome", None)
        for party, story in ev["reactions"].items():
            out[story] = (event, "reaction", party)
    return out


def build(out_dir: Path = HERE) -> dict[str, int]:
    """Write site/, labels.jsonl and sites.json under ``out_dir`` (tests build into a temporary
    folder and compare with the committed files)."""
    data = yaml.safe_load((HERE / "articles.yaml").read_text(encoding="utf-8"))
    sites, arts, roles = data["sites"], data["articles"], _roles(data["events"])
    site_dir = out_dir / "site"
    if site_dir.exists():
        shutil.rmtree(site_dir)
    labels = []
    counts: dict[str, int] = {}
    for key, site in sites.items():
        mine = sorted((a for a in arts if a["site"] == key), key=lambda a: a["published"],
                      reverse=True)
        root = site_dir / key
        codec = CODECS[site["charset"]][0]
        for art in sorted(mine, key=lambda a: a["id"]):
            page, boiler = RENDER[key](art, site, mine)
            url_path, file_path = _paths(art)
            out = root / file_path
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(page.encode(codec))  # strict: a character the codec lacks fails
            paragraphs = art["paragraphs"]
            event, role, party = roles.get(art["story"], (None, None, None))
            table = art.get("table")
            labels.append({
                "id": art["id"], "source": key, "lang": site["lang"], "path": url_path,
                "title": art["title"], "authors": [art["author"]] if art["author"] else [],
                "dateline": art.get("dateline"), "published": _utc(art["published"]),
                "story": art["story"], "topics": sorted(art["topics"]), "pact": art["pact"],
                "key_sentences": [_sentences(paragraphs[0], site["lang"])[0],
                                  _sentences(paragraphs[-1], site["lang"])[-1]],
                "boilerplate": boiler, "text": "\n\n".join(paragraphs),
                "event": event, "role": role, "party": party,
                "tables": [table] if table else [],
            })
        (root / "index.html").write_bytes(_index(site, mine).encode(codec))
        kind, name, render = FEEDS[key]
        (root / name).write_bytes(render(site, mine).encode(codec))
        (root / "robots.txt").write_text("User-agent: *\nDisallow: /search\n", encoding="utf-8")
        counts[key] = len(mine)
    labels.sort(key=lambda r: r["id"])
    with (out_dir / "labels.jsonl").open("w", encoding="utf-8") as fh:
        for rec in labels:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    (out_dir / "sites.json").write_text(json.dumps(
        {k: {**v, FEEDS[k][0]: FEEDS[k][1], "allow": ALLOW[k]} for k, v in sites.items()},
        ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return counts


if __name__ == "__main__":
    print(build())
