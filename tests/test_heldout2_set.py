"""The second held-out set (issue 17, tests/data/heldout2) is consistent: what build.py writes
is what is committed, every label's page exists, decodes in the charset it declares (meta and
HTTP header), prints the labelled date in its site's zone and holds the labelled title, text,
key sentences and boilerplate; the events have a preview, an outcome and two parties'
reactions, each its own story told in both languages; the sites serve it all over real HTTP.

This checks the data only; the quality floors measured on it belong to the extraction tests.
"""
from __future__ import annotations

import html
import importlib.util
import itertools
import re
import urllib.request
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from tests.helpers.heldout import (
    HEADER_CHARSETS,
    HELDOUT,
    HELDOUT2,
    article_pattern,
    content_type,
    labels,
    sites,
    sources_yaml,
    start_heldout_sites,
)

CODECS = {"utf-8": "utf-8", "euc-jp": "euc_jp", "shift_jis": "shift_jis",
          "windows-1252": "cp1252"}
LABEL_FIELDS = {"id", "source", "lang", "path", "title", "authors", "dateline", "published",
                "story", "topics", "pact", "key_sentences", "boilerplate", "text", "event",
                "role", "party", "tables"}
PACT_EVENTS = ("cyber-sharing", "minerals-fund", "gcap-rome")
TOPICS = {"cyber", "minerals", "defence"}
# how each site prints the day of publication (in its own zone)
DAY_FORMATS = {
    "sanriku": lambda d: f"掲載日：{d.year}年{d.month}月{d.day}日 {d.hour}時{d.minute:02d}分",
    "chikuma": lambda d: f"{d.year}年{d.month}月{d.day}日（{'月火水木金土日'[d.weekday()]}）",
    "toyo": lambda d: f"{d:%Y.%m.%d %H:%M}",
    "meridian": lambda d: f"{d:%A} {d.day} {d:%B %Y, %H:%M} GMT",
    "severn": lambda d: f"{d.day} {d:%B %Y}",
    "tradewinds": lambda d: f"Posted: {d.day} {d:%B %Y, %H:%M} (Tokyo)",
}
_TAGS = re.compile(r"<[^>]+>")


def _file(key: str, path: str) -> Path:
    rel = path.lstrip("/")
    return HELDOUT2 / "site" / key / (rel + "index.html" if rel.endswith("/") or not rel else rel)


def _page(rec: dict) -> str:
    """The page of a label, decoded strictly in its site's charset, entities resolved."""
    info = sites(HELDOUT2)[rec["source"]]
    return html.unescape(_file(rec["source"], rec["path"]).read_bytes()
                         .decode(CODECS[info["charset"]]))


def _paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


@pytest.fixture(scope="module")
def recs() -> list[dict]:
    return labels(HELDOUT2)


def test_build_reproduces_the_committed_set(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("heldout2_build", HELDOUT2 / "build.py")
    assert spec and spec.loader
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    build.build(tmp_path)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(HELDOUT2) for p in (HELDOUT2 / "site").rglob("*")
                       if p.is_file()) + [Path("labels.jsonl"), Path("sites.json")]
    assert made == sorted(committed)
    changed = [p for p in made if (tmp_path / p).read_bytes() != (HELDOUT2 / p).read_bytes()]
    assert not changed, f"run tests/data/heldout2/build.py and commit: {changed}"


def test_sites_have_their_own_hosts_and_article_patterns(recs: list[dict]) -> None:
    info = sites(HELDOUT2)
    hosts = [s["host"] for s in info.values()]
    first = {s["host"] for s in sites(HELDOUT).values()}
    assert len(set(hosts)) == len(hosts) and not first & set(hosts)
    assert all(re.fullmatch(r"127\.0\.0\.2[1-7]", h) for h in hosts)
    assert {s["charset"] for s in info.values()} >= {"euc-jp", "shift_jis", "utf-8",
                                                      "windows-1252"}
    assert {s["lang"] for s in info.values()} == {"en", "ja"}
    for rec in recs:
        pattern = re.compile(article_pattern(rec["source"], info[rec["source"]]))
        assert pattern.search("http://h" + rec["path"]), rec["id"]
    for key, site in info.items():
        pattern = re.compile(article_pattern(key, site))
        for other in ("/", "/" + site.get("feed", site.get("sitemap", "")), "/robots.txt"):
            assert not pattern.search("http://h" + other), (key, other)


def test_labels_are_complete_and_unique(recs: list[dict]) -> None:
    assert 40 <= len(recs) <= 60
    assert len({r["id"] for r in recs}) == len(recs)
    assert len({(r["source"], r["path"]) for r in recs}) == len(recs)
    for rec in recs:
        assert set(rec) == LABEL_FIELDS, rec["id"]
        assert rec["lang"] == sites(HELDOUT2)[rec["source"]]["lang"]
        assert set(rec["topics"]) <= TOPICS and isinstance(rec["pact"], bool)
        assert len(rec["key_sentences"]) == 2
        assert datetime.fromisoformat(rec["published"]).utcoffset() == timedelta(0)
        assert all(a and a == a.strip() and not a.lower().startswith("by ")
                   and "記者" not in a and "文／" not in a for a in rec["authors"]), rec["id"]


