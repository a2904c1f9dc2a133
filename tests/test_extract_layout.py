"""Issue 17: pages laid out with a table, and headlines, date lines and bylines repeated at the
top of the body. Each page reproduces a failure seen on unseen sites; the data-table cases
check that tables holding data stay tables."""
from __future__ import annotations

import lxml.html
import pytest

from newsmon.crawler.extract import extract_article
from newsmon.crawler.extract.layout import is_layout_table, unwrap_layout_tables
from newsmon.crawler.extract.lead import is_date_line, repeats_title, strip_lead
from tests.test_extract import EN_PARAS, JA_PARAS, page

JA_TITLE = "日英が重要鉱物で協力枠組み、中国依存の低減へ第三国で鉱山開発に共同出資"
MENU = "".join(f'<tr><td><a href="/c{i}/">カテゴリ{i}</a></td></tr>' for i in range(6))


def _table_page(enc: str) -> bytes:
    paras = "".join(f"<p>{p}</p>" for p in JA_PARAS)
    return f"""<html><head><meta http-equiv="Content-Type" content="text/html; charset={enc}">
<title>{JA_TITLE}｜地方新報</title></head><body>
<table width="760" border="0" cellpadding="0" cellspacing="0"><tr><td colspan="2"><img src="/logo.gif" alt="地方新報"></td></tr>
<tr><td width="160" valign="top"><table>{MENU}</table></td>
<td width="600" valign="top"><div class="title"><h2>{JA_TITLE}</h2></div>
<div class="date">掲載日：2026年11月13日</div><div class="author">文／小川正樹</div>
{paras}</td></tr>
<tr><td colspan="2"><font size="1">Copyright (C) 地方新報社 無断転載・複製を禁じます</font></td></tr>
</table></body></html>""".encode(enc)


@pytest.mark.parametrize("enc", ["euc-jp", "shift_jis"])
def test_article_in_a_layout_table_keeps_its_paragraphs_byline_and_date(enc: str) -> None:
    art = extract_article(page(_table_page(enc), url="https://chiho.example.jp/news/20261113_0042.html",
                               lang="ja", tz="Asia/Tokyo", content_type="text/html"))
    paras = art.text.split("\n\n")
    assert [p.strip("\u3000") for p in paras] == [p.strip("\u3000") for p in JA_PARAS]
    assert art.title == JA_TITLE
    assert art.authors == ["小川正樹"]
    assert art.published is not None and art.published.isoformat() == "2026-11-13T00:00:00+09:00"
    assert "|" not in art.text and "カテゴリ" not in art.text


def _data_table(rows: int = 4, head: bool = True) -> str:
    th = "<tr><th>Item</th><th>2025</th><th>2026</th></tr>" if head else ""
    body = "".join(f"<tr><td>Line {i}</td><td>{i * 10}</td><td>{i * 12}</td></tr>" for i in range(rows))
    return f"<table>{th}{body}</table>"


def test_data_tables_stay_tables() -> None:
    for html in (_data_table(), '<table summary="x"><tr><td>a</td></tr></table>',
                 "<table><caption>Exports</caption><tr><td>a</td><td>b</td></tr></table>",
                 _data_table(rows=12, head=False)):
        table = lxml.html.fromstring(f"<div>{html}</div>").find(".//table")
        assert not is_layout_table(table), html
    art = extract_article(page(f"""<html lang="en"><head><title>Exports rise</title></head><body>
<article><h1>Exports rise</h1>{"".join(f"<p>{p}</p>" for p in EN_PARAS)}{_data_table()}</article>
</body></html>"""))
    assert "| Line 1 | 10 | 12 |" in art.text


def test_layout_verdicts() -> None:
    def verdict(html: str) -> bool:
        tree = lxml.html.fromstring(f"<div>{html}</div>")
        return is_layout_table(tree.find(".//table"))

    assert verdict('<table role="presentation"><tr><th>a</th></tr></table>')
    assert verdict('<table datatable="0"><tr><th>a</th></tr></table>')
    assert verdict("<table><tr><td><table><tr><td>x</td></tr></table></td></tr></table>")
    assert verdict("<table><tr><td><h2>Headline</h2><p>Text</p></td></tr></table>")
    assert verdict("<table><tr><td>menu</td><td>text</td></tr></table>")
    # a data table nested in a layout cell stays, the layout around it goes
    tree = lxml.html.fromstring(f"<div><table><tr><td><p>Text</p>{_data_table()}</td></tr></table></div>")
    assert unwrap_layout_tables(tree) == 1
    assert len(tree.findall(".//table")) == 1 and tree.find(".//th") is not None


