"""Scoring functions for the extraction-quality benchmark, each as its corpus's SOURCE.md
describes the upstream metric."""
from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass

from newsmon.crawler.text import normalize

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(slots=True)
class Counts:
    """True/false positives and false negatives of a yes/no decision, with precision, recall
    and F1 (an empty side scores 1.0: nothing claimed, nothing wrong). For tests and benches."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, gold: bool, predicted: bool) -> None:
        self.tp += gold and predicted
        self.fp += predicted and not gold
        self.fn += gold and not predicted

    @property
    def positives(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def topic_counts(articles: list[dict], results: list[dict], topics: tuple[str, ...] | list[str],
                 langs: tuple[str, ...] = ("en", "ja")) -> dict[tuple[str, str], Counts]:
    """Per (topic, lang): gold labels (``article["topics"]``) against ``score_topics`` results."""
    table = {(t, lang): Counts() for t in topics for lang in langs}
    for a, r in zip(articles, results):
        for t in topics:
            if (t, a["lang"]) in table:
                table[(t, a["lang"])].add(t in a["topics"], bool(r[t]["label"]))
    return table


@dataclass(frozen=True, slots=True)
class PR:
    """Per-page precision and recall; None where the page does not count toward that average
    (upstream: precision is averaged over pages with a prediction, recall over pages with truth)."""

    precision: float | None
    recall: float | None
    exact: bool = False


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """ScrapingHub's bag of word n-gram shingles: ``\\w+`` tokens, overlapping n-grams.

    A text shorter than n tokens is one shingle of all its tokens (as upstream does)."""
    tokens = _WORD.findall(text or "")
    return Counter(
        tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n]
    )


def _precision(tp: float, fp: float, fn: float) -> float | None:
    if tp + fp == 0:
        return None if fn else 1.0
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float | None:
    if tp + fn == 0:
        return None if fp else 1.0
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fn)


def shingle_pr(predicted: str, truth: str) -> PR:
    """Per-page P/R from shingle multiplicities, TP/FP/FN normalised to sum to 1 per page."""
    pred, gold = shingles(predicted), shingles(truth)
    exact = _WORD.findall(predicted or "") == _WORD.findall(truth or "")
    tp = float(sum((pred & gold).values()))
    fp = float(sum((pred - gold).values()))
    fn = float(sum((gold - pred).values()))
    total = tp + fp + fn
    if total:
        tp, fp, fn = tp / total, fp / total, fn / total
    return PR(_precision(tp, fp, fn), _recall(tp, fp, fn), exact)


def macro_f1(scores: list[PR]) -> dict[str, float]:
    """Average P and R over pages (macro), then F1 of the averages (ScrapingHub's reporting)."""
    ps = [s.precision for s in scores if s.precision is not None]
    rs = [s.recall for s in scores if s.recall is not None]
    p = sum(ps) / len(ps) if ps else 0.0
    r = sum(rs) / len(rs) if rs else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    acc = sum(s.exact for s in scores) / len(scores) if scores else 0.0
    return {"f1": f1, "precision": p, "recall": r, "accuracy": acc, "n": len(scores)}


# --- ROUGE-LSum (fundus-evaluation) -----------------------------------------------------------


def _rouge_tokens(text: str) -> list[str]:
    # rouge-score's default tokenizer: lowercase, non-alphanumerics to spaces
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).split()


def _union_lcs_hits(ref: list[str], cands: list[list[str]]) -> list[str]:
    """Tokens of ``ref`` covered by the union of its LCS with each candidate unit."""
    hits: set[int] = set()
    ref_set = set(ref)
    # best-overlapping units first: once every reference token is hit, the rest cannot add any
    ranked = sorted(
        (c for c in cands if not ref_set.isdisjoint(c)),
        key=lambda c: -len(ref_set.intersection(c)),
    )
    for cand in ranked:
        if len(hits) == len(ref):
            break
        if cand == ref:
            hits.update(range(len(ref)))
            break
        rows, cols = len(ref), len(cand)
        table = [[0] * (cols + 1) for _ in range(rows + 1)]
        for i in range(rows):
            ri = ref[i]
            row, nxt = table[i], table[i + 1]
            for j in range(cols):
                nxt[j + 1] = row[j] + 1 if ri == cand[j] else (row[j + 1] if row[j + 1] >= nxt[j] else nxt[j])
        i, j = rows, cols
        while i > 0 and j > 0:
            if ref[i - 1] == cand[j - 1]:
                hits.add(i - 1)
                i -= 1
                j -= 1
            elif table[i - 1][j] >= table[i][j - 1]:
                i -= 1
            else:
                j -= 1
    return [ref[i] for i in sorted(hits)]


