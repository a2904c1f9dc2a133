"""The keyword cache's search (index/search/keyword_cache.py), which ranks only the documents
that can reach the top k, returns exactly what ranking every matched document returns — the
same documents, order and scores to the last bit — on a corpus with Zipf-distributed words,
duplicated documents (ties at the k-th place, broken by article id), filters and repeated query
terms."""
from __future__ import annotations

import numpy as np
import pytest

from newsmon.index.search.keyword_cache import KeywordCache
from tests.helpers.bm25_reference import plain_top_k

VOCAB = 4000


def _corpus(seed: int, n: int = 5000) -> KeywordCache:
    rng = np.random.default_rng(seed)
    words = np.minimum(rng.zipf(1.3, size=n * 80), VOCAB)
    rows, at = [], 0
    for i in range(n):
        title_len, body_len = int(rng.integers(2, 9)), int(rng.integers(5, 150))
        title = " ".join(f"w{w}" for w in words[at:at + title_len])
        body = " ".join(f"w{w}" for w in words[at + title_len:at + title_len + body_len])
        at = (at + title_len + body_len) % (len(words) - 200)
        rows.append([i + 1, f"a{rng.integers(10**9):09d}", "ja" if i % 3 else "en",
                     f"s{i % 7}", "", "{}", "[]", title, body])
    # copies: equal scores, so the k-th place is often a tie
    for j in range(0, n, 25):
        copy = list(rows[j])
        copy[0], copy[1] = n + j + 1, f"c{rng.integers(10**9):09d}"
        rows.append(copy)
    return KeywordCache.build(1, rows, 2.0)


@pytest.mark.parametrize("seed", [1, 2])
def test_top_k_equals_ranking_every_match(seed: int) -> None:
    cache = _corpus(seed)
    rng = np.random.default_rng(seed + 100)
    masks = [None, cache.lang == "en", rng.random(cache.n) < 0.02]
    cut = 0
    for _ in range(150):
        # common words (low ranks) with a rare one or two, now and then a repeat or an
        # unknown word
        terms = [f"w{w}" for w in rng.integers(1, 40, size=int(rng.integers(1, 7)))]
        terms += [f"w{w}" for w in rng.integers(40, VOCAB + 50, size=int(rng.integers(0, 3)))]
        if rng.random() < 0.2:
            terms.append(terms[0])
        rng.shuffle(terms)
        mask = masks[int(rng.integers(len(masks)))]
        for k in (1, 10, 100):
            got = cache.search(terms, mask, k)
            assert got == plain_top_k(cache, terms, mask, k), (terms, k)
            cut += len(got) == k
    assert cut > 300   # most searches filled their k: the cut below the k-th was exercised
