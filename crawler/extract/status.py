"""Whether a page is an article, and whether it is all of one: bot challenges, paywalls and
"continue reading" teasers.

``paywalled`` means the text we have is cut short by a paywall. A JSON-LD
``isAccessibleForFree: false`` with a body of full length and no paywall notice is the flag
``declared_paywall`` on an OK article, not a status that hides it from search or alerts."""
from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from newsmon.crawler.extract.body import Body, prose
from newsmon.crawler.extract.metadata import ARTICLE_TYPES, PageMetadata
from newsmon.crawler.extract.visible import Visible, paragraphs
from newsmon.index.core import reasons
from newsmon.index.core.article import Status
from newsmon.index.core.errors import ExtractError

__all__ = ["challenge_kind", "page_status", "require_article"]

_CHALLENGE_TITLE = re.compile(
    r"^\s*(just a moment|attention required|access denied|please wait|security check|"
    r"are you a (?:robot|human)|verify(?:ing)? you are (?:a )?human|pardon our interruption|"
    r"one more step|robot check|ddos-guard|captcha|you have been blocked|"
    r"アクセスが拒否されました|ロボットではありません)",
    re.I,
)
_CHALLENGE_MARKERS: tuple[tuple[bytes, str], ...] = (
    (b"cf_chl_opt", "cloudflare"),
    (b"cf-browser-verification", "cloudflare"),
    (b"challenges.cloudflare.com/turnstile", "cloudflare"),
    (b"captcha-delivery.com", "datadome"),
    (b"_incapsula_resource", "incapsula"),
    (b"px-captcha", "perimeterx"),
    (b"distil_r_captcha", "distil"),
    (b"awswaf", "aws-waf"),
)
_PAYWALL_TEXT = re.compile(
    r"(有料会員(?:限定|の方|登録)|会員限定(?:記事|です)|この記事は有料|続きは有料|"
    r"残り\s*\d[\d,]*\s*文字|有料プラン|プレミアム会員限定|"
    r"subscribe (?:now )?to (?:continue|read|keep reading)|subscribers? only|"
    r"this (?:article|story|content) is (?:only )?(?:available )?(?:exclusively )?for (?:paid )?subscribers|"
    r"already a subscriber\?|to continue reading,? (?:please )?(?:subscribe|log ?in|sign ?in)|"
    r"start your (?:free )?trial to (?:read|continue))",
    re.I,
)
_TRUNCATED_TEXT = re.compile(
    r"(continue reading|read the full (?:story|article)|read full (?:story|article)|"
    r"full story|続きを読む|全文を読む|全文はこちら|記事全文|続きはこちら|この記事の続き)",
    re.I,
)
# below these body lengths (characters) a "continue reading" marker means the text is cut short
_SHORT_BODY = {"ja": 800, "en": 2000}
# main text at least this long makes a page an article even with no article markup
_ARTICLE_MIN = {"ja": 150, "en": 400}
_LONG_TEXT = {"ja": 500, "en": 1500}
# a brief (a paragraph or two) is an article when its URL looks like one, its headline agrees
# with the declared title and a date is printed under the headline: a section or static page
# shows neither that headline nor that date
_BRIEF_MIN = {"ja": 40, "en": 120}
# a challenge page with this much main text is an article behind a challenge banner
_CHALLENGE_BODY = 200
# article URLs carry a date, a numeric id or a slug of words; section and static pages rarely do
_ARTICLE_URL = re.compile(r"/(?:19|20)\d\d[/-]?\d\d|\d{5,}|[^/]*[a-z0-9]+-[a-z0-9]+-[a-z0-9]+-[a-z0-9]+", re.I)


def challenge_kind(html_title: str | None, text: str) -> str | None:
    """Which bot challenge the page shows ('title', 'cloudflare', …), else None."""
    if html_title and _CHALLENGE_TITLE.match(html_title):
        return "title"
    # the markers are ASCII: lowering UTF-8 bytes is several times cheaper than lowering a
    # str that holds any non-ASCII character, and finds the same markers
    low = text[:200_000].encode("utf-8", "surrogatepass").lower()
    for marker, kind in _CHALLENGE_MARKERS:
        if marker in low:
            return kind
    return None


def require_article(url: str, tree: HtmlElement, vis: Visible, body: Body, challenge: str | None,
                    meta: PageMetadata, published: datetime | None, date_origin: str | None,
                    lang_key: str, headline: bool = False) -> None:
    """Raise ``ExtractError`` (challenge / empty / not_article) unless the page is an article.
    ``headline``: the page's visible headline agrees with a declared title."""
    if challenge and len(body.text) < _CHALLENGE_BODY:
        raise ExtractError(f"bot challenge ({challenge}): {url}", reason=reasons.CHALLENGE)
    if not vis.text.strip():
        raise ExtractError(f"no visible text: {url}", reason=reasons.EMPTY)
    strong = bool(
        (meta.ld_type and meta.ld_type in ARTICLE_TYPES)
        or meta.og_type == "article"
        or date_origin in ("jsonld", "meta", "itemprop")
    )
    article_url = _ARTICLE_URL.search(urlsplit(url).path) is not None
    weak = published is not None or tree.find(".//article") is not None or article_url
    # Lists of teasers are what section and home pages are made of; prose is what articles are.
    chars = prose(body.paragraphs)
    wide_chars = prose(paragraphs(body.wider)) if body.wider is not None else 0
    if not (
        strong
        or (weak and chars >= _ARTICLE_MIN[lang_key])
        or chars >= _LONG_TEXT[lang_key]
        # recall mode's text only counts where the URL itself looks like an article's: on other
        # pages it is the whole page's text (navigation, teaser lists) and proves nothing
        or (article_url and wide_chars >= _ARTICLE_MIN[lang_key])
        or (article_url and headline and date_origin in ("time", "visible")
            and chars >= _BRIEF_MIN[lang_key])
    ):
        raise ExtractError(f"no article signals, {chars} chars of prose: {url}", reason=reasons.NOT_ARTICLE)


def page_status(paras: list[str], vis: Visible, end: int | None, challenge: str | None,
                meta: PageMetadata, lang_key: str) -> tuple[Status, list[str]]:
    """(status, evidence flags) of an article's body: OK, or CHALLENGE / PAYWALLED / TRUNCATED."""
    body_len = len("\n\n".join(paras))
    # the paywall / "continue reading" notice sits at the end of the body or right after it
    after = (paras[-1] if paras else "") + "\n" + (vis.text[end : end + 400] if end is not None else "")
    if challenge:
        return Status.CHALLENGE, [f"challenge:{challenge}"]
    if meta.ld_free is False:
        # a publisher's declaration is not a cut: with a body of full length it is a flag on a
        # whole article (on 1,200 corpus pages, 124 declared it; one had 14,000 characters)
        if body_len >= _SHORT_BODY[lang_key] and not _PAYWALL_TEXT.search(after):
            return Status.OK, ["declared_paywall"]
        return Status.PAYWALLED, ["paywall:isAccessibleForFree"]
    if _PAYWALL_TEXT.search(after) and body_len < 2 * _SHORT_BODY[lang_key]:
        return Status.PAYWALLED, ["paywall:marker"]
    if _TRUNCATED_TEXT.search(after) and body_len < _SHORT_BODY[lang_key]:
        return Status.TRUNCATED, ["truncated:continue-reading"]
    return Status.OK, []
