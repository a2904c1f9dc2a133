"""Language-fair semantic scores: how far an article stands above its own language's background.

A multilingual embedding gives text in the query's language a higher cosine than text in the
other language on the same subject (multilingual-e5 by about the width of the whole band of
related articles), so a raw cosine ranks English articles on neighbouring subjects above the
Japanese article that answers an English question. Per-language normalisation removes that:
an article's score is the z-score of its cosine within the distribution of cosines between the
query and every article of its language,

    z = (q·d - q·mu_L) / sqrt(q' C_L q),

where mu_L and C_L are the mean and covariance of the language's document vectors. Both are
exact moments of that distribution, so the background costs two small products per query and
no pass over the documents; both backends use the same statistics (``LangStats``, built by the
caller from the store's vectors) and therefore rank alike.

Measured on ../shared/devset (BENCHMARKS.md, "Language-fair search"): the cross-lingual MRR with
the same-language answers removed went from 0.47 to 0.93 in semantic mode with the
same-language MRR unchanged at 1.0; centring the vectors on the language mean instead (Libovický
et al. 2020) gave 0.77, centring plus the z-score 0.87 (and 0.97 same-language).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

MIN_DOCS = 2   # a language with fewer documents has no background to stand above
MEMO_SIZE = 256   # backgrounds kept (a few per search; saved searches repeat queries)


@dataclass(frozen=True, slots=True)
class LangStats:
    """Per language: the number of documents, their mean vector and covariance."""

    counts: Mapping[str, int]
    means: Mapping[str, np.ndarray]
    covs: Mapping[str, np.ndarray]
    unknown: int = 0           # documents without a language (scored against the whole store)
    # (language, query bytes) -> background: every hit of a search shares its language's, and
    # the covariance product per hit was a tenth of a hybrid search's time at 100k articles
    _memo: dict[tuple[str, bytes], tuple[float, float]] = field(
        default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, rows: Iterable[tuple[str | None, np.ndarray]]) -> LangStats:
        """From (language, vector) pairs; one pass, sums of outer products in float64."""
        n: dict[str, int] = {}
        s1: dict[str, np.ndarray] = {}
        s2: dict[str, np.ndarray] = {}
        unknown = 0
        batch: dict[str, list[np.ndarray]] = {}

        def flush(lang: str) -> None:
            x = np.vstack(batch.pop(lang)).astype(np.float64)
            s1[lang] = s1.get(lang, 0) + x.sum(0)
            s2[lang] = s2.get(lang, 0) + x.T @ x
            n[lang] = n.get(lang, 0) + len(x)

        for lang, vec in rows:
            key = lang or "?"
            unknown += not lang
            batch.setdefault(key, []).append(np.asarray(vec, dtype=np.float32).reshape(-1))
            if len(batch[key]) >= 2048:
                flush(key)
        for key in list(batch):
            flush(key)
        # "": the whole store, the background of a document without a language
        if n:
            s1[""] = sum((s1[k] for k in n), np.zeros_like(next(iter(s1.values()))))
            s2[""] = sum((s2[k] for k in n), np.zeros_like(next(iter(s2.values()))))
            n[""] = sum(n.values())
        means, covs = {}, {}
        for lang, count in n.items():
            if count < MIN_DOCS:
                continue
            mu = s1[lang] / count
            means[lang] = mu.astype(np.float32)
            covs[lang] = (s2[lang] / count - np.outer(mu, mu)).astype(np.float32)
        return cls({k: v for k, v in n.items() if k not in ("", "?")}, means, covs, unknown)

    @property
    def langs(self) -> tuple[str, ...]:
        return tuple(sorted(k for k in self.means if k not in ("", "?")))

    def background(self, lang: str | None, query: np.ndarray) -> tuple[float, float] | None:
        """(mean, standard deviation) of the query's cosine over ``lang``'s documents."""
        key = lang if lang is not None and lang in self.means else ""
        mu = self.means.get(key)
        if mu is None:
            return None
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        memo = (key, q.tobytes())
        bg = self._memo.get(memo)
        if bg is None:
            var = float(q @ self.covs[key] @ q)
            bg = (float(q @ mu), max(var, 1e-12) ** 0.5)
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            self._memo[memo] = bg
        return bg

    def zscore(self, lang: str | None, query: np.ndarray, cosine: float) -> float | None:
        bg = self.background(lang, query)
        return None if bg is None else (cosine - bg[0]) / bg[1]


__all__ = ["LangStats", "MIN_DOCS"]
