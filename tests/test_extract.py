"""extract_article on hand-made pages: the contract others rely on (fields, reasons, status)."""
from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from newsmon.crawler.extract import REASONS, extract_article
from newsmon.crawler.page import Page
from newsmon.crawler.urls import Domains
from newsmon.index.core import reasons
from newsmon.index.core.article import Article, Status
from newsmon.index.core.errors import ExtractError

FETCHED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
JST = ZoneInfo("Asia/Tokyo")

EN_PARAS = [
    "Britain and Japan have signed a package of agreements covering cyber security, critical minerals "
    "and a jointly developed fighter jet, in what officials called the broadest upgrade in a decade.",
    "The centrepiece is a Strategic Cyber Partnership under which the two countries will share "
    "intelligence on digital threats, including state-backed hacking groups, and protect power grids.",
    "A separate critical minerals framework commits the two governments to invest jointly in mining "
    "and refining projects in third countries and to reduce their dependence on China.",
    "The leaders also promised to accelerate the Global Combat Air Programme, the next-generation "
    "fighter that Britain and Japan are building with Italy, which is due to enter service in 2035.",
]
JA_PARAS = [
    "　日英両政府が１３日に署名した重要鉱物に関する協力枠組みは、電動車や風力発電機の磁石に欠かせない希土類を中心に、"
    "特定の国への過度な依存から脱することを目指すものだ。両国は第三国での鉱山開発や精錬事業に共同で出資する。",
    "　背景には、希土類の採掘と精錬で圧倒的な比重を占める中国が、輸出管理を外交上の圧力手段として使うことへの警戒がある。"
    "中国は近年、一部の希土類や関連技術の輸出を許可制とした。",
    "　課題は採算だ。中国産の希土類は価格が安く、新たな鉱山や精錬所は価格競争で不利になりやすい。"
    "専門家の間では、公的資金による長期的な支援が欠かせないとの指摘が多い。",
]


def page(body: bytes | str, url: str = "https://news.example.com/world/2026/nov/13/uk-japan-pacts/", *,
         lang: str = "en", tz: str = "Europe/London", content_type: str | None = "text/html; charset=utf-8") -> Page:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return Page(url=url, body=data, source="test", lang=lang, tz=tz, fetched_at=FETCHED,
                content_type=content_type, etag='"abc"', last_modified="Fri, 13 Nov 2026 11:00:00 GMT")


def en_article(head: str = "", before_body: str = "", after_body: str = "", paras: list[str] | None = None,
               title: str = "Starmer and Takaichi sign pacts in Tokyo | World | The Example Times",
               h1: str = "Starmer and Takaichi sign pacts in Tokyo") -> str:
    body = "".join(f"<p>{p}</p>" for p in (EN_PARAS if paras is None else paras))
    return f"""<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8"><title>{title}</title>
<meta property="og:site_name" content="The Example Times">{head}</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world/">World</a></li><li><a href="/sport/">Sport</a></li></ul></nav>
<article><h1>{h1}</h1>{before_body}<div class="article-body">{body}</div>{after_body}</article>
<aside class="related"><h2>Related</h2><ul><li><a href="/a/">Other story one about markets</a> 2026-11-01</li>
<li><a href="/b/">Other story two about the weather</a> 2026-10-30</li></ul></aside>
<footer><p>© 2026 The Example Times. All rights reserved.</p></footer></body></html>"""


def test_contract_fields_and_picklable() -> None:
    html = en_article(
        head='<link rel="canonical" href="/world/2026/nov/13/uk-japan-pacts/">'
        '<meta property="og:type" content="article">'
        '<meta property="article:published_time" content="2026-11-13T10:45:00+00:00">'
        '<meta property="article:modified_time" content="2026-11-13T12:00:00+00:00">'
        '<meta property="article:section" content="World">'
        '<meta property="og:image" content="/img/lead.jpg">'
        '<meta name="description" content="Britain and Japan sign pacts.">'
        '<meta name="author" content="Eleanor Price">',
    )
    art = extract_article(page(html, url="https://news.example.com/world/2026/nov/13/uk-japan-pacts/#comments"))
    assert isinstance(art, Article)
    assert art.url.endswith("#comments")
    assert art.canonical_url == "https://news.example.com/world/2026/nov/13/uk-japan-pacts/"
    assert art.source == "test"
    assert art.title == "Starmer and Takaichi sign pacts in Tokyo"
    assert art.text.split("\n\n") == EN_PARAS
    assert art.lang == "en"
    assert art.published == datetime(2026, 11, 13, 10, 45, tzinfo=UTC)
    assert art.updated == datetime(2026, 11, 13, 12, 0, tzinfo=UTC)
    assert art.authors == ["Eleanor Price"]
    assert art.section == "World"
    assert art.image == "https://news.example.com/img/lead.jpg"
    assert art.description == "Britain and Japan sign pacts."
    assert art.site_name == "The Example Times"
    assert art.status is Status.OK and art.flags == []
    assert art.fetched_at == FETCHED
    assert art.http_etag == '"abc"' and art.http_last_modified.startswith("Fri")
    assert art.charset == "utf-8"
    assert pickle.loads(pickle.dumps(extract_article)) is extract_article
    assert pickle.loads(pickle.dumps(art)).title == art.title