def _container_page(lang: str, title: str, paras: list[str], meta_lines: str) -> str:
    body = "".join(f"<p>{p}</p>" for p in paras)
    return f"""<html lang="{lang}"><head><meta charset="utf-8"><title>{title} - The Daily Site</title></head>
<body><div id="main"><div class="article"><h1>{title}</h1>{meta_lines}{body}</div></div></body></html>"""


def test_headline_in_the_text_container_is_not_the_first_paragraph_en() -> None:
    title = "Starmer and Takaichi sign pacts in Tokyo"
    art = extract_article(page(_container_page(
        "en", title, EN_PARAS, '<p class="meta">By Jane Doe</p><p>13 November 2026 10:30 GMT</p>')))
    assert art.text.split("\n\n")[0] == EN_PARAS[0]
    assert art.authors == ["Jane Doe"]
    assert art.published is not None and art.published.isoformat() == "2026-11-13T10:30:00+00:00"


def test_dateline_after_a_repeated_headline_ja() -> None:
    paras = list(JA_PARAS)
    paras[0] = "【北京＝伊藤和也】" + paras[0].lstrip("\u3000")
    art = extract_article(page(_container_page("ja", JA_TITLE, paras, "<p>2026年11月13日 10時30分</p>"),
                               url="https://ja.example.jp/articles/20261113/k0001.html", lang="ja",
                               tz="Asia/Tokyo"))
    first = art.text.split("\n\n")[0]
    assert first.startswith("日英両政府が")
    assert art.dateline == "北京" and art.authors == ["伊藤和也"]
    assert art.title == JA_TITLE


def test_strip_lead_only_takes_what_repeats_the_header() -> None:
    body = ["Starmer and Takaichi sign pacts in Tokyo", "Updated 13 Nov 2026 10:30", "By Jane Doe and Ken Sato",
            EN_PARAS[0], "By the way, this line is prose."]
    lead = strip_lead(body, ["Starmer and Takaichi sign pacts in Tokyo | The Daily Site"], "UTC")
    assert lead.paragraphs == [EN_PARAS[0], "By the way, this line is prose."]
    assert lead.authors == ["Jane Doe", "Ken Sato"]
    # a first paragraph that only shares words with the title, or a dated sentence, stays
    assert not repeats_title("Starmer and Takaichi met in Tokyo on Friday to sign six pacts covering "
                             "defence and trade.", ["Starmer and Takaichi sign pacts in Tokyo"])
    assert not is_date_line("On 13 November 2026 the two leaders signed the pacts.", "UTC")
    assert is_date_line("掲載日：2026年11月13日（金）", "Asia/Tokyo")
    assert strip_lead(["Starmer and Takaichi sign pacts in Tokyo"], ["Starmer and Takaichi sign pacts in Tokyo"],
                      "UTC").paragraphs == ["Starmer and Takaichi sign pacts in Tokyo"]


def test_template_lines_are_short_plain_blocks_outside_the_body() -> None:
    art = extract_article(page(_table_page("euc-jp"), url="https://chiho.example.jp/news/20261113_0042.html",
                               lang="ja", tz="Asia/Tokyo", content_type="text/html"))
    assert "Copyright (C) 地方新報社 無断転載・複製を禁じます" in art.template
    assert not any(line.startswith("カテゴリ") for line in art.template)  # menu links
    assert not any(line.strip("\u3000") in art.text for line in art.template)


def _brief(h1: str, url: str = "https://toyo.example.jp/articles/20261209-0a1b.html") -> str:
    return f"""<html lang="ja"><head><meta charset="utf-8"><title>東京で初氷、平年より３日早く | 東洋時報</title></head>
<body><div id="header"><a href="/">東洋時報</a><ul><li><a href="/">トップ</a></li><li><a href="/">政治</a></li></ul></div>
<div id="main"><h1>{h1}</h1><p class="date">2026.12.09 08:10</p>
<p>気象庁は９日、東京都心で初氷を観測したと発表した。平年より３日早い。朝の最低気温は氷点下０．８度で、この冬一番の冷え込みとなった。</p>
</div><div id="footer"><p>© 東洋時報社</p></div></body></html>"""


