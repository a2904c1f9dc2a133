"""Round 7 of issue 16's held-out floors: how much of an article is about the query, measured
sentence by sentence with the same bi-encoder. A neighbour names a rule's subject in a sentence
or two (the Franco-German fighter story names GCAP as a rival); an answer is about it throughout.

The dump (bench/relevance_rules.py ``dump``) holds each article's body sentences embedded as
passages (``svectors``). Per (query or listed item, article): each sentence's cosine to the query
vector, standardised by the per-language moments of every stored sentence vector (sz), and

- smax: the best sentence's sz;
- stop3: the mean of the three best;
- share τ: the share of the article's sentences at sz >= τ (τ 1.0 / 1.5 / 2.0).

Each is fitted beside z and evidence over the devset's question pairs (as the shipped A, B, C
were) and scored as round 5 ships it (items at whole-query z >= 0.5).

    .venv/bin/python bench/relevance_rules.py dump devset /tmp/dev7.json
    .venv/bin/python bench/relevance_round7.py /tmp/dev7.json                 # every variant
    .venv/bin/python bench/relevance_rules.py dump heldout /tmp/held7.json
    .venv/bin/python bench/relevance_round7.py /tmp/dev7.json /tmp/held7.json --only NAME ...
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import relevance_round6 as r6  # noqa: E402
from relevance_rules import _groups, _own  # noqa: E402

from newsmon.index.search.fair import LangStats  # noqa: E402


class Sentences:
    """Per-language moments of every sentence vector; per article its sentences' matrix."""

    def __init__(self, data: dict) -> None:
        self.mat = {d: np.asarray(v, dtype=np.float32) for d, v in data["svectors"].items()}
        self.lang = data["doc_lang"]
        self.stats = LangStats.build((self.lang[d], row) for d, m in self.mat.items() for row in m)

    def sz(self, doc: str, q: np.ndarray) -> np.ndarray:
        cos = self.mat[doc] @ q
        return np.array([self.stats.zscore(self.lang[doc], q, float(c)) or 0.0 for c in cos])


def sentence_features(data: dict, q: dict, h: dict) -> list[dict]:
    """Round 6's per-group features plus the sentence-level ones, same group order."""
    groups = r6.group_features(data, q, h)
    vecs = [np.asarray(q["qvec"], np.float32) if vec is None else vec
            for terms, vec in _groups(q) if _own(terms, h["lang"])]
    for g, v in zip(groups, vecs):
        sz = np.sort(data["_s"].sz(h["d"], v))[::-1]
        g["smax"] = float(sz[0])
        g["stop3"] = float(sz[:3].mean())
        for tau in (1.0, 1.5, 2.0):
            g[f"share{tau}"] = float((sz >= tau).mean())
    return groups


FEATURES: dict[str, tuple[str, ...]] = {
    "z, ev, smax": ("z", "ev", "smax"),
    "z, ev, stop3": ("z", "ev", "stop3"),
    "z, ev, share1.0": ("z", "ev", "share1.0"),
    "z, ev, share1.5": ("z", "ev", "share1.5"),
    "z, ev, share2.0": ("z", "ev", "share2.0"),
    "smax, ev": ("smax", "ev"),
    "stop3, ev": ("stop3", "ev"),
    "z, ev, stop3, share1.5": ("z", "ev", "stop3", "share1.5"),
}


def main() -> None:
    sets, only = r6.load(sys.argv[1:])
    for data in sets:
        data["_s"] = Sentences(data)
    r6.run_variants(sets, only, sentence_features, FEATURES)


if __name__ == "__main__":
    main()