def test_reasons_are_a_small_documented_set() -> None:
    assert set(REASONS) == {"not_html", "empty", "malformed", "not_article", "challenge"}
    import newsmon.crawler.extract as extract

    assert all(f"``{reason}``" in extract.__doc__ for reason in REASONS)
    assert all(reasons.is_known(reason) for reason in REASONS)  # the one registry


def test_trafilatura_internals() -> None:
    """What extraction takes from trafilatura's internals (crawler/extract/engine.py) still
    exists and means what it meant when pinned."""
    import lxml.html

    from newsmon.crawler.extract.engine import SANITIZED_XPATH, extract_author

    tree = lxml.html.fromstring("<html><body><article><p>text</p><aside>related</aside>"
                                "<figure>photo</figure></article></body></html>")
    assert [el.tag for el in tree.xpath(SANITIZED_XPATH)] == ["aside", "figure"]
    tree = lxml.html.fromstring('<html><body><h1>Pacts signed</h1><div class="author">Jane Doe</div>'
                                "<p>Britain and Japan signed pacts.</p></body></html>")
    assert extract_author(tree) == "Jane Doe"


@pytest.mark.parametrize("text", [
    "<!DOCTYPE html>\n<html><head><title>t</title></head><body><p>Pacts signed.</p></body></html>",
    "<!DOCTYPE html/>\n<html><body><p>a doctype libxml2 chokes on</p></body></html>",
    "<html/>\n<body><p>a self-closed html tag</p></body>",
    "<html><body><p>a control character \x01 and \ufffe in the text</p></body></html>",
    '<?xml version="1.0" encoding="utf-8"?><html><body><p>declared</p></body></html>',
    "<p>just a fragment</p>",
    "plain text, no markup",
    "<html><body><p>日英が署名　２４時間態勢</p></body></html>",
    # comments dropped as trafilatura's parser drops them; form elements are plain elements here
    "<html><body><!-- ad --><form><label>Search</label><input name=q><select><option>a</option>"
    "</select><textarea>t</textarea></form><p>after</p></body></html>",
])
def test_parse_html_gives_trafilaturas_tree(text: str) -> None:
    """``parse_html`` skips load_html's whole-page character scrub where no character needs
    it; whatever the page, the tree (or the refusal) is load_html's."""
    import lxml.etree

    from newsmon.crawler.extract.engine import load_html, parse_html

    want, got = load_html(text), parse_html(text)
    assert (want is None) == (got is None)
    if want is not None:
        assert lxml.etree.tostring(got) == lxml.etree.tostring(want)


@pytest.mark.parametrize(
    "body, content_type, reason",
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "application/pdf", "not_html"),
        (b"%PDF-1.7\n1 0 obj", "text/html", "not_html"),  # a PDF served as HTML
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None, "not_html"),
        (b'{"articles": [1, 2, 3]}', "application/json", "not_html"),
        (b"", "text/html", "empty"),
        (b"   \n  ", "text/html", "empty"),
        (b"<html><head><title></title></head><body>   </body></html>", "text/html", "empty"),
        (b"<p>just a fragment</p>", "text/html", "malformed"),
    ],
)
def test_not_article_inputs_raise_with_reason(body: bytes, content_type: str | None, reason: str) -> None:
    with pytest.raises(ExtractError) as err:
        extract_article(page(body, content_type=content_type))
    assert err.value.reason == reason
    assert err.value.reason in REASONS


