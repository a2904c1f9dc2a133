"""Quality floors on the second held-out set (issue 17): six fictional sites nobody tuned on,
built by ``tests/data/heldout2/build.py`` (table layouts in EUC-JP, Shift_JIS and
windows-1252, an ``<h1>`` sharing the text's container in English and Japanese, a footer line
on every page of a site with very short articles, three events each with a preview, an
outcome and two parties' reactions in both languages), served over real HTTP, crawled by the
real crawler in a child process and enriched into a real SQLite store with the default model.

Floors (thresholds are tuned on ../shared/devset only; this set is for reporting):
- titles, authors and published instants: >= 97 % exact (titles after NFKC and whitespace
  normalisation, instants compared as instants); datelines likewise;
- text: in >= 97 % of articles every labelled paragraph is a paragraph of the stored text
  and the stored text opens with the labelled first paragraph (not with the headline, a date
  line or a byline); every labelled data table is still a table (one line per row);
- boilerplate: >= 97 % of the labelled boilerplate lines dropped, every key sentence kept;
- stories, pairwise over all articles: precision >= 0.9, recall >= 0.8.

Measured 2026-12-06 (issue 17's branch; before → after its changes): titles 0.898 → 0.959,
authors 0.469 → 0.816, instants 0.898 → 0.959, datelines 0.796 → 0.959, text structure
0.061 → 0.939, boilerplate lines dropped 0.912 → 0.986 (key sentences lost 10 → 4), story pairs
P 0.345 / R 0.294 → P 0.923 / R 0.706. Second round (2026-12-07; general fixes, each
reproduced first by a unit fixture of its own; this set run twice, to report): 49/49 stored,
titles 1.000, authors 1.000, instants 0.980, datelines 1.000, text structure 1.000,
boilerplate 147/147 dropped with no key sentence lost. Story pairs (2026-12-07, third round:
an event dated on the publication day no longer reads as its outcome by the date alone, more
tense words, and a cross-language bonus for two reports of one event in the same phase that
share a specific entity and no conflicting date, calibrated on the devset): P 0.867 / R 0.765
→ P 1.000 / R 0.882. A floor not met is marked ``FLOOR_NOT_MET`` (strict xfail), so a change
that meets it fails there until its mark is removed; none is marked now.
"""
from __future__ import annotations

import itertools
import unicodedata
from datetime import datetime

import pytest

from tests.helpers.crawlproc import run_crawl_process
from tests.helpers.heldout import HELDOUT2, labels, sources_yaml, start_heldout_sites

pytestmark = pytest.mark.slow

STORY_P, STORY_R, EXACT, TEXT, BOILERPLATE = 0.9, 0.8, 0.97, 0.97, 0.97


def FLOOR_NOT_MET(measured: str) -> pytest.MarkDecorator:  # noqa: N802 - reads as a label
    """An issue-17 floor this set does not meet yet (see the module doc)."""
    return pytest.mark.xfail(strict=True, reason=f"issue 17 floor not met yet: {measured}")


def _norm(text: str | None) -> str:
    return "".join(unicodedata.normalize("NFKC", text or "").split())


@pytest.fixture(scope="module")
def heldout2(tmp_path_factory: pytest.TempPathFactory):
    from newsmon.enrich.pipeline import enrich_store
    from newsmon.index.core.settings import Settings
    from newsmon.index.store import Store

    servers = start_heldout_sites(HELDOUT2)
    tmp = tmp_path_factory.mktemp("heldout2")
    try:
        (tmp / "sources.yaml").write_text(sources_yaml(servers, HELDOUT2), encoding="utf-8")
        crawl = run_crawl_process(tmp / "data", tmp / "sources.yaml")
        assert crawl.returncode == 0, crawl.stderr[-3000:]
        store = Store(tmp / "data" / "newsmon.db")
        stats = enrich_store(Settings(), store, run_id=2)
        assert stats.failed == 0, stats.errors
        stored = {art.canonical_url: art.to_dict() for art in store.articles.iter()}
        truth = {servers[r["source"]].base + r["path"]: r for r in labels(HELDOUT2)}
        yield {"truth": truth, "stored": stored, "store": store}
        store.close()
    finally:
        for srv in servers.values():
            srv.stop()


def test_every_article_is_stored_once(heldout2) -> None:
    truth, stored = heldout2["truth"], heldout2["stored"]
    assert set(truth) <= set(stored), sorted(set(truth) - set(stored))
    assert len(stored) == len(truth)
    for url, ref in truth.items():
        assert stored[url]["lang"] == ref["lang"], ref["id"]