def test_a_brief_under_its_headline_and_date_is_an_article() -> None:
    art = extract_article(page(_brief("東京で初氷、平年より３日早く"),
                               url="https://toyo.example.jp/articles/20261209-0a1b.html", lang="ja",
                               tz="Asia/Tokyo"))
    assert art.text.startswith("気象庁は９日") and "\n" not in art.text
    assert art.published is not None and art.published.isoformat() == "2026-12-09T08:10:00+09:00"
    # the same short text under a heading that is not the page's title is not enough
    from newsmon.index.core.errors import ExtractError

    with pytest.raises(ExtractError) as err:
        extract_article(page(_brief("お知らせ"), url="https://toyo.example.jp/articles/20261209-0a1b.html",
                             lang="ja", tz="Asia/Tokyo"))
    assert err.value.reason == "not_article"


def _no_heading_brief(lang: str) -> tuple[str, str]:
    """An older page with no heading element: the headline in a bold large font, the date in a
    small one under it, a paragraph or two of news in the article cell of a layout table."""
    if lang == "en":
        title, date = "Osaka port reopens after typhoon damage", "Published: 3 March 2026, 14:20 (Osaka)"
        body = ("<p>The port of Osaka reopened its container terminals on Tuesday after repairs to "
                "cranes damaged by the typhoon last week, the city's port authority said. Shipping "
                "lines expect the backlog to clear by the weekend.</p>")
        logo, motto = "Kansai Shipping Weekly", "Port and shipping news from western Japan since 1987"
    else:
        title, date = "諏訪湖で御神渡り、３年ぶり確認", "2026年2月3日（火）"
        body = "<p>諏訪湖の氷が盛り上がる「御神渡り」を、八剱神社の総代らが３日朝に確認した。３年ぶり。</p>"
        logo, motto = "諏訪日日", "湖国の話題を毎日お届けします"
    html = f"""<html><head><meta charset="utf-8"><title>{logo} :: {title}</title></head><body>
<table width="100%"><tr><td colspan="2"><font size="5"><b>{logo}</b></font><br>
<font size="1">{motto}</font></td></tr>
<tr><td width="150"><a href="/">Home</a><br><a href="/news/">News</a><br><a href="/{title[:3]}">{title}</a></td>
<td><font size="5"><b>{title}</b></font><br><font size="1">{date}</font><br>{body}</td></tr></table>
</body></html>"""
    return html, title


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_brief_under_a_bold_headline_with_no_heading_element(lang: str) -> None:
    html, title = _no_heading_brief(lang)
    art = extract_article(page(html, url="https://old.example.net/news/2026/03/03/0815.html", lang=lang,
                               tz="Asia/Tokyo"))
    assert art.title == title
    assert art.text.startswith(("The port of Osaka", "諏訪湖の氷")) and "\n" not in art.text
    want = "2026-03-03T14:20:00+09:00" if lang == "en" else "2026-02-03T00:00:00+09:00"
    assert art.published is not None and art.published.isoformat() == want


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_site_name_in_the_text_container_is_not_the_first_paragraph(lang: str) -> None:
    from tests.test_bylines_dates import EN, JA

    paras, site = (EN, "The Fjord Times") if lang == "en" else (JA, "北海道湾岸新聞")
    title = "Ferry operators cut winter sailings" if lang == "en" else "フェリー各社、冬季の便数を削減"
    html = f"""<html lang="{lang}"><head><meta charset="utf-8"><title>{title} - {site}</title>
<meta property="og:type" content="article"></head><body><div id="page"><p class="logo"><b>{site}</b></p>
<h1>{title}</h1><p>2026-12-01 09:00</p>{"".join(f"<p>{p}</p>" for p in paras)}</div></body></html>"""
    art = extract_article(page(html, url="https://fjord.example.net/news/20261201/a0042.html", lang=lang,
                               tz="Asia/Tokyo"))
    assert art.text.split("\n\n") == paras
    # a paragraph that only mentions the site stays
    lead = strip_lead([f"{site} has learned that the ferries will stop.", paras[0]], [f"{title} - {site}"],
                      "UTC", [site])
    assert len(lead.paragraphs) == 2