def test_section_page_is_not_an_article() -> None:
    items = "".join(
        f'<li><a href="/world/2026/nov/{d}/story-{d}/">A headline about story number {d} in the world</a>'
        f'<p>A one-line teaser for story {d}.</p><time datetime="2026-11-{d}T09:00:00Z">{d} Nov</time></li>'
        for d in range(10, 20)
    )
    html = f"""<html lang="en"><head><title>World | The Example Times</title>
<meta property="og:type" content="website"></head><body><h1>World</h1><ul class="list">{items}</ul></body></html>"""
    with pytest.raises(ExtractError) as err:
        extract_article(page(html, url="https://news.example.com/world/"))
    assert err.value.reason == "not_article"


def test_static_page_without_article_signals_is_not_an_article() -> None:
    html = """<html lang="en"><head><title>About us | The Example Times</title></head><body>
<h1>About us</h1><p>The Example Times is an independent newspaper founded in 1901.</p>
<p>Contact the newsroom at the address below.</p></body></html>"""
    with pytest.raises(ExtractError) as err:
        extract_article(page(html, url="https://news.example.com/about/"))
    assert err.value.reason == "not_article"


def test_challenge_page_raises_challenge() -> None:
    html = """<html><head><title>Just a moment...</title></head><body>
<div id="cf-wrapper"><h1>Checking your browser before accessing news.example.com.</h1>
<p>This process is automatic.</p><script>window._cf_chl_opt={cvId: "2"};</script></div></body></html>"""
    with pytest.raises(ExtractError) as err:
        extract_article(page(html))
    assert err.value.reason == "challenge"


def test_canonical_rules() -> None:
    base = '<meta property="og:type" content="article">'
    # off-site canonical (syndication partner) is not taken
    art = extract_article(page(en_article(head=base + '<link rel="canonical" href="https://other.example.org/story/1">')))
    assert art.canonical_url == "https://news.example.com/world/2026/nov/13/uk-japan-pacts/"
    # a canonical pointing at the home page is a template error
    art = extract_article(page(en_article(head=base + '<link rel="canonical" href="https://news.example.com/">')))
    assert art.canonical_url == "https://news.example.com/world/2026/nov/13/uk-japan-pacts/"
    # the AMP copy names the article; any host on the source's domains counts
    amp_url = "https://amp.news.example.com/amp/world/2026/nov/13/uk-japan-pacts/"
    art = extract_article(dataclasses.replace(page(en_article(head=base + '<link rel="canonical" href="https://www.news.example.com/world/2026/nov/13/uk-japan-pacts/#top">'), url=amp_url),
                                              site=Domains(("news.example.com",))))
    assert art.canonical_url == "https://www.news.example.com/world/2026/nov/13/uk-japan-pacts/"
    # og:url stands in when there is no canonical link
    art = extract_article(page(en_article(head=base + '<meta property="og:url" content="https://news.example.com/p/123456">')))
    assert art.canonical_url == "https://news.example.com/p/123456"
    # .co.jp style suffixes: a different paper on the same suffix is another site
    art = extract_article(page(en_article(head=base + '<link rel="canonical" href="https://www.other.co.jp/a/1">'), url="https://www.paper.co.jp/a/1234567"))
    assert art.canonical_url == "https://www.paper.co.jp/a/1234567"


def test_title_from_jsonld_when_h1_is_a_logo_and_ideographic_space_kept() -> None:
    ld = """<script type="application/ld+json">{"@context": "https://schema.org", "@graph": [
      {"@type": "WebPage", "name": "ignored"},
      {"@type": "NewsArticle", "headline": "重要鉱物で日英が枠組み　希土類の対中依存",
       "datePublished": "2026-11-15T18:30:00+09:00", "author": [{"@type": "Person", "name": "高橋直樹"}],
       "publisher": {"@type": "Organization", "name": "東都新聞"}}]}</script>"""
    html = f"""<html lang="ja"><head><meta charset="utf-8"><title>重要鉱物で日英が枠組み　希土類の対中依存｜東都新聞</title>{ld}</head>
<body><h1>東都新聞</h1><div class="body">{''.join(f'<p>{p}</p>' for p in JA_PARAS)}</div></body></html>"""
    art = extract_article(page(html, url="https://tohto.example.jp/news/20261115/k100155.html", lang="ja", tz="Asia/Tokyo"))
    assert art.title == "重要鉱物で日英が枠組み　希土類の対中依存"
    assert art.published == datetime(2026, 11, 15, 18, 30, tzinfo=JST)
    assert art.authors == ["高橋直樹"]
    assert art.lang == "ja"
    assert art.site_name == "東都新聞"


