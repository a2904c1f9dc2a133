"""Source title affixes on real sites: fundus-evaluation's 16 publishers x 5 pages.

For every publisher, the affixes are learned (``newsmon.enrich.title_affix.learn``, default rule)
from its five titles and stripped, as enrich does per source. The corpus has no title labels, so
the reference is the page's first ``<h1>`` (the headline as displayed); a title "agrees" when it
equals the ``<h1>`` in its letters and digits (NFKC, case-folded; quotes, dashes and spaces
differ between the two on some sites). Two inputs, each before (the baseline, in
the same run) and after learning:

- the raw ``<title>`` (a site that names itself nowhere else: what learning is for);
- the title newsmon's extractor stores (site name already stripped when the page names the site,
  the ``<h1>`` preferred when it agrees): what enrich actually sees.

"wrongly changed" counts titles that agreed with the ``<h1>`` before and not after.

    .venv/bin/python bench/title_affix.py
"""
from __future__ import annotations

import gzip
import json
import sys
import unicodedata
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import lxml.html  # noqa: E402

from newsmon.crawler.extract import extract_article  # noqa: E402
from newsmon.crawler.page import Page  # noqa: E402
from newsmon.enrich.title_affix import learn, strip  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpora" / "fundus-evaluation" / "html"


def _fold(text: str) -> str:
    """Letters and digits only (typographic quotes and dashes differ between <title> and <h1>)."""
    return "".join(c for c in unicodedata.normalize("NFKC", text or "").casefold() if c.isalnum())


def _pages() -> dict[str, list[tuple[str, str, str]]]:
    """publisher → [(raw <title>, extracted title, <h1>)]"""
    out: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    truth = json.loads((CORPUS.parent / "ground_truth.json").read_text(encoding="utf-8"))
    for path in sorted(CORPUS.glob("*.html.gz")):
        body = gzip.decompress(path.read_bytes())
        tree = lxml.html.fromstring(body.decode("utf-8", "replace"))  # the corpus is UTF-8
        raw = " ".join((tree.findtext(".//title") or "").split())
        h1s = tree.findall(".//h1")
        h1 = " ".join(h1s[0].text_content().split()) if h1s else ""
        page = Page(url=truth[path.name]["url"], body=body, source=path.name.split("_")[0],
                    lang="en", tz="UTC",
                    fetched_at=datetime(2024, 3, 1, tzinfo=UTC))
        extracted = extract_article(page).title
        out[path.name.split("_")[0]].append((raw, extracted, h1))
    return out


def main() -> None:
    pages = _pages()
    rows = {"raw <title>": 0, "extracted title": 1}
    print(f"{len(pages)} publishers, {sum(map(len, pages.values()))} pages; reference: <h1>")
    print("| input | agrees before | agrees after | changed | wrongly changed |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, col in rows.items():
        before = after = changed = wrong = n = 0
        for items in pages.values():
            titles = [it[col] for it in items]
            affixes = learn(titles)
            for title, it in zip(titles, items):
                h1 = _fold(it[2])
                if not h1:
                    continue
                n += 1
                new = strip(title, affixes)[0]
                ok_before, ok_after = _fold(title) == h1, _fold(new) == h1
                before += ok_before
                after += ok_after
                changed += new != title
                wrong += ok_before and not ok_after
        print(f"| {name} | {before}/{n} | {after}/{n} | {changed} | {wrong} |")
    for pub, items in sorted(pages.items()):
        affixes = learn([it[0] for it in items])
        if affixes:
            print(f"  {pub}: {affixes.as_dict()}")


if __name__ == "__main__":
    main()
