"""`newsmon serve` over a real store (the demo sites crawled, enriched and indexed by the real
commands), spoken to over real HTTP: endpoints, filters, errors, the API key, the CLI."""
from __future__ import annotations

import html
import json
import re
import socket
import urllib.parse
from collections import Counter
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from newsmon.index.store import Store
from tests.helpers.atom import check_atom
from tests.helpers.served import Served, newsmon, serve
from tests.serve.conftest import API_KEY

WEB_DIR = Path(__file__).resolve().parents[2] / "newsmon" / "serve" / "web"


def q(**params: object) -> str:
    return urllib.parse.urlencode(params, doseq=True)


def search(served: Served, **params: object) -> dict:
    status, body = served.get_json("/api/search?" + q(**params))
    assert status == 200, body
    return body  # type: ignore[return-value]


def store_articles(config: Path) -> dict:
    with Store(config.parent / "newsmon.db") as store:
        return {a.id: a for a in store.articles.iter()}


def test_japanese_query_finds_japanese_coverage_with_marked_snippets(served: Served) -> None:
    body = search(served, q="日英 重要鉱物")
    assert body["query"] == "日英 重要鉱物" and body["mode"] == "hybrid"
    hits = body["results"]
    assert hits, body
    top = hits[0]
    assert top["lang"] == "ja" and "重要鉱物" in top["title"], [h["title"] for h in hits]
    assert "<mark>" in top["snippet"] and "minerals" in top["topics"]
    for hit in hits:
        assert set(hit) >= {"id", "url", "title", "lang", "source", "published", "topics",
                            "story", "score", "snippet", "also", "matched"}
        # the crawled body repeats the headline (after a kicker, 経済): the page shows the title
        # above the snippet, so the snippet leaves it out
        assert hit["title"] not in html.unescape(re.sub("</?mark>", "", hit["snippet"])), hit
    assert isinstance(body["took_ms"], float) and isinstance(body["confident"], bool)
    assert sum(body["facets"]["lang"].values()) == len(hits)   # what is listed


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
def test_language_filter_in_every_mode(served: Served, mode: str) -> None:
    for lang in ("en", "ja"):
        hits = search(served, q="UK Japan 日英", mode=mode, lang=lang, limit=20)["results"]
        assert hits and {h["lang"] for h in hits} == {lang}, (mode, lang, hits)


def test_topic_source_and_date_filters(served: Served) -> None:
    hits = search(served, q="partnership agreement", topic="minerals", limit=20)["results"]
    assert hits and all("minerals" in h["topics"] for h in hits)
    hits = search(served, q="Japan", source="demo-pacific-ledger", mode="keyword",
                  collapse="false", limit=20)["results"]
    assert hits and {h["source"] for h in hits} == {"demo-pacific-ledger"}
    hits = search(served, q="Japan 日英", since="2025-06-01", limit=20)["results"]
    assert hits
    for h in hits:
        assert datetime.fromisoformat(h["published"]) >= datetime(2025, 6, 1,
                                                                  tzinfo=UTC)
    status, body = served.get_json("/api/search?" + q(q="x", topic="no-such-topic"))
    assert status == 400 and "no-such-topic" in body["message"]  # type: ignore[index]


def test_one_result_per_story_with_its_other_coverage(served: Served) -> None:
    collapsed = search(served, q="critical minerals deal battery", lang="en", limit=20)
    stories = [h["story"] for h in collapsed["results"]]
    assert len(stories) == len(set(stories))
    minerals = [h for h in collapsed["results"] if h["also"]]
    assert minerals, collapsed["results"]
    hit = minerals[0]
    other = hit["also"][0]
    assert other["id"] != hit["id"] and set(other) >= {"id", "url", "title", "lang", "source"}
    flat = search(served, q="critical minerals deal battery", lang="en", limit=20,
                  collapse="false")
    # the other coverage may be in another language (outside lang=en): what the flat list
    # shows of the hit's story is the hit plus members listed under it
    same_story = {h["id"] for h in flat["results"] if h["story"] == hit["story"]}
    assert hit["id"] in same_story
    assert same_story - {hit["id"]} <= {o["id"] for o in hit["also"]}