def _br_page(enc: str) -> bytes:
    """An older table-layout page whose text is set with <br>s, not <p>s: trafilatura takes the
    whole page (masthead motto, menu, sidebar) as the body."""
    side = "".join(f'<tr><td><font size="2">・<a href="/news/2026020{i}/n00{i}.html">県内ニュースの見出しその{i}、'
                   f"関係者が説明</a></font></td></tr>" for i in range(1, 6))
    return f"""<html><head><meta http-equiv="Content-Type" content="text/html; charset={enc}">
<title>諏訪湖で御神渡り、３年ぶり確認｜諏訪日日新聞</title></head>
<body><table width="760" border="0"><tr><td colspan="2" bgcolor="#333"><font size="5"><b>諏訪日日新聞</b></font>
　<font size="2">湖国の話題を毎日お届け</font></td></tr>
<tr><td colspan="2"><a href="/">トップ</a>｜<a href="/">地域</a>｜<a href="/">経済</a></td></tr>
<tr><td width="580" valign="top"><table width="100%" cellpadding="4">
<tr><td class="ttl"><b><font size="4">諏訪湖で御神渡り、３年ぶり確認</font></b></td></tr>
<tr><td align="right"><font size="2">2026年2月3日（火）</font></td></tr>
<tr><td class="txt"><font size="3">
諏訪湖の氷が盛り上がってできる「御神渡り」を、八剱神社の総代らが３日朝に確認した。３年ぶりで、今季は１月下旬からの冷え込みで全面結氷していた。<br><br>
神社は４日に拝観式を開き、氷の筋の走り方から今年の農作物の出来などを占う。<br><br>
（記者　林田亜希）
</font></td></tr>
<tr><td align="center"><a href="/">＜前の記事</a>　<a href="/">次の記事＞</a></td></tr></table></td>
<td width="180" valign="top"><table><tr><td><b>最新ニュース</b></td></tr>{side}</table></td></tr>
<tr><td colspan="2"><font size="1">Copyright 諏訪日日新聞社 無断転載を禁じます</font></td></tr></table></body></html>""".encode(enc)


@pytest.mark.parametrize("enc", ["shift_jis", "euc-jp"])
def test_text_set_with_breaks_in_a_layout_cell(enc: str) -> None:
    art = extract_article(page(_br_page(enc), url="https://suwa.example.jp/news/20260203/n0101.html", lang="ja",
                               tz="Asia/Tokyo", content_type="text/html"))
    paras = art.text.split("\n\n")
    assert paras[0].startswith("諏訪湖の氷が") and paras[-1].endswith("などを占う。") and len(paras) == 2
    assert art.authors == ["林田亜希"] and art.title == "諏訪湖で御神渡り、３年ぶり確認"
    assert art.published is not None and art.published.isoformat() == "2026-02-03T00:00:00+09:00"


def test_header_lines_go_only_up_to_a_headline_near_the_top() -> None:
    title = "Ferry operators cut winter sailings"
    body = ["Harbour Post", "News from the coast", "Home", "World", title, "Three ferry operators said on "
            "Monday they would cut winter sailings."]
    assert strip_lead(body, [title], "UTC").paragraphs == body[-1:]
    # the headline first and again further down (a subheading): only the first goes
    again = [title, "Sponsored", "Ferries", title, "Three ferry operators said on Monday they would cut sailings."]
    assert strip_lead(again, [title], "UTC").paragraphs == again[1:]
    # prose before a line that repeats the title: not a header, nothing goes
    prose = ["Three ferry operators said on Monday they would cut winter sailings.", title, "More prose."]
    assert strip_lead(prose, [title], "UTC").paragraphs == prose


def test_a_masthead_is_not_taken_for_a_headline_set_in_a_font() -> None:
    from newsmon.crawler.extract.visible import visible

    title = "Northwind Trade Letter :: Japanese carmakers lift output in second half"
    tree = lxml.html.fromstring(f"""<html><head><title>{title}</title></head><body><table><tr><td>
<font size="5"><b>Northwind</b> Trade Letter</font><br><font size="1">Japanese carmaker and industry news in English since 1999</font>
</td></tr><tr><td><font size="5"><b>Japanese carmakers lift output in second half</b></font><br>
<p>{EN_PARAS[0]}</p></td></tr>
</table></body></html>""")
    assert visible(tree, [title]).h1 == "Japanese carmakers lift output in second half"