def test_title_is_the_displayed_headline_when_declared_titles_confirm_it() -> None:
    # og:title is an SEO variant; <h1> is what readers see and <title> confirms it
    html = en_article(head='<meta property="og:type" content="article">'
                      '<meta property="og:title" content="UK and Japan pacts: what was signed in Tokyo">')
    assert extract_article(page(html)).title == "Starmer and Takaichi sign pacts in Tokyo"


def test_title_site_suffix_is_stripped_from_title_tag() -> None:
    html = en_article(head='<meta property="og:type" content="article">', h1="",
                      title="Starmer and Takaichi sign pacts in Tokyo - The Example Times")
    assert extract_article(page(html)).title == "Starmer and Takaichi sign pacts in Tokyo"


def test_shift_jis_page_with_text_date_and_bracketed_author() -> None:
    related = "".join(
        f'<li><a href="/news/2026111{d}/k{d}.html">別の記事の見出し{d}</a>（2026年11月1{d}日 20時05分）</li>' for d in range(1, 4)
    )
    html = f"""<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">
<html lang="ja"><head><meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">
<title>重要鉱物で日英が枠組み　希土類の対中依存｜東都新聞</title></head><body>
<div id="main"><div class="article"><h1>重要鉱物で日英が枠組み　希土類の対中依存</h1>
<p class="date">２０２６年１１月１５日 18時30分</p>
<div class="article-body">{''.join(f'<p>{p}</p>' for p in JA_PARAS)}</div>
<p class="author">（経済部・高橋直樹）</p></div>
<div class="kanren"><h3>関連記事</h3><ul>{related}</ul></div></div></body></html>"""
    art = extract_article(page(html.encode("cp932"), url="http://tohto.example/news/20261115/k10015521843000.html",
                               lang="ja", tz="Asia/Tokyo", content_type="text/html; charset=Shift_JIS"))
    assert art.charset == "cp932"
    assert art.title == "重要鉱物で日英が枠組み　希土類の対中依存"
    assert art.published == datetime(2026, 11, 15, 18, 30, tzinfo=JST)  # not a related-list date
    assert art.authors == ["経済部・高橋直樹"]
    assert [p.strip("　 ") for p in art.text.split("\n\n")] == [p.strip("　") for p in JA_PARAS]
    assert art.lang == "ja"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("By Eleanor Price", ["Eleanor Price"]),
        ("by Jane Doe and John Roe", ["Jane Doe", "John Roe"]),
        ("（経済部・高橋直樹）", ["経済部・高橋直樹"]),
        ("【ロンドン＝岡田浩幸】", ["ロンドン=岡田浩幸"]),
        ("https://www.facebook.com/somepaper/", []),
    ],
)
def test_author_cleanup(raw: str, expected: list[str]) -> None:
    html = en_article(head=f'<meta property="og:type" content="article"><meta name="author" content="{raw}">')
    assert extract_article(page(html)).authors == expected


def test_byline_after_headline_when_no_metadata() -> None:
    html = en_article(head='<meta property="og:type" content="article">',
                      before_body='<p class="byline">By <span>Tom Whitcombe</span></p><p class="dateline">Fri 13 Nov 2026 16.20 GMT</p>')
    art = extract_article(page(html))
    assert art.authors == ["Tom Whitcombe"]
    assert art.published == datetime(2026, 11, 13, 16, 20, tzinfo=UTC)


def test_organisation_author_that_is_the_publisher_is_dropped() -> None:
    ld = ('<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Pacts signed",'
          ' "datePublished": "2026-11-13T10:45:00Z", "author": {"@type": "Organization", "name": "The Example Times"},'
          ' "publisher": {"@type": "Organization", "name": "The Example Times"}}</script>')
    assert extract_article(page(en_article(head=ld))).authors == []


def test_paywalled_by_jsonld() -> None:
    ld = ('<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Pacts signed",'
          ' "datePublished": "2026-11-13T10:45:00Z", "isAccessibleForFree": "False",'
          ' "hasPart": {"@type": "WebPageElement", "isAccessibleForFree": false, "cssSelector": ".paywall"}}</script>')
    art = extract_article(page(en_article(head=ld, paras=EN_PARAS[:2])))
    assert art.status is Status.PAYWALLED
    assert art.flags == ["paywall:isAccessibleForFree"]


