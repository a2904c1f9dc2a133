"""What "paywalled" means on real pages: the corpus pages whose publisher declares a paywall
(JSON-LD ``isAccessibleForFree: false``), and what newsmon makes of each.

    .venv/bin/python bench/paywall_flags.py

For every page of the corpora that bench/extract_quality.py scores, the page's own declaration
is read from its JSON-LD (the baseline: what a declaration-only rule would flag), and
``extract_article`` gives the status newsmon stores: ``paywalled`` (the text is cut short by a
paywall: hidden from nothing, but marked) or ``ok`` with the ``declared_paywall`` flag (the
publisher says so, the full text is there). Reported: counts, and the extracted text length of
each group, against the ground-truth body length where the corpus has one.
"""
from __future__ import annotations

import json
import re
import statistics
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.extract_quality import FETCHED, _fundus_eval, _fundus_jp, _mercury_ja, _naeb, _read, _scrapinghub  # noqa: E402
from newsmon.crawler.extract import extract_article  # noqa: E402
from newsmon.crawler.page import Page  # noqa: E402
from newsmon.index.core.errors import ExtractError  # noqa: E402

_NOT_FREE = re.compile(rb'"isAccessibleForFree"\s*:\s*"?(false|False|FALSE)"?')


def main() -> int:
    cases = [c for load in (_scrapinghub, _fundus_eval, _naeb, _fundus_jp, _mercury_ja)
             for c in load()]
    declared = 0
    outcome: Counter[str] = Counter()
    lengths: dict[str, list[int]] = {"paywalled": [], "declared_paywall": []}
    truth_ratio: dict[str, list[float]] = {"paywalled": [], "declared_paywall": []}
    for case in cases:
        body = _read(case)
        if not _NOT_FREE.search(body):
            continue
        declared += 1
        page = Page(url=case.url, body=body, source=case.set, lang=case.lang, tz=case.tz,
                    fetched_at=FETCHED, content_type=case.content_type)
        try:
            art = extract_article(page)
        except ExtractError as err:
            outcome[f"error:{err.reason}"] += 1
            continue
        if art.status.value == "paywalled":
            key = "paywalled"
        elif "declared_paywall" in art.flags:
            key = "declared_paywall"
        else:
            key = f"other:{art.status.value}"
        outcome[key] += 1
        if key in lengths:
            lengths[key].append(len(art.text))
            truth = case.truth.get("text") or case.truth.get("body") or ""
            if truth:
                truth_ratio[key].append(len(art.text) / max(1, len(truth)))
    print(json.dumps({"pages": len(cases), "declare_isAccessibleForFree_false": declared,
                      "newsmon": dict(outcome)}, indent=2))
    for key, xs in lengths.items():
        if xs:
            ratio = truth_ratio[key]
            print(f"{key}: {len(xs)} pages, text length median {statistics.median(xs):.0f} "
                  f"(min {min(xs)}, max {max(xs)})"
                  + (f"; extracted / ground-truth length median {statistics.median(ratio):.2f} "
                     f"over {len(ratio)} pages with a truth body" if ratio else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