def _exact(heldout2, field: str) -> tuple[float, list]:
    wrong = []
    for url, ref in heldout2["truth"].items():
        art = heldout2["stored"].get(url)
        if art is None:
            wrong.append((ref["id"], "not stored", ref[field]))
            continue
        got, want = art[field], ref[field]
        if field == "authors":
            ok = [_norm(a) for a in got] == [_norm(a) for a in want]
        elif field == "published":
            ok = got is not None and datetime.fromisoformat(got) == datetime.fromisoformat(want)
        else:
            ok = _norm(got) == _norm(want)
        if not ok:
            wrong.append((ref["id"], got, want))
    return 1 - len(wrong) / len(heldout2["truth"]), wrong


@pytest.mark.parametrize("field", ["title", "authors", "published", "dateline"])
def test_metadata_exact(heldout2, field: str) -> None:
    score, wrong = _exact(heldout2, field)
    print(f"heldout2 {field}: {score:.3f} exact; wrong: {wrong}")
    assert score >= EXACT, wrong


def test_text_keeps_its_paragraphs_and_opens_with_the_first(heldout2) -> None:
    wrong = []
    for url, ref in heldout2["truth"].items():
        text = heldout2["stored"].get(url, {}).get("text", "")
        stored = [_norm(p) for p in text.split("\n") if p.strip()]
        want = [_norm(p) for p in ref["text"].split("\n") if p.strip()]
        missing = [p for p in want if p not in stored]
        if missing or not stored or stored[0] != want[0]:
            wrong.append((ref["id"], stored[:1], missing[:2]))
    score = 1 - len(wrong) / len(heldout2["truth"])
    print(f"heldout2 text structure: {score:.3f}; wrong: {wrong}")
    assert score >= TEXT, wrong


def test_data_tables_stay_tables(heldout2) -> None:
    checked = 0
    for url, ref in heldout2["truth"].items():
        lines = [_norm(ln) for ln in heldout2["stored"].get(url, {}).get("text", "").split("\n")]
        for table in ref["tables"]:
            for row in table["rows"]:
                checked += 1
                cells = [_norm(c) for c in row]
                assert any(ln.startswith("|") and _in_order(cells, ln) for ln in lines), \
                    (ref["id"], row)
    assert checked


def _in_order(cells: list[str], line: str) -> bool:
    at = 0
    for cell in cells:
        at = line.find(cell, at)
        if at < 0:
            return False
        at += len(cell)
    return True


def test_boilerplate_dropped_without_losing_key_sentences(heldout2) -> None:
    kept, lost = [], []
    for url, ref in heldout2["truth"].items():
        text = heldout2["stored"].get(url, {}).get("text", "")
        lines = [_norm(p) for p in text.split("\n")]
        kept += [(ref["id"], b) for b in ref["boilerplate"] if _norm(b) in lines
                 or any(_norm(b) in ln and len(ln) < 2 * len(_norm(b)) + 8 for ln in lines)]
        lost += [(ref["id"], k) for k in ref["key_sentences"] if _norm(k) not in _norm(text)]
    blocks = sum(len(r["boilerplate"]) for r in heldout2["truth"].values())
    share = 1 - len(kept) / max(blocks, 1)
    print(f"heldout2 boilerplate: {blocks - len(kept)}/{blocks} lines dropped ({share:.3f}), "
          f"{len(lost)} key sentences lost; kept: {kept}")
    assert share >= BOILERPLATE, kept
    assert not lost, lost


def test_story_pairs(heldout2) -> None:
    truth, stored = heldout2["truth"], heldout2["stored"]
    tp = fp = fn = 0
    wrong = []
    story = {url: stored.get(url, {}).get("story") or f"missing:{url}" for url in truth}
    for a, b in itertools.combinations(sorted(truth), 2):
        same_pred = story[a] == story[b]
        same_gold = truth[a]["story"] == truth[b]["story"]
        tp += same_pred and same_gold
        fp += same_pred and not same_gold
        fn += same_gold and not same_pred
        if same_pred != same_gold:
            wrong.append(("joined" if same_pred else "split", truth[a]["id"], truth[b]["id"]))
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    print(f"heldout2 stories: precision {precision:.3f} recall {recall:.3f} tp {tp} fp {fp} "
          f"fn {fn}; wrong: {wrong}")
    assert precision >= STORY_P, wrong
    assert recall >= STORY_R, wrong
