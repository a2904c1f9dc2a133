"""Extraction quality: newsmon's extractor against bare trafilatura, in the same run.

Corpora (read in place from ../shared): ScrapingHub's 181 pages (word 4-gram shingle F1, exactly
as upstream evaluate.py), fundus-evaluation (ROUGE-LSum, best over optional paragraphs), the NAEB
subset (shingle F1 plus title/date/author), the Japanese fundus parser tests and Japanese Mercury
fixtures (title/date/author accuracy, character 4-gram body F1, body-start containment) and the
devset's three sites (every field against articles.jsonl).

The baseline is ``trafilatura.extract(html)`` with its defaults for body text and
``trafilatura.bare_extraction(html, with_metadata=True)`` for title/date/author.

    .venv/bin/python bench/extract_quality.py            # table
    .venv/bin/python bench/extract_quality.py --json     # machine-readable
    .venv/bin/python bench/extract_quality.py --sets scrapinghub,fundus-eval --processes 2
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from multiprocessing import Pool
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from bench._metrics import (  # noqa: E402
    best_over_optional,
    char_ngram_pr,
    f1_of,
    macro_f1,
    norm_ja,
    norm_text,
    shingle_pr,
)
from newsmon.crawler.dates import parse_date  # noqa: E402
from newsmon.crawler.extract import extract_article  # noqa: E402
from newsmon.crawler.page import Page  # noqa: E402
from newsmon.index.core.errors import ExtractError  # noqa: E402

SHARED = ROOT.parent / "shared"
CORPORA = SHARED / "corpora"
DEVSET = SHARED / "devset"
FETCHED = datetime(2026, 11, 25, tzinfo=UTC)


@dataclass
class Case:
    set: str
    id: str
    url: str
    path: Path
    lang: str  # source language handed to the extractor
    tz: str
    content_type: str = "text/html; charset=utf-8"
    gzipped: bool = True
    truth: dict[str, Any] = field(default_factory=dict)


@dataclass
class Output:
    text: str = ""
    title: str | None = None
    published: datetime | None = None
    date_str: str | None = None  # trafilatura's day-precision date
    authors: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


# --- corpus loaders ---------------------------------------------------------------------------


def _scrapinghub() -> list[Case]:
    base = CORPORA / "scrapinghub-article-extraction-benchmark"
    truth = json.loads((base / "ground-truth.json").read_text())
    out = []
    for item in json.loads((base / "index.json").read_text()):
        lang = "ja" if item.get("lang_guess") == "ja" else "en"
        out.append(Case("scrapinghub", item["id"], item["url"], base / item["html"], lang, "UTC",
                        truth={"body": truth[item["id"]]["articleBody"]}))
    return out


def _fundus_eval() -> list[Case]:
    base = CORPORA / "fundus-evaluation"
    truth = json.loads((base / "ground_truth.json").read_text())
    return [
        Case("fundus-eval", name, item["url"], base / "html" / name, "en", "UTC",
             truth={"paragraphs": item["body"]})
        for name, item in sorted(truth.items())
    ]


def _naeb() -> list[Case]:
    base = CORPORA / "naeb-newspaper-article-extraction-benchmark"
    out = []
    for path in sorted((base / "truth").glob("*.json")):
        item = json.loads(path.read_text())
        authors = [a.strip() for a in (item.get("authors") or "").split(",") if a.strip()]
        out.append(Case("naeb", str(item["id"]), item["url"], base / item["html"], "en", "UTC",
                        truth={"body": item["articleBody"], "title": item["title"],
                               "date": None if item.get("date") in (None, "NaT") else item["date"],
                               "authors": authors}))
    return out


def _fundus_jp() -> list[Case]:
    base = CORPORA / "fundus-parser-tests"
    out = []
    for path in sorted((base / "truth" / "jp").glob("*.json")):
        item = json.loads(path.read_text())
        if item.get("html_lang", "ja") != "ja":
            continue  # TheJapanNews is in English
        out.append(Case("fundus-jp", path.stem, item["url"], base / item["source_html"], "ja", "Asia/Tokyo",
                        truth={"body": item["body_text"], "title": item["title"],
                               "date": item.get("publishing_date"), "authors": item.get("authors") or []}))
    return out


def _mercury_ja() -> list[Case]:
    base = CORPORA / "mercury-parser-fixtures"
    out = []
    for item in json.loads((base / "index.json").read_text()):
        if item.get("lang") != "ja":
            continue
        raw = json.loads((base / item["truth"]).read_text())
        for n, truth in enumerate(raw if isinstance(raw, list) else [raw]):
            t: dict[str, Any] = {}
            if "title" in truth:
                t["title"] = truth["title"]
            if "date_published" in truth:
                t["date"] = truth["date_published"]
            if "author" in truth:
                t["authors"] = [truth["author"]] if truth["author"] else []
            if truth.get("content_prefix"):
                t["prefix"] = truth["content_prefix"]
            out.append(Case("mercury-ja", f"{item['id']}#{n}", truth.get("url") or item["url"],
                            base / item["html"], "ja", "Asia/Tokyo", truth=t))
    return out


def _devset() -> list[Case]:
    site = DEVSET / "site"
    manifest = json.loads((site / "manifest.json").read_text())
    articles = {json.loads(line)["id"]: json.loads(line) for line in (DEVSET / "articles.jsonl").open()}
    out = []
    for path, page in sorted(manifest["pages"].items()):
        if page["kind"] not in ("article", "amp"):
            continue
        host = manifest["hosts"][path.split("/")[0]]
        art = articles[page["article_id"]]
        out.append(Case("devset", path, page["url"], site / path, host["lang"],
                        "Asia/Tokyo" if host["lang"] == "ja" else "Europe/London",
                        content_type=f"text/html; charset={host['charset']}", gzipped=False,
                        truth={"body": art["text"], "title": art["title"], "date": art["published"],
                               "authors": [art["author"]] if art["author"] else [],
                               "paragraphs": art["text"].split("\n\n")}))
    return out


SETS: dict[str, Callable[[], list[Case]]] = {
    "scrapinghub": _scrapinghub,
    "fundus-eval": _fundus_eval,
    "naeb": _naeb,
    "fundus-jp": _fundus_jp,
    "mercury-ja": _mercury_ja,
    "devset": _devset,
}


# --- running both extractors ------------------------------------------------------------------


def _read(case: Case) -> bytes:
    data = case.path.read_bytes()
    return gzip.decompress(data) if case.gzipped else data


def _run_newsmon(case: Case, body: bytes) -> Output:
    page = Page(url=case.url, body=body, source=case.set, lang=case.lang, tz=case.tz,
                fetched_at=FETCHED, content_type=case.content_type)
    start = time.perf_counter()
    try:
        art = extract_article(page)
    except ExtractError as err:
        return Output(error=err.reason, seconds=time.perf_counter() - start)
    return Output(text=art.text, title=art.title, published=art.published, authors=art.authors,
                  seconds=time.perf_counter() - start)


def _run_bare(case: Case, body: bytes, with_metadata: bool) -> Output:
    start = time.perf_counter()
    text = trafilatura.extract(body) or ""
    seconds = time.perf_counter() - start
    out = Output(text=text, seconds=seconds)
    if with_metadata:
        doc = trafilatura.bare_extraction(body, with_metadata=True)
        if doc is not None:
            out.title = doc.title
            out.date_str = doc.date
            out.authors = [a.strip() for a in (doc.author or "").split(";") if a.strip()]
    return out


def _work(case: Case) -> tuple[Case, Output, Output]:
    body = _read(case)
    needs_meta = any(k in case.truth for k in ("title", "date", "authors"))
    bare = _run_bare(case, body, needs_meta)
    ours = _run_newsmon(case, body)
    return case, ours, bare


# --- scoring ----------------------------------------------------------------------------------


def _same_title(pred: str | None, truth: str) -> bool:
    return bool(pred) and norm_text(pred) == norm_text(truth)


def _truth_day(truth: str) -> tuple[date, Any]:
    """The calendar day of a truth date, and the zone it is written in (None for a bare date)."""
    if len(truth) == 10:
        return date.fromisoformat(truth), None
    value = parse_date(truth, "UTC")
    assert value is not None, truth
    return value.date(), value.tzinfo


def _day_ok(out: Output, truth: str | None) -> bool:
    """Same calendar day as the truth, read in the truth's own zone (both extractors alike)."""
    if truth is None:
        return out.published is None and not out.date_str
    day, tz = _truth_day(truth)
    if out.published is not None:
        local = out.published.astimezone(tz) if tz is not None else out.published
        return local.date() == day or out.published.date() == day
    if out.date_str:
        return out.date_str[:10] == day.isoformat()
    return False