def test_declared_paywall_with_a_full_body_is_a_flag_not_a_status() -> None:
    ld = ('<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Pacts signed",'
          ' "datePublished": "2026-11-13T10:45:00Z", "isAccessibleForFree": false}</script>')
    paras = [f"Part {i + 1}. {p}" for i, p in enumerate(EN_PARAS * 3)]
    art = extract_article(page(en_article(head=ld, paras=paras)))
    assert len(art.text) >= 2000
    assert art.status is Status.OK
    assert art.flags == ["declared_paywall"]


def test_paywalled_by_marker_after_body_japanese() -> None:
    html = f"""<html lang="ja"><head><meta charset="utf-8"><title>日英が枠組み｜新聞</title>
<meta property="og:type" content="article"></head><body><article><h1>日英が枠組み</h1><p>2026年11月15日 18:30</p>
<div class="body">{''.join(f'<p>{p}</p>' for p in JA_PARAS[:2])}</div>
<div class="paywall"><p>この記事は有料会員限定です。残り1234文字</p></div></article></body></html>"""
    art = extract_article(page(html, url="https://paper.example.jp/articles/ASN1234567.html", lang="ja", tz="Asia/Tokyo"))
    assert art.status is Status.PAYWALLED
    assert art.flags == ["paywall:marker"]


def test_members_signup_line_is_not_a_paywall() -> None:
    html = f"""<html lang="ja"><head><meta charset="utf-8"><title>日英が枠組み｜新聞</title></head><body>
<h1>日英が枠組み</h1><p class="date">2026年11月15日 18時30分</p>
<div class="article-body">{''.join(f'<p>{p}</p>' for p in JA_PARAS)}</div>
<p class="members">この記事の続報を受け取るには<a href="/members/register.html">会員登録（無料）</a>が必要です。</p></body></html>"""
    art = extract_article(page(html, url="http://tohto.example/news/20261115/k10015521843000.html", lang="ja", tz="Asia/Tokyo"))
    assert art.status is Status.OK


def test_truncated_teaser_with_continue_reading() -> None:
    html = en_article(head='<meta property="og:type" content="article">', paras=EN_PARAS[:1],
                      after_body='<p><a href="/full/">Continue reading</a></p>')
    art = extract_article(page(html))
    assert art.status is Status.TRUNCATED
    # (the only date near this one-paragraph page is a related link's, printed without a time)
    assert art.flags == ["truncated:continue-reading", "date_only"]
    long_html = en_article(head='<meta property="og:type" content="article">', paras=EN_PARAS * 3,
                           after_body='<p><a href="/full/">Continue reading</a></p>')
    assert extract_article(page(long_html)).status is Status.OK


def test_lang_falls_back_to_source_language() -> None:
    html = en_article(head='<meta property="og:type" content="article">').replace(' lang="en-GB"', "")
    assert extract_article(page(html, lang="en")).lang == "en"
    assert extract_article(page(html.replace("<html", '<html lang="EN-us"'), lang="ja")).lang == "en"


def test_updated_date_from_visible_line() -> None:
    html = f"""<html lang="ja"><head><meta charset="utf-8"><title>日英が枠組み | 日輪ニュース</title>
<meta property="og:type" content="article"></head><body><article><h1>日英が枠組み</h1>
<p class="meta"><span>2026/11/13 19:20</span>（更新 2026/11/14 08:05）</p>
<div class="article-body">{''.join(f'<p>{p}</p>' for p in JA_PARAS)}</div></article></body></html>"""
    art = extract_article(page(html, url="https://nichirin.example/news/2026/11/13/nr20261113_0142.html", lang="ja", tz="Asia/Tokyo"))
    assert art.published == datetime(2026, 11, 13, 19, 20, tzinfo=JST)
    assert art.updated == datetime(2026, 11, 14, 8, 5, tzinfo=JST)


def test_jsonld_article_body_used_when_page_body_is_cut() -> None:
    full = "\n\n".join(EN_PARAS * 2)
    import json as _json
    ld = ('<script type="application/ld+json">' + _json.dumps(
        {"@type": "NewsArticle", "headline": "Pacts signed", "datePublished": "2026-11-13T10:45:00Z", "articleBody": full}
    ) + "</script>")
    art = extract_article(page(en_article(head=ld, paras=EN_PARAS[:1])))
    assert art.text == full


def test_flagged_statuses_are_reasons_of_the_registry() -> None:
    # a stored-but-flagged article logs its status as the reason
    assert all(reasons.is_known(s.value) for s in Status if s is not Status.OK)
