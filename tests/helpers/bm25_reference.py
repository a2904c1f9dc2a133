"""The keyword cache's BM25 top k the plain way — every term's postings summed into fresh
arrays, every matched document ranked — as index/search/keyword_cache.py did it before its
search avoided the temporaries and the ranking of every match. The test of the cache checks
against it and bench/keyword_cache.py measures against it."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from newsmon.index.search.keyword_cache import K1, B, KeywordCache


def plain_top_k(cache: KeywordCache, terms: Sequence[str], mask: np.ndarray | None, k: int
                ) -> list[tuple[int, float]]:
    n = cache.n
    if not n or not terms or k <= 0 or not cache.avgdl:
        return []
    scores = np.zeros(n, dtype=np.float64)
    matched = np.zeros(n, dtype=bool)
    norm = K1 * (1.0 - B + B * cache.doc_len / cache.avgdl)
    for term in terms:
        t = cache.vocab.get(term)
        if t is None:
            continue
        lo, hi = int(cache.offsets[t]), int(cache.offsets[t + 1])
        if lo == hi:
            continue
        docs = cache.docs[lo:hi]
        tf = cache.weighted_tf[lo:hi].astype(np.float64)
        idf = float(np.log((n - (hi - lo) + 0.5) / ((hi - lo) + 0.5)))
        scores[docs] += (idf if idf > 0.0 else 1e-6) * (tf * (K1 + 1.0)) / (tf + norm[docs])
        matched[docs] = True
    if mask is not None:
        matched &= mask
    pos = np.flatnonzero(matched)
    if not len(pos):
        return []
    sel = scores[pos]
    if len(pos) > k:
        kth = np.partition(-sel, k - 1)[k - 1]
        keep = -sel <= kth
        pos, sel = pos[keep], sel[keep]
    order = sorted(range(len(pos)), key=lambda i: (-sel[i], cache.ids[pos[i]]))[:k]
    return [(int(pos[i]), float(sel[i])) for i in order]