def test_every_page_decodes_in_the_charset_it_declares(recs: list[dict]) -> None:
    for rec in recs:
        info = sites(HELDOUT2)[rec["source"]]
        file = _file(rec["source"], rec["path"])
        raw = file.read_bytes()
        text = raw.decode(CODECS[info["charset"]])  # strict: raises on a foreign byte
        declared = re.search(r"<meta[^>]*charset=\"?([\w-]+)", text, re.IGNORECASE)
        assert declared and declared.group(1).lower() == HEADER_CHARSETS[info["charset"]].lower()
        header = content_type(file, info["charset"])
        assert header.lower().endswith("charset=" + declared.group(1).lower()), header
        if info["charset"] != "utf-8":  # a page that is only ASCII would prove nothing
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")


def test_pages_hold_the_labelled_text_and_boilerplate(recs: list[dict]) -> None:
    for rec in recs:
        page = _page(rec)
        plain = _TAGS.sub("", page)
        assert rec["title"] in plain, rec["id"]
        paragraphs = _paragraphs(rec["text"])
        assert len(paragraphs) >= 1 and all(p.strip() == p and p for p in paragraphs)
        for para in paragraphs:
            assert para in plain, (rec["id"], para)
        for sentence in rec["key_sentences"]:
            assert sentence in rec["text"] and sentence in plain, (rec["id"], sentence)
        assert rec["boilerplate"], rec["id"]
        for line in rec["boilerplate"]:
            assert line in plain, (rec["id"], line)
            assert line not in rec["text"], (rec["id"], line)
        assert not rec["text"].startswith(rec["title"])
        for name in rec["authors"]:
            assert name in plain and name not in rec["text"], rec["id"]
        if rec["dateline"]:
            assert f'【{rec["dateline"]}＝{rec["authors"][0]}】{paragraphs[0]}' in plain


def test_pages_print_the_labelled_instant_in_their_zone(recs: list[dict]) -> None:
    for rec in recs:
        tz = ZoneInfo(sites(HELDOUT2)[rec["source"]]["tz"])
        local = datetime.fromisoformat(rec["published"]).astimezone(tz)
        printed = DAY_FORMATS[rec["source"]](local)
        assert printed in rec["boilerplate"], (rec["id"], printed)
        assert printed in _TAGS.sub("", _page(rec)), (rec["id"], printed)


def test_feeds_list_every_article_with_its_instant(recs: list[dict]) -> None:
    for key, info in sites(HELDOUT2).items():
        name = info.get("feed") or info["sitemap"]
        root = etree.fromstring((HELDOUT2 / "site" / key / name).read_bytes())
        found: dict[str, datetime] = {}
        for el in root.iter():
            if not isinstance(el.tag, str):
                continue
            tag = etree.QName(el).localname
            if tag in ("item", "entry", "url"):
                link = next(c for c in el.iter() if isinstance(c.tag, str) and etree.QName(c)
                            .localname in ("link", "loc"))
                url = link.get("href") or link.text
                when = next(c.text for c in el.iter() if isinstance(c.tag, str) and etree.QName(c)
                            .localname in ("pubDate", "published", "date", "publication_date"))
                found[url.replace("__BASE__", "")] = (
                    datetime.strptime(when, "%a, %d %b %Y %H:%M:%S %z")
                    if tag == "item" and "," in when else datetime.fromisoformat(when))
        mine = [r for r in recs if r["source"] == key]
        assert sorted(found) == sorted(r["path"] for r in mine), key
        for rec in mine:
            assert found[rec["path"]] == datetime.fromisoformat(rec["published"]), rec["id"]


def test_data_table_is_in_the_page_as_a_table(recs: list[dict]) -> None:
    with_tables = [r for r in recs if r["tables"]]
    assert with_tables and {r["source"] for r in with_tables} == {"sanriku"}
    for rec in with_tables:
        tree = etree.HTML(_file(rec["source"], rec["path"]).read_bytes(),
                          etree.HTMLParser(encoding="euc-jp"))
        for table in rec["tables"]:
            found = [t for t in tree.iter("table") if t.findtext("caption") == table["caption"]]
            assert len(found) == 1, rec["id"]
            rows = [[("".join(c.itertext())) for c in tr if c.tag in ("td", "th")]
                    for tr in found[0].iter("tr")]
            assert rows == [table["head"], *table["rows"]]
            assert [c.tag for c in next(found[0].iter("tr"))] == ["th"] * len(table["head"])
            assert 0 < table["after"] < len(_paragraphs(rec["text"]))