def _rouge_from_hits(ref: list[list[str]], cand: list[list[str]], unions: list[list[str]]) -> PR:
    n_ref = sum(len(r) for r in ref)
    n_cand = sum(len(c) for c in cand)
    if not n_ref or not n_cand:
        return PR(0.0, 0.0)
    # rouge-score clips each token's hits to its count in both texts
    ref_counts = Counter(t for r in ref for t in r)
    cand_counts = Counter(t for c in cand for t in c)
    hits = 0
    for union in unions:
        for tok in union:
            if ref_counts[tok] > 0 and cand_counts[tok] > 0:
                hits += 1
                ref_counts[tok] -= 1
                cand_counts[tok] -= 1
    return PR(hits / n_cand, hits / n_ref)


def rouge_lsum(predicted_paragraphs: list[str], reference_paragraphs: list[str]) -> PR:
    """ROUGE-LSum with paragraphs as the summary-level units (union LCS over units).

    The quantity rouge-score's ``rougeLsum`` computes on newline-joined paragraphs, with its
    default tokenizer (lowercase, runs of [a-z0-9]) and no stemming."""
    ref = [t for t in (_rouge_tokens(p) for p in reference_paragraphs) if t]
    cand = [t for t in (_rouge_tokens(p) for p in predicted_paragraphs) if t]
    return _rouge_from_hits(ref, cand, [_union_lcs_hits(r, cand) for r in ref])


def f1_of(pr: PR) -> float:
    p, r = pr.precision or 0.0, pr.recall or 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def best_over_optional(predicted: list[str], reference: list[str]) -> PR:
    """fundus-evaluation: paragraphs in ``[...]`` are optional; keep the best-scoring choice."""
    optional = {i for i, p in enumerate(reference) if p.startswith("[") and p.endswith("]")}
    base = [p[1:-1] if i in optional else p for i, p in enumerate(reference)]
    ref = [_rouge_tokens(p) for p in base]
    cand = [t for t in (_rouge_tokens(p) for p in predicted) if t]
    # a reference unit's LCS hits do not depend on which other units are kept: compute once
    unions = [_union_lcs_hits(r, cand) if r else [] for r in ref]
    opt = sorted(optional)[:8]
    best: PR | None = None
    for keep in itertools.product((True, False), repeat=len(opt)):
        dropped = {opt[k] for k, kept in enumerate(keep) if not kept}
        idx = [i for i in range(len(ref)) if i not in dropped and ref[i]]
        score = _rouge_from_hits([ref[i] for i in idx], cand, [unions[i] for i in idx])
        if best is None or f1_of(score) > f1_of(best):
            best = score
    assert best is not None
    return best


# --- Japanese: character-level body F1 --------------------------------------------------------


def norm_ja(text: str | None) -> str:
    """NFKC with all whitespace removed: Japanese text has no word spaces to compare."""
    return normalize(text).replace(" ", "")


def char_ngram_pr(predicted: str, truth: str, n: int = 4) -> PR:
    """Character n-gram bag overlap (micro within the page), the Japanese analogue of shingles."""
    a, b = norm_ja(predicted), norm_ja(truth)
    pa = Counter(a[i : i + n] for i in range(max(0, len(a) - n + 1)))
    pb = Counter(b[i : i + n] for i in range(max(0, len(b) - n + 1)))
    if not pa or not pb:
        return PR(1.0 if not pa else 0.0, 0.0, a == b)
    tp = sum((pa & pb).values())
    return PR(tp / sum(pa.values()), tp / sum(pb.values()), a == b)


norm_text = normalize  # NFKC + whitespace collapsed: how titles and authors are compared


__all__ = [
    "Counts", "PR", "best_over_optional", "char_ngram_pr", "f1_of", "macro_f1", "norm_ja", "norm_text",
    "rouge_lsum", "shingle_pr", "shingles", "topic_counts",
]