def test_article_and_story_endpoints(served: Served, demo_config: Path) -> None:
    arts = store_articles(demo_config)
    ja = next(a for a in arts.values() if a.title.startswith("重要鉱物"))
    status, body = served.get_json(f"/api/articles/{ja.id}")
    assert status == 200
    assert body == json.loads(json.dumps(ja.to_dict()))  # exactly the export shape
    by_story = Counter(a.story for a in arts.values())
    story, size = by_story.most_common(1)[0]
    assert size >= 2
    status, body = served.get_json(f"/api/stories/{story}")
    assert status == 200 and body["story"] == story  # type: ignore[index]
    assert {a["id"] for a in body["articles"]} == \
        {a.id for a in arts.values() if a.story == story}  # type: ignore[index]
    for path in ("/api/articles/" + "0" * 24, "/api/stories/" + "0" * 24):
        status, body = served.get_json(path)
        assert status == 404 and "no " in body["message"]  # type: ignore[index]
    status, body = served.get_json("/api/articles/not-an-id")
    assert status == 422 and "article_id" in body["message"]  # type: ignore[index]


def test_coverage_per_day_counts_labelled_articles(served: Served, demo_config: Path) -> None:
    status, body = served.get_json("/api/coverage")
    assert status == 200
    days = body["days"]  # type: ignore[index]
    expected: Counter[tuple[str, str]] = Counter()
    for a in store_articles(demo_config).values():
        for topic, value in a.topics.items():
            if value.get("label") and a.published:
                expected[(a.published.astimezone(UTC).date().isoformat(), topic)] += 1
    assert {(d["day"], d["topic"]): d["count"] for d in days} == dict(expected)
    status, body = served.get_json("/api/coverage?since=2025-03-01&until=2025-04-01")
    assert status == 200 and body["days"]  # type: ignore[index]
    assert all("2025-03-01" <= d["day"] < "2025-04-01" for d in body["days"])  # type: ignore


def test_stats_health_and_schema(served: Served) -> None:
    status, stats = served.get_json("/api/stats")
    assert status == 200 and stats["articles"] == 11  # type: ignore[index]
    assert stats["by_lang"] == {"en": 7, "ja": 4}  # type: ignore[index]
    status, health = served.get_json("/api/health")
    assert status == 200 and health["status"] == "ok"  # type: ignore[index]
    assert health["backend"] == "sqlite"  # type: ignore[index]
    status, schema = served.get_json("/openapi.json")
    assert status == 200
    assert set(schema["paths"]) == {  # type: ignore[index]
        "/api/search", "/api/articles/{article_id}", "/api/stories/{story_id}",
        "/api/coverage", "/api/stats", "/api/health", "/api/alerts", "/feeds/alerts.atom",
        "/feeds/alerts/{rule}.atom"}
    feed = schema["paths"]["/feeds/alerts/{rule}.atom"]["get"]  # type: ignore[index]
    assert "application/atom+xml" in feed["responses"]["200"]["content"]
    assert "securitySchemes" not in schema.get("components", {})  # type: ignore[union-attr]


def test_docs_page_describes_every_endpoint_with_nothing_from_elsewhere(served: Served) -> None:
    status, headers, body = served.get("/docs")
    assert status == 200 and headers["content-type"].startswith("text/html")
    page = body.decode("utf-8")
    _, schema = served.get_json("/openapi.json")
    for path in schema["paths"]:  # type: ignore[index]
        assert f"<code>GET {html.escape(path)}</code>" in page, path
    assert 'href="/openapi.json"' in page
    # every parameter of search is described, with its notes
    for name in ("q", "mode", "lang", "topic", "since", "until", "limit", "collapse"):
        assert f"<code>{name}</code>" in page, name

    class Links(HTMLParser):
        refs: list[str] = []
        tags: set[str] = set()

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags.add(tag)
            self.refs += [v or "" for k, v in attrs if k in ("src", "href", "action")]

    parser = Links()
    parser.feed(page)
    assert "script" not in parser.tags and "link" not in parser.tags and "img" not in parser.tags
    assert parser.refs and all(r.startswith(("/", "#")) for r in parser.refs), parser.refs
    assert "default-src 'none'" in headers["content-security-policy"]


