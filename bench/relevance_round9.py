"""Round 9 of issue 16's held-out floors: hubness. Some articles stand near every query of
their field (a pact overview naming cyber, minerals and GCAP); their z for any such query is
high, so they answer unanswerable questions and fire broad rules. Cross-domain similarity local
scaling (CSLS; Conneau et al., "Word Translation Without Parallel Data", 2018) discounts a
candidate's similarity by its mean similarity to its own nearest neighbours. Per article, over
the dumped vectors (bench/relevance_rules.py ``dump``):

- hub K: the mean cosine to its K nearest other articles of the store (any language),
  standardised over the store's articles (K = 3, 5, 10).

Each is fitted beside z and evidence over the devset's question pairs (as the shipped A, B, C
were) and scored as round 5 ships it (items at whole-query z >= 0.5); the fit decides the
discount's weight.

    .venv/bin/python bench/relevance_rules.py dump devset /tmp/dev8.json
    .venv/bin/python bench/relevance_round9.py /tmp/dev8.json                 # every variant
    .venv/bin/python bench/relevance_rules.py dump heldout /tmp/held8.json
    .venv/bin/python bench/relevance_round9.py /tmp/dev8.json /tmp/held8.json --only NAME ...
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import relevance_round6 as r6  # noqa: E402

KS = (3, 5, 10)


def hubness(data: dict) -> dict[int, dict[str, float]]:
    """K -> article -> its standardised mean cosine to its K nearest other articles."""
    docs = sorted(data["vectors"])
    mat = np.asarray([data["vectors"][d] for d in docs], dtype=np.float32)
    mat /= np.linalg.norm(mat, axis=1, keepdims=True)
    sims = mat @ mat.T
    np.fill_diagonal(sims, -1.0)
    top = -np.sort(-sims, axis=1)
    out = {}
    for k in KS:
        r = top[:, :k].mean(axis=1)
        out[k] = dict(zip(docs, ((r - r.mean()) / r.std()).tolist(), strict=True))
    return out


def hub_features(data: dict, q: dict, h: dict) -> list[dict]:
    groups = r6.group_features(data, q, h)
    for g in groups:
        for k in KS:
            g[f"hub{k}"] = data["_hub"][k][h["d"]]
    return groups


FEATURES: dict[str, tuple[str, ...]] = {f"z, ev, hub{k}": ("z", "ev", f"hub{k}") for k in KS}


def main() -> None:
    sets, only = r6.load(sys.argv[1:])
    for data in sets:
        data["_hub"] = hubness(data)
    r6.run_variants(sets, only, hub_features, FEATURES)


if __name__ == "__main__":
    main()