def test_events_have_preview_outcome_and_two_reactions_as_stories(recs: list[dict]) -> None:
    by_story: dict[str, list[dict]] = defaultdict(list)
    for rec in recs:
        by_story[rec["story"]].append(rec)
    for story, group in by_story.items():  # one role per story
        assert len({(r["event"], r["role"], r["party"]) for r in group}) == 1, story
    events: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for rec in recs:
        if rec["event"]:
            events[rec["event"]][rec["role"]].add(rec["story"])
    assert set(PACT_EVENTS) <= set(events)
    for event in PACT_EVENTS:
        roles = events[event]
        assert len(roles["preview"]) == 1 and len(roles["outcome"]) == 1, event
        assert len(roles["reaction"]) >= 2, event
        parties = {r["party"] for r in recs if r["event"] == event and r["role"] == "reaction"}
        assert len(parties) == len(roles["reaction"]), event
        stories = roles["preview"] | roles["outcome"] | roles["reaction"]
        assert len(stories) == 2 + len(roles["reaction"]), event
        for story in stories:  # each told in both languages, by two sites at least
            group = by_story[story]
            assert {r["lang"] for r in group} == {"en", "ja"}, story
            assert len({r["source"] for r in group}) >= 2, story
            assert all(r["pact"] for r in group), story
        (preview,), (outcome,) = roles["preview"], roles["outcome"]
        last_preview = max(r["published"] for r in by_story[preview])
        first_outcome = min(r["published"] for r in by_story[outcome])
        assert last_preview < first_outcome, event
        for story in roles["reaction"]:
            assert min(r["published"] for r in by_story[story]) > first_outcome, story
    # stories outside the events stand alone; pairs exist across languages and across sites
    pairs = [(a, b) for a, b in itertools.combinations(recs, 2) if a["story"] == b["story"]]
    assert sum(a["lang"] != b["lang"] for a, b in pairs) >= 15
    assert sum(a["lang"] == b["lang"] for a, b in pairs) >= 3
    assert all(a["source"] != b["source"] for a, b in pairs)


def test_traps_of_issue_17_are_present(recs: list[dict]) -> None:
    def count(key: str, needle: str) -> int:
        return sum(needle in _file(key, r["path"]).read_bytes().decode(
            CODECS[sites(HELDOUT2)[key]["charset"]]) for r in recs if r["source"] == key)

    n = {key: sum(r["source"] == key for r in recs) for key in sites(HELDOUT2)}
    for key in ("sanriku", "chikuma", "tradewinds"):  # the article in a layout table's cell
        assert count(key, "<article") == 0 and count(key, "<td") == n[key]
    assert count("sanriku", '<div class="midashi"><h2>') == n["sanriku"]
    assert count("chikuma", "<br><br>") >= 2
    assert count("meridian", '<div class="article">\n<h1>') == n["meridian"]
    assert count("toyo", '<div id="main">\n<h1>') == n["toyo"]
    assert count("meridian", "<article") == count("toyo", "<article") == 0
    short = [r for r in recs if r["source"] in ("toyo", "severn")
             and len(r["text"]) < (120 if r["lang"] == "ja" else 260)]
    assert len([r for r in short if r["source"] == "toyo"]) >= 3
    assert len([r for r in short if r["source"] == "severn"]) >= 3
    for key in ("toyo", "severn"):  # one footer line on every page, right after the body
        lines = set.intersection(*(set(r["boilerplate"]) for r in recs if r["source"] == key))
        assert len(lines) == 1, key
    assert sum(bool(r["dateline"]) for r in recs if r["source"] == "toyo") >= 2


def test_sites_serve_every_page_over_http(recs: list[dict], tmp_path: Path) -> None:
    from newsmon.crawler.sources import load_sources

    servers = start_heldout_sites(HELDOUT2)
    try:
        (tmp_path / "sources.yaml").write_text(sources_yaml(servers, HELDOUT2), "utf-8")
        sources = {s.id: s for s in load_sources(tmp_path / "sources.yaml")}
        assert set(sources) == set(sites(HELDOUT2))
        assert sources["severn"].sitemaps and not sources["severn"].feeds
        for rec in recs:
            url = servers[rec["source"]].base + rec["path"]
            assert sources[rec["source"]].is_article_url(url), url
            with urllib.request.urlopen(url, timeout=10) as resp:
                body = resp.read()
                ctype = resp.headers["Content-Type"]
            charset = sites(HELDOUT2)[rec["source"]]["charset"]
            assert ctype == f"text/html; charset={HEADER_CHARSETS[charset]}"
            assert body == _file(rec["source"], rec["path"]).read_bytes().replace(
                b"__BASE__", servers[rec["source"]].base.encode())
    finally:
        for srv in servers.values():
            srv.stop()