BAD = [
    ("/api/search", 422, "q"),                                   # no query
    ("/api/search?q=", 422, "q"),
    ("/api/search?q=%20%20", 400, "blank"),
    ("/api/search?q=x&mode=fuzzy", 422, "mode"),
    ("/api/search?q=x&lang=fr", 422, "lang"),
    ("/api/search?q=x&limit=0", 422, "limit"),
    ("/api/search?q=x&limit=101", 422, "limit"),
    ("/api/search?q=x&limit=ten", 422, "limit"),
    ("/api/search?q=x&min_topic_score=2", 422, "min_topic_score"),
    ("/api/search?q=x&collapse=maybe", 422, "collapse"),
    ("/api/search?q=x&since=yesterday", 422, "since"),
    ("/api/search?q=x&since=2025-13-45", 400, "since"),
    ("/api/search?q=x&since=999999w", 400, "since"),
    ("/api/search?q=x&since=0001-01-01T00:00%2B09:00", 400, "since"),   # year 0 in UTC
    ("/api/search?q=x&until=9999-12-31T23:00-05:00", 400, "until"),     # year 10000 in UTC
    ("/api/search?q=x&since=2025-06-01&until=2025-01-01", 400, "before"),
    ("/api/search?q=x&topics=cyber", 400, "unknown parameter"),  # topic, not topics
    ("/api/search?q=x&source=", 400, "source"),
    ("/api/search?q=%FF%FE", 400, "UTF-8"),
    ("/api/search?q=%C0%AF", 400, "UTF-8"),                      # overlong encoding
    ("/api/search?q=%ED%A0%80", 400, "UTF-8"),                   # a lone surrogate
    ("/api/search?q=" + "a" * 10_001, 422, "q"),
    ("/api/stats?verbose=1", 400, "unknown parameter"),
    ("/api/coverage?since=never", 422, "since"),
    ("/api/coverage?until=0001-01-01T00:00%2B09:00", 400, "until"),
    ("/api/articles/%FF", 400, "UTF-8"),
    ("/api/stories/XYZ", 422, "story_id"),
]


@pytest.mark.parametrize("path,status,needle", BAD, ids=[b[0][:60] for b in BAD])
def test_bad_input_gets_4xx_with_a_message(served: Served, path: str, status: int,
                                           needle: str) -> None:
    got, headers, raw = served.get(path)
    assert got == status, raw[:500]
    body = json.loads(raw)
    assert headers["content-type"].startswith("application/json")
    assert needle.lower() in body["message"].lower() and body["error"], body
    assert "Traceback" not in served.log_text()


def test_api_key_from_the_environment(served_with_key: Served) -> None:
    s = served_with_key
    status, body = s.get_json("/api/search?q=GCAP")
    assert status == 401 and "X-API-Key" in body["message"]  # type: ignore[index]
    status, _ = s.get_json("/api/search?q=GCAP", headers={"X-API-Key": "wrong"})
    assert status == 401
    status, body = s.get_json("/api/search?q=GCAP", headers={"X-API-Key": API_KEY})
    assert status == 200 and body["results"]  # type: ignore[index]
    for path in ("/api/stats", "/api/coverage", "/api/articles/" + "0" * 24, "/api/alerts",
                 "/feeds/alerts.atom", "/feeds/alerts/japan-uk-pact.atom"):
        assert s.get(path)[0] == 401
    status, headers, raw = s.get("/feeds/alerts/japan-uk-pact.atom",
                                 headers={"X-API-Key": API_KEY})
    assert status == 200 and headers["content-type"].startswith("application/atom+xml")
    assert s.get("/api/health")[0] == 200  # health and the page need no key
    assert s.get("/")[0] == 200
    status, schema = s.get_json("/openapi.json")
    assert "X-API-Key" in json.dumps(schema["components"]["securitySchemes"])  # type: ignore