def _instant_ok(out: Output, truth: str | None) -> bool | None:
    """Exact instant (to the minute) where the truth has a time of day; None where it has not."""
    if truth is None or len(truth) == 10:
        return None
    value = parse_date(truth, "UTC")
    if value is None or out.published is None:
        return False
    return abs((out.published - value).total_seconds()) < 60


_AUTHOR_LABEL = re.compile(r"^\s*(?:by|written by|著者|作者|筆者|文|記者)\s*[:：●・=]?\s*|^\s*●\s*", re.I)


def _author_key(name: str) -> str:
    """Names compared, not labels: NFKC, case, "By"/"著者："/"文●" prefixes, spaces and
    brackets ignored (the same for both extractors)."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = _AUTHOR_LABEL.sub("", text)
    return re.sub(r"[\s()（）《》【】\[\]]+", "", text)


def _authors_ok(pred: list[str], truth: list[str]) -> bool:
    truth = [a for a in truth if a]
    if {_author_key(a) for a in pred} == {_author_key(a) for a in truth}:
        return True
    # one printed byline naming several people ("A 著、B 訳") against the same names split up
    return bool(pred) and _author_key("、".join(pred)) == _author_key("、".join(truth))


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.split("\n") if p.strip()]


def score(set_name: str, results: list[tuple[Case, Output, Output]]) -> list[dict[str, Any]]:
    """Rows of (metric, newsmon, trafilatura) for one set."""
    rows: list[dict[str, Any]] = []

    def row(metric: str, ours: float, bare: float, n: int, higher_better: bool = True) -> None:
        rows.append({"set": set_name, "metric": metric, "newsmon": ours, "trafilatura": bare, "n": n,
                     "higher_is_better": higher_better})

    if set_name in ("scrapinghub", "naeb", "devset") and all("body" in c.truth for c, _, _ in results):
        ours = macro_f1([shingle_pr(o.text, c.truth["body"]) for c, o, _ in results])
        bare = macro_f1([shingle_pr(b.text, c.truth["body"]) for c, _, b in results])
        for key in ("f1", "precision", "recall", "accuracy"):
            row(f"shingle {key}", ours[key], bare[key], len(results))
    if set_name == "fundus-eval":
        ours_pr = [best_over_optional(_paragraphs(o.text), c.truth["paragraphs"]) for c, o, _ in results]
        bare_pr = [best_over_optional(_paragraphs(b.text), c.truth["paragraphs"]) for c, _, b in results]
        mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
        row("ROUGE-LSum f1", mean([f1_of(p) for p in ours_pr]), mean([f1_of(p) for p in bare_pr]), len(results))
        row("ROUGE-LSum precision", mean([p.precision or 0 for p in ours_pr]), mean([p.precision or 0 for p in bare_pr]), len(results))
        row("ROUGE-LSum recall", mean([p.recall or 0 for p in ours_pr]), mean([p.recall or 0 for p in bare_pr]), len(results))
    if set_name in ("fundus-jp",):
        ours = macro_f1([char_ngram_pr(o.text, c.truth["body"]) for c, o, _ in results])
        bare = macro_f1([char_ngram_pr(b.text, c.truth["body"]) for c, _, b in results])
        row("char 4-gram f1", ours["f1"], bare["f1"], len(results))
    if set_name == "mercury-ja":
        cases = [(c, o, b) for c, o, b in results if "prefix" in c.truth]
        hit = lambda out, c: norm_ja(c.truth["prefix"])[:60] in norm_ja(out.text)  # noqa: E731
        row("body contains start", sum(hit(o, c) for c, o, _ in cases) / len(cases),
            sum(hit(b, c) for c, _, b in cases) / len(cases), len(cases))
    if set_name == "devset":
        para = lambda out, c: [norm_text(p) for p in out.text.split("\n\n" if out is not None and "\n\n" in out.text else "\n") if p.strip()] == [norm_text(p) for p in c.truth["paragraphs"]]  # noqa: E731
        row("paragraphs exact", sum(para(o, c) for c, o, _ in results) / len(results),
            sum(para(b, c) for c, _, b in results) / len(results), len(results))
    for key, _check in (("title", _same_title), ("date (day)", None), ("date (instant)", None), ("authors", _authors_ok)):
        truth_key = key.split(" ")[0]
        cases = [(c, o, b) for c, o, b in results if truth_key in c.truth]
        if truth_key in ("title", "authors"):
            cases = [(c, o, b) for c, o, b in cases if c.truth[truth_key] is not None]
        if not cases:
            continue
        if key == "title":
            ours_ok = [_same_title(o.title, c.truth["title"]) for c, o, _ in cases]
            bare_ok = [_same_title(b.title, c.truth["title"]) for c, _, b in cases]
        elif key == "authors":
            ours_ok = [_authors_ok(o.authors, c.truth["authors"]) for c, o, _ in cases]
            bare_ok = [_authors_ok(b.authors, c.truth["authors"]) for c, _, b in cases]
        elif key == "date (day)":
            ours_ok = [_day_ok(o, c.truth["date"]) for c, o, _ in cases]
            bare_ok = [_day_ok(b, c.truth["date"]) for c, _, b in cases]
        else:
            pairs = [(_instant_ok(o, c.truth["date"]), c) for c, o, _ in cases]
            timed = [ok for ok, _ in pairs if ok is not None]
            if not timed:
                continue
            # trafilatura gives days only, so it cannot get an instant right unless at midnight
            bare_timed = []
            for c, _, b in cases:
                if _instant_ok(Output(), c.truth["date"]) is None:
                    continue
                value = parse_date(b.date_str, "UTC") if b.date_str else None
                truth_v = parse_date(c.truth["date"], "UTC")
                bare_timed.append(value is not None and truth_v is not None and abs((value - truth_v).total_seconds()) < 60)
            row(f"{key} accuracy", sum(timed) / len(timed), sum(bare_timed) / len(bare_timed), len(timed))
            continue
        row(f"{key} accuracy", sum(ours_ok) / len(ours_ok), sum(bare_ok) / len(bare_ok), len(cases))
    errors = sum(o.error is not None for _, o, _ in results)
    row("rejected (ExtractError)", errors, sum(not b.text for _, _, b in results), len(results), higher_better=False)
    ours_s = sum(o.seconds for _, o, _ in results)
    bare_s = sum(b.seconds for _, _, b in results)
    row("seconds per page", ours_s / len(results), bare_s / len(results), len(results), higher_better=False)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated: " + ", ".join(SETS))
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="pages per set (0: all)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--failures", action="store_true", help="list pages where newsmon scores below trafilatura")
    args = parser.parse_args(argv)

    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [n for n in names if n not in SETS]
    if unknown:
        parser.error(f"unknown set(s): {', '.join(unknown)}")
    if not CORPORA.is_dir():
        print(f"corpora not found at {CORPORA}", file=sys.stderr)
        return 2
    cases: list[Case] = []
    for name in names:
        got = SETS[name]()
        cases += got[: args.limit] if args.limit else got
    started = time.perf_counter()
    with Pool(args.processes) as pool:
        results = pool.map(_work, cases, chunksize=4)
    wall = time.perf_counter() - started

    rows: list[dict[str, Any]] = []
    for name in names:
        rows += score(name, [r for r in results if r[0].set == name])
    if args.json:
        print(json.dumps({"rows": rows, "pages": len(cases), "wall_seconds": wall,
                          "trafilatura_version": trafilatura.__version__}, indent=1))
    else:
        print(f"{'set':<13} {'metric':<26} {'newsmon':>9} {'trafilatura':>11} {'ratio':>7}   n")
        for r in rows:
            ratio = r["newsmon"] / r["trafilatura"] if r["trafilatura"] else float("nan")
            fmt = "{:>9d}" if isinstance(r["newsmon"], int) else "{:>9.4f}"
            fmt2 = "{:>11d}" if isinstance(r["trafilatura"], int) else "{:>11.4f}"
            print(f"{r['set']:<13} {r['metric']:<26} {fmt.format(r['newsmon'])} {fmt2.format(r['trafilatura'])} {ratio:>7.3f}   {r['n']}")
        print(f"\n{len(cases)} pages, {wall:.1f}s wall, {args.processes} processes, trafilatura {trafilatura.__version__}")
    if args.failures:
        for case, ours, bare in results:
            if "body" in case.truth and case.set != "fundus-jp":
                o, b = shingle_pr(ours.text, case.truth["body"]), shingle_pr(bare.text, case.truth["body"])
                if f1_of(o) < f1_of(b) - 0.02:
                    print(f"{case.set} {case.id} newsmon={f1_of(o):.3f} bare={f1_of(b):.3f} err={ours.error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
