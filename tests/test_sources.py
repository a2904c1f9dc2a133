"""The shipped source list (config/sources.yaml) and the source loader's validation."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from newsmon.crawler.sources import KEYS, Source, load_sources, select_sources
from newsmon.index.core.errors import ConfigError

SOURCES_FILE = Path(__file__).resolve().parents[1] / "config" / "sources.yaml"


@pytest.fixture(scope="module")
def shipped() -> list[Source]:
    return load_sources(SOURCES_FILE)


def _by_id(sources: list[Source]) -> dict[str, Source]:
    return {s.id: s for s in sources}


def _hosts(source: Source) -> set[str]:
    return {(urlsplit(u).hostname or "") for u in source.start_urls}


# ── the shipped file ────────────────────────────────────────────────────────────────────────


def test_shipped_file_has_enough_sources_per_language(shipped: list[Source]) -> None:
    enabled = [s for s in shipped if s.enabled]
    en = [s.id for s in enabled if "en" in s.langs]
    ja = [s.id for s in enabled if "ja" in s.langs]
    assert len(en) >= 6, en
    assert len(ja) >= 6, ja


def test_shipped_ids_are_unique_in_the_raw_file() -> None:
    # Read the YAML without the loader too, so a loader that stopped checking would not hide it.
    raw = yaml.safe_load(SOURCES_FILE.read_text(encoding="utf-8"))["sources"]
    ids = [entry["id"] for entry in raw]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_shipped_top_comment_explains_every_key() -> None:
    lines = SOURCES_FILE.read_text(encoding="utf-8").splitlines()
    header = "\n".join(line for line in lines[: lines.index("sources:")] if line.startswith("#"))
    missing = [key for key in KEYS if not re.search(rf"#\s+{key}\s", header)]
    assert not missing, f"keys not explained in the top comment: {missing}"


def test_every_shipped_source_can_discover_and_cites_its_urls(shipped: list[Source]) -> None:
    for src in shipped:
        assert src.start_urls, src.id
        assert src.domains, src.id
        assert src.notes.strip(), f"{src.id}: say in notes where the URLs came from"


def test_every_shipped_url_is_absolute_http(shipped: list[Source]) -> None:
    for src in shipped:
        for url in src.start_urls:
            parts = urlsplit(url)
            assert parts.scheme in ("http", "https") and parts.hostname, (src.id, url)
        # Section pages are pages of the site itself: outside the domains, none of their links
        # could be followed.
        for url in src.sections:
            assert src.allows_domain(url), (src.id, url)


def test_shipped_coverage_of_official_sites_and_broadcasters(shipped: list[Source]) -> None:
    enabled = [s for s in shipped if s.enabled]
    uk_gov = [s.id for s in enabled if any(h == "www.gov.uk" for h in _hosts(s))]
    jp_gov = [s.id for s in enabled if any(h.endswith(".go.jp") for h in _hosts(s))]
    ncsc = [s.id for s in enabled if any(h.endswith("ncsc.gov.uk") for h in _hosts(s))]
    assert uk_gov and jp_gov and ncsc, (uk_gov, jp_gov, ncsc)
    # GOV.UK: the foreign, defence and trade departments each have a feed.
    gov_feeds = " ".join(u for s in enabled for u in s.feeds if "www.gov.uk" in u)
    for org in ("foreign-commonwealth-development-office", "ministry-of-defence",
                "department-for-business-and-trade"):
        assert org in gov_feeds, org
    # Japan: foreign, defence and economy ministries and the Prime Minister's Office.
    for host in ("www.mofa.go.jp", "www.mod.go.jp", "www.meti.go.jp", "www.kantei.go.jp"):
        assert any(host in _hosts(s) and "ja" in s.langs for s in enabled), host
    broadcasters = {"en": ("bbc.co.uk", "bbc.com", "nhk.or.jp"), "ja": ("bbc.com", "nhk")}
    for lang, marks in broadcasters.items():
        found = [s.id for s in enabled
                 if lang in s.langs and any(m in h for h in s.domains for m in marks)]
        assert found, f"no public broadcaster in {lang}"


# Article and non-article URLs per source, shaped like those quoted in each entry's notes: the
# allow/deny regexes must keep the first and drop the second.
ARTICLE_CASES = [
    ("gov-uk-fcdo", "https://www.gov.uk/government/news/uk-and-japan-sign-cyber-partnership", True),
    ("gov-uk-fcdo", "https://www.gov.uk/government/organisations/foreign-commonwealth-development-office", False),
    ("ncsc-uk", "https://www.ncsc.gov.uk/news/uk-japan-cyber-partnership", True),
    ("ncsc-uk", "https://www.ncsc.gov.uk/section/about-ncsc/what-we-do", False),
    ("mofa-ja", "https://www.mofa.go.jp/mofaj/press/release/pressit_000001_00943.html", True),
    ("mofa-ja", "https://www.mofa.go.jp/mofaj/press/release/index.html", False),
    ("mod-ja", "https://www.mod.go.jp/j/press/news/2025/12/24a.html", True),
    ("mod-ja", "https://www.mod.go.jp/j/press/news/2026/10/05b.pdf", False),
    ("mod-ja", "https://www.mod.go.jp/j/press/news/index.html", False),
    ("meti-ja", "https://www.meti.go.jp/press/2024/01/20240119001/20240119001.html", True),
    ("meti-ja", "https://www.meti.go.jp/press/2024/01/20240119001/20240119001-1.pdf", False),
    ("bbc-news", "https://www.bbc.com/news/articles/c0k8xyz12pqo?at_medium=RSS&at_campaign=rss", True),
    ("bbc-news", "https://www.bbc.co.uk/news/world-asia-63480572", True),
    ("bbc-news", "https://www.bbc.co.uk/news/live/world-asia-63480572", False),
    ("bbc-news", "https://www.bbc.co.uk/news/world/asia", False),
    ("bbc-japanese", "https://www.bbc.com/japanese/articles/c4gexyz12abo", True),
    ("bbc-japanese", "https://www.bbc.com/japanese/video-67812345", False),
    ("nhk-news", "https://news.web.nhk/newsweb/na/na-k10015174811000", True),
    ("nhk-news", "https://news.web.nhk/newsweb/na/nd-20260919de51229", True),
    ("nhk-news", "https://news.web.nhk/newsweb/", False),
    ("asahi", "https://www.asahi.com/articles/AST1F4445T1FUTIL02SM.html", True),
    ("asahi", "https://www.asahi.com/politics/", False),
    ("mainichi", "https://mainichi.jp/articles/20250114/k00/00m/030/335000c", True),
    ("mainichi", "https://mainichi.jp/english/articles/20250114/p2a/00m/0na/012000c", False),
    ("mainichi-en", "https://mainichi.jp/english/articles/20250114/p2a/00m/0na/012000c", True),
    ("mainichi-en", "https://mainichi.jp/articles/20250114/k00/00m/030/335000c", False),
    ("yomiuri", "https://www.yomiuri.co.jp/world/20241203-OYT1T50218/", True),
    ("yomiuri", "https://www.yomiuri.co.jp/world/", False),
    ("japan-news", "https://japannews.yomiuri.co.jp/politics/politics-government/20241013-216478/", True),
    ("japan-news", "https://japannews.yomiuri.co.jp/politics/", False),
    ("sankei", "https://www.sankei.com/article/20260522-4KFK6QELLFA2LAZ5OHMD2KAYBA/", True),
    ("sankei", "https://www.sankei.com/politics/", False),
    ("nikkei", "https://www.nikkei.com/article/DGXZQOUB148MY0U5A110C2000000/", True),
    ("japan-times",
     "https://www.japantimes.co.jp/news/2026/03/16/asia-pacific/politics/taiwan-blockade/", True),
    ("japan-times", "https://www.japantimes.co.jp/news/", False),
]


@pytest.mark.parametrize(("sid", "url", "expected"), ARTICLE_CASES)
def test_shipped_url_rules(shipped: list[Source], sid: str, url: str, expected: bool) -> None:
    assert _by_id(shipped)[sid].is_article_url(url) is expected


# ── validation messages ─────────────────────────────────────────────────────────────────────

GOOD = {"id": "good", "name": "Good", "lang": "en", "feeds": ["https://example.org/feed.xml"]}


def _write(tmp_path: Path, second: object) -> Path:
    """A file whose first entry is valid and whose second is the one under test (index 1)."""
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [GOOD, second]}, allow_unicode=True),
                    encoding="utf-8")
    return path


def _entry(**changes: object) -> dict[str, object]:
    entry: dict[str, object] = {"id": "bad-one", "lang": "ja",
                                "feeds": ["https://example.jp/rss.xml"]}
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None}


MISTAKES = [
    # (entry, key the message must name, extra text the message must contain)
    (_entry(feed=["https://example.jp/rss.xml"]), "feed", "allowed:"),
    (_entry(lang="fr"), "lang", "en, ja"),
    (_entry(lang=["ja", "de"]), "lang", "en, ja"),
    (_entry(lang=None), "lang", "en, ja"),
    (_entry(allow=["(unclosed"]), "allow", "(unclosed"),
    (_entry(deny=["[a-"]), "deny", "[a-"),
    (_entry(feeds=["example.jp/rss.xml"]), "feeds", "example.jp/rss.xml"),
    (_entry(feeds=["ftp://example.jp/rss.xml"]), "feeds", "ftp://"),
    (_entry(feeds="https://example.jp/rss.xml"), "feeds", "list"),
    (_entry(sitemaps=["/sitemap.xml"]), "sitemaps", "/sitemap.xml"),
    (_entry(sections=[42]), "sections", "42"),
    (_entry(tz="Asia/Tokio"), "tz", "Asia/Tokio"),
    (_entry(tz="America"), "tz", "America"),
    (_entry(enabled="no"), "enabled", "'no'"),
    (_entry(robots_sitemaps=1), "robots_sitemaps", "true or false"),
    (_entry(feeds=None), "feeds", "sitemaps"),
    (_entry(domains=["https://example.jp"]), "domains", "host names"),
    (_entry(domains="example.jp"), "domains", "host names"),
    (_entry(id="Bad_Id"), "id", "lower-case"),
]


@pytest.mark.parametrize(("entry", "key", "extra"), MISTAKES,
                         ids=[f"{m[1]}-{i}" for i, m in enumerate(MISTAKES)])
def test_mistake_names_file_entry_and_key(tmp_path: Path, entry: dict[str, object],
                                          key: str, extra: str) -> None:
    path = _write(tmp_path, entry)
    with pytest.raises(ConfigError) as err:
        load_sources(path)
    message = str(err.value)
    assert str(path) in message
    assert "sources[1]" in message
    assert f"id={entry['id']}" in message
    assert re.search(rf"'{key}'|unknown key\(s\) {key}\b", message), message
    assert extra in message


def test_missing_id_names_the_index_and_key(tmp_path: Path) -> None:
    path = _write(tmp_path, {"lang": "en", "feeds": ["https://example.org/a.xml"]})
    with pytest.raises(ConfigError, match=r"sources\[1\]: 'id' must be") as err:
        load_sources(path)
    assert str(path) in str(err.value)


def test_unknown_key_lists_the_allowed_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, _entry(langs=["ja"]))
    with pytest.raises(ConfigError) as err:
        load_sources(path)
    message = str(err.value)
    assert "unknown key(s) langs" in message
    for key in KEYS:
        assert key in message.split("allowed:")[1]


def test_duplicate_id_names_the_second_entry(tmp_path: Path) -> None:
    path = _write(tmp_path, dict(GOOD))
    with pytest.raises(ConfigError) as err:
        load_sources(path)
    assert str(err.value) == f"{path}: sources[1] (id=good): duplicate id 'good'"


def test_entry_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path, "https://example.org/feed.xml")
    with pytest.raises(ConfigError, match=r"sources\[1\] must be a mapping with keys"):
        load_sources(path)


@pytest.mark.parametrize(("text", "expected"), [
    ("sources: [\n  {id: a,\n", "not valid YAML"),
    ("", "expected a list of sources"),
    ("feeds: [https://example.org/feed.xml]\n", "expected a list of sources"),
])
def test_file_level_mistakes(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected) as err:
        load_sources(path)
    assert str(path) in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sources file not found"):
        load_sources(tmp_path / "nope.yaml")


def test_bare_list_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump([
        {"id": "jp", "lang": "ja", "sitemaps": ["https://News.Example.jp/sitemap.xml"]},
        {"id": "both", "lang": ["en", "ja"], "sections": ["https://example.org/list"],
         "tz": "Europe/London", "enabled": False},
    ]), encoding="utf-8")
    jp, both = load_sources(path)
    assert (jp.name, jp.lang, jp.domains, jp.default_tz()) == (
        "jp", "ja", ("news.example.jp",), "Asia/Tokyo")
    assert jp.enabled and not jp.robots_sitemaps
    assert (both.langs, both.lang, both.default_tz(), both.enabled) == (
        ("en", "ja"), "en", "Europe/London", False)


# ── Source.is_article_url ───────────────────────────────────────────────────────────────────


def _source(**kw: object) -> Source:
    return Source(id="s", name="S", langs=("en",), feeds=("https://feeds.example.org/rss",),
                  **kw)  # type: ignore[arg-type]


def test_is_article_url_domain_and_subdomains() -> None:
    src = _source(domains=("example.org",))
    assert src.is_article_url("https://example.org/a/1")
    assert src.is_article_url("https://www.example.org/a/1")
    assert src.is_article_url("http://WWW.Example.ORG/a/1")
    assert not src.is_article_url("https://badexample.org/a/1")
    assert not src.is_article_url("https://example.org.evil.test/a/1")
    assert not src.is_article_url("https://other.test/a/1")
    assert not src.is_article_url("not a url")


def test_is_article_url_allow_and_deny() -> None:
    src = _source(domains=("example.org",),
                  allow=(re.compile(r"/articles/\d+"), re.compile(r"/news/\d{8}/")),
                  deny=(re.compile(r"/live/"), re.compile(r"\.pdf$")))
    assert src.is_article_url("https://example.org/articles/123")
    assert src.is_article_url("https://example.org/news/20250101/x")
    assert not src.is_article_url("https://example.org/section/politics")
    assert not src.is_article_url("https://example.org/live/articles/123")  # deny wins
    assert not src.is_article_url("https://example.org/articles/123.pdf")


def test_is_article_url_without_allow_takes_any_page_on_the_domains() -> None:
    src = _source(domains=("example.org",), deny=(re.compile(r"/tag/"),))
    assert src.is_article_url("https://example.org/whatever")
    assert not src.is_article_url("https://example.org/tag/japan")


def test_default_domains_are_the_start_url_hosts(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump([{"id": "a", "lang": "en",
                                     "feeds": ["https://feeds.example.org/rss"],
                                     "sections": ["https://www.example.org/news"]}]),
                    encoding="utf-8")
    (src,) = load_sources(path)
    assert src.domains == ("feeds.example.org", "www.example.org")
    assert src.is_article_url("https://www.example.org/news/1")
    assert not src.is_article_url("https://example.org/news/1")  # parent domain not implied


# ── select_sources ──────────────────────────────────────────────────────────────────────────


def _three() -> list[Source]:
    return [
        Source(id="a", name="A", langs=("en",), feeds=("https://a.test/f",)),
        Source(id="b", name="B", langs=("ja",), feeds=("https://b.test/f",), enabled=False),
        Source(id="c", name="C", langs=("ja",), feeds=("https://c.test/f",)),
    ]


def test_select_sources_defaults_to_enabled() -> None:
    assert [s.id for s in select_sources(_three(), None)] == ["a", "c"]
    assert [s.id for s in select_sources(_three(), [])] == ["a", "c"]


def test_select_sources_by_name_keeps_order_and_includes_disabled() -> None:
    assert [s.id for s in select_sources(_three(), ["c", "b"])] == ["c", "b"]


def test_select_sources_unknown_id_lists_known_ids() -> None:
    with pytest.raises(ConfigError) as err:
        select_sources(_three(), ["a", "zz", "yy"])
    assert str(err.value) == "unknown source id(s): zz, yy; known: a, b, c"


def test_select_sources_against_shipped_file(shipped: list[Source]) -> None:
    assert [s.id for s in select_sources(shipped, ["nhk-news", "bbc-news"])] == [
        "nhk-news", "bbc-news"]
    with pytest.raises(ConfigError, match="known: .*gov-uk-fcdo"):
        select_sources(shipped, ["no-such-source"])


def test_feed_on_another_host_is_fetchable_but_does_not_widen_the_domains(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text(
        "- id: bbc\n  lang: en\n  feeds: [https://feeds.bbci.co.uk/news/world/asia/rss.xml]\n"
        "  domains: [bbc.co.uk]\n"
    )
    (source,) = load_sources(path)
    assert source.allows_domain("https://feeds.bbci.co.uk/news/world/asia/rss.xml")
    assert source.allows_domain("https://www.bbc.co.uk/news/articles/c1")
    assert not source.allows_domain("https://other.bbci.co.uk/news/x")
    assert not source.allows_domain("https://bbci.co.uk/news/x")