def test_page_and_assets_load_nothing_from_elsewhere(served: Served) -> None:
    status, headers, body = served.get("/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in headers["content-security-policy"]
    page = body.decode("utf-8")
    for asset in ("/static/app.js", "/static/app.css", "/alerts"):
        assert asset in page
        status, headers, _ = served.get(asset)
        assert status == 200 and "content-security-policy" in headers
    assert 'type="application/atom+xml" href="/feeds/alerts.atom"' in page
    alerts_page = served.get("/alerts")[2].decode("utf-8")
    assert "/static/alerts.js" in alerts_page and "/feeds/alerts.atom" in alerts_page
    status, headers, _ = served.get("/static/alerts.js")
    assert status == 200 and "content-security-policy" in headers
    for path in WEB_DIR.iterdir():
        text = path.read_text(encoding="utf-8")
        for url in ("http://", "https://", "//cdn", "@import"):
            # the SVG namespace is a name, not a fetch
            assert url not in text.replace("http://www.w3.org/2000/svg", ""), (path, url)


def test_serve_binds_to_loopback_by_default(served: Served) -> None:
    assert served.url.startswith("http://127.0.0.1:")


def test_serve_refuses_a_taken_port_and_a_missing_store(demo_config: Path,
                                                        tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = newsmon("--config", str(demo_config), "serve", "--port", str(port),
                         timeout=120)
    assert result.returncode == 2, result.stderr
    assert f"--port {port}: cannot listen there" in result.stderr
    assert "Traceback" not in result.stderr
    result = newsmon("--data-dir", str(tmp_path / "empty"), "serve", timeout=60)
    assert result.returncode == 2 and "no store at" in result.stderr, result.stderr


@pytest.mark.es
def test_serve_over_elasticsearch(demo_config: Path, tmp_path: Path, es_url: str) -> None:
    """The same API on the Elasticsearch backend (its own index of the same store)."""
    env = {"NEWSMON_INDEX__ES_URL": es_url, "NEWSMON_INDEX__ES_INDEX": "newsmon-serve-test"}
    indexed = newsmon("--config", str(demo_config), "index", "--backend", "elasticsearch",
                      "--rebuild", **env)
    assert indexed.returncode == 0, indexed.stderr[-3000:]
    with serve(demo_config, tmp_path / "serve-es.log", "--backend", "elasticsearch",
               **env) as s:
        status, health = s.get_json("/api/health")
        assert status == 200 and health["backend"] == "elasticsearch"  # type: ignore[index]
        body = search(s, q="日英 重要鉱物", lang="ja")
        assert body["results"] and body["results"][0]["title"].startswith("重要鉱物")
        assert "<mark>" in body["results"][0]["snippet"]
        assert s.get("/api/search?q=%FF")[0] == 400
        assert "Traceback" not in s.log_text()


def _ids(raw: bytes) -> list[str]:
    return [e.id for e in check_atom(raw).entries]


def test_served_feeds_are_the_feed_channels_entries(served: Served, demo_config: Path) -> None:
    status, headers, raw = served.get("/feeds/alerts/japan-uk-pact.atom")
    assert status == 200, raw[:300]
    assert headers["content-type"] == "application/atom+xml; charset=utf-8"
    served_ids = _ids(raw)
    assert served_ids and len(served_ids) == len(set(served_ids))
    # the rule's feed channel wrote the same entries into the data folder
    written = (demo_config.parent / "feeds" / "japan-uk-pact.atom").read_bytes()
    assert _ids(written) == served_ids
    assert "重要鉱物".encode() in raw
    # served twice: the same document (ids and updated stable, no new entry)
    assert served.get("/feeds/alerts/japan-uk-pact.atom")[2] == raw
    status, _, every = served.get("/feeds/alerts.atom")
    assert status == 200 and set(_ids(every)) == set(served_ids)
    status, body = served.get_json("/feeds/alerts/no-such-rule.atom")
    assert status == 404 and "japan-uk-pact" in body["message"]  # type: ignore[index]
    status, _, raw = served.get("/feeds/alerts/Bad_Rule.atom")
    assert status == 422


def test_alert_history_endpoint(served: Served, demo_config: Path) -> None:
    status, body = served.get_json("/api/alerts?rule=japan-uk-pact&limit=100")
    assert status == 200, body
    assert body["rules"] == ["japan-uk-pact"]  # type: ignore[index]
    assert body["feed"] == "/feeds/alerts/japan-uk-pact.atom"  # type: ignore[index]
    alerts = body["alerts"]  # type: ignore[index]
    # every alert of alerts.jsonl, newest first, each sent to its three channels
    lines = (demo_config.parent / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    keys = {json.loads(line)["story"] for line in lines}
    assert {a["story"] for a in alerts} == keys and len(alerts) == len(keys)
    assert [a["id"] for a in alerts] == sorted((a["id"] for a in alerts), reverse=True)
    for a in alerts:
        assert {d["channel"]: d["state"] for d in a["deliveries"]} == {
            "file:alerts.jsonl": "sent", "feed:feeds/japan-uk-pact.atom": "sent",
            "stdout": "sent"}
    _, _, raw = served.get("/feeds/alerts/japan-uk-pact.atom")
    assert {a["entry_id"] for a in alerts} == set(_ids(raw))
    status, body = served.get_json("/api/alerts?since=2999-01-01")
    assert status == 200 and body["alerts"] == []  # type: ignore[index]
    for path, code in (("/api/alerts?rule=nope", 404), ("/api/alerts?rule=NOPE", 422),
                       ("/api/alerts?limit=0", 422), ("/api/alerts?since=never", 422),
                       ("/api/alerts?rules=x", 400)):
        assert served.get(path)[0] == code, path
