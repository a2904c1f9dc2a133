"""FTS5's BM25, computed by numpy over an in-memory copy of the index's postings.

FTS5 answers an OR query by scoring every row that holds any query term, in a C callback per
row; with terms found in half the index (a Japan–UK monitor's "japan", "uk", 「日英」) that is
tens of thousands of callbacks per query: 400 ms at 100k articles on 2 cores. The same scores
come out of a few vector operations over per-term arrays of (document, weighted term count):
about 1 ms per query. The cache holds those arrays, each document's token count and its filter
columns, for one version of the index (``search_meta.version``).

It reproduces ``bm25(search_fts, TITLE_WEIGHT, 1.0)`` exactly (sqlite's fts5_aux.c): per query
term, ``idf = ln((N - n + 0.5) / (n + 0.5))`` (1e-6 when not positive), ``n`` the documents
holding the term in any column; the term's count in a document is its title occurrences times
the title weight plus its body occurrences; ``D`` is the document's title and body tokens,
``avgdl`` their mean over the index; ``k1 = 1.2``, ``b = 0.75``. Tokens are split as FTS5's
``unicode61`` tokenizer splits them (letters, numbers and ``+``; case folded). A query token
that is more than one FTS5 token (FTS5 would read it as a phrase) is not answered here: the
caller asks FTS5.

Building takes seconds at 100k articles (BENCHMARKS.md), so a long-lived search process builds
it in the background and answers from FTS5 until it is ready; a one-shot command never builds it.
"""
from __future__ import annotations

import json
import re
import threading
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

K1 = 1.2
B = 0.75
# what separates tokens for FTS5's unicode61 tokenizer (token characters: categories L* N* Co,
# and the tokenchars '+')
_FTS_SEPARATOR = re.compile(r"[^\w+]|_")


def fts_terms(text: str) -> list[str]:
    tokens = text.lower().split()
    # the stored search text is already tokens joined by spaces: most need no more splitting
    if all(map(str.isalnum, tokens)):
        return tokens
    return _FTS_SEPARATOR.sub(" ", " ".join(tokens)).split()


def single_term(token: str) -> str | None:
    """``token`` as one FTS5 term, or None when FTS5 would split it into a phrase (or drop
    it)."""
    terms = fts_terms(token)
    return terms[0] if len(terms) == 1 else None


CHUNK_DOCS = 8192


class _Chunk:
    """The tokens of a run of documents, as term ids with the documents' title lengths."""

    def __init__(self, title_weight: float) -> None:
        self.title_weight = title_weight
        self.terms = array("q")
        self.title_lens: list[int] = []
        self.lens: list[int] = []

    def __len__(self) -> int:
        return len(self.lens)

    def add(self, title_ids: list[int], body_ids: list[int]) -> None:
        self.terms.extend(title_ids)
        self.terms.extend(body_ids)
        self.title_lens.append(len(title_ids))
        self.lens.append(len(title_ids) + len(body_ids))

    def postings(self, first_doc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(term, document, weighted term count) per distinct (term, document), sorted by term
        then document; documents numbered from ``first_doc``."""
        m = len(self.lens)
        per_doc = np.asarray(self.lens, dtype=np.int64)
        if not len(self.terms):
            return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.float32)
        terms = np.frombuffer(self.terms, dtype=np.int64)
        local = np.repeat(np.arange(m, dtype=np.int64), per_doc)
        # a token's weight: the title weight for a document's first title_len tokens
        starts = np.cumsum(per_doc) - per_doc
        in_doc = np.arange(len(terms), dtype=np.int64) - np.repeat(starts, per_doc)
        weight = np.where(in_doc < np.repeat(np.asarray(self.title_lens, np.int64), per_doc),
                          self.title_weight, 1.0)
        keys, inverse = np.unique(terms * m + local, return_inverse=True)
        wtf = np.bincount(inverse.reshape(-1), weights=weight).astype(np.float32)
        return ((keys // m).astype(np.int32), (keys % m + first_doc).astype(np.int32), wtf)


@dataclass(slots=True)
class KeywordCache:
    version: int
    vocab: dict[str, int]
    offsets: np.ndarray          # (terms + 1,) int64: term t's postings are [off[t], off[t+1])
    docs: np.ndarray             # (postings,) int32 document positions, ascending per term
    weighted_tf: np.ndarray      # (postings,) float32: title count x title weight + body count
    doc_len: np.ndarray          # (n,) float64: title + body tokens
    avgdl: float
    rowids: np.ndarray           # (n,) int64, ascending
    ids: np.ndarray              # article ids (object)
    # filter columns, as the semantic matrix holds them (EmbeddedBackend._mask reads both)
    lang: np.ndarray
    source: np.ndarray
    published: np.ndarray
    topics: list[dict[str, float]]
    entities: list[frozenset[str]]
    masks: dict[Any, np.ndarray | None] = field(default_factory=dict)  # EmbeddedBackend._mask
    norm: np.ndarray = field(default_factory=lambda: np.zeros(0))  # BM25's K1 * (1 - B + B * D / avgdl)

    def __post_init__(self) -> None:
        if self.avgdl:
            self.norm = K1 * (1.0 - B + B * self.doc_len / self.avgdl)

    @property
    def n(self) -> int:
        return len(self.rowids)

    @classmethod
    def build(cls, version: int, rows: Iterable[Sequence[Any]], title_weight: float
              ) -> KeywordCache:
        """From rows (rowid, article_id, lang, source, published, topics JSON, entities JSON,
        title tokens, body tokens) in rowid order."""
        vocab: dict[str, int] = {}
        rowids, ids, langs, sources, pubs, topics, ents = [], [], [], [], [], [], []
        lens: list[int] = []
        postings: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        # tokens are turned into postings a chunk of documents at a time: sorting all of
        # 100k articles' tokens at once took 1.3 GB for a cache that keeps 180 MB
        chunk = _Chunk(title_weight)
        for rowid, aid, lang, source, published, tps, es, title, body in rows:
            rowids.append(rowid)
            ids.append(aid)
            langs.append(lang or "")
            sources.append(source)
            pubs.append(published or "")
            topics.append(json.loads(tps))
            ents.append(frozenset(json.loads(es)))
            t_terms, b_terms = fts_terms(title or ""), fts_terms(body or "")
            chunk.add([vocab.setdefault(t, len(vocab)) for t in t_terms],
                      [vocab.setdefault(t, len(vocab)) for t in b_terms])
            lens.append(len(t_terms) + len(b_terms))
            if len(chunk) >= CHUNK_DOCS:
                postings.append(chunk.postings(first_doc=len(rowids) - len(chunk)))
                chunk = _Chunk(title_weight)
        if len(chunk):
            postings.append(chunk.postings(first_doc=len(rowids) - len(chunk)))
        n = len(rowids)
        doc_len = np.asarray(lens, dtype=np.float64)
        if postings:
            terms = np.concatenate([p[0] for p in postings])
            # by term; a stable sort keeps each term's documents ascending, chunk after chunk
            order = np.argsort(terms, kind="stable")
            docs = np.concatenate([p[1] for p in postings])[order]
            wtf = np.concatenate([p[2] for p in postings])[order]
            offsets = np.searchsorted(terms[order], np.arange(len(vocab) + 1)).astype(np.int64)
        else:
            docs, wtf = np.zeros(0, np.int32), np.zeros(0, np.float32)
            offsets = np.zeros(len(vocab) + 1, np.int64)
        return cls(version, vocab, offsets, docs, wtf, doc_len,
                   float(doc_len.sum() / n) if n else 0.0, np.asarray(rowids, dtype=np.int64),
                   np.asarray(ids, dtype=object), np.asarray(langs, dtype=object),
                   np.asarray(sources, dtype=object), np.asarray(pubs, dtype=object), topics,
                   ents)

    def search(self, terms: Sequence[str], mask: np.ndarray | None, k: int
               ) -> list[tuple[int, float]]:
        """The top ``k`` (position, score) of the OR of ``terms`` (single FTS5 terms, repeats
        counted as FTS5 counts them), among the documents ``mask`` keeps; ties by article
        id."""
        n = self.n
        # avgdl 0: no document has a token, so no term has postings
        if not n or not terms or k <= 0 or not self.avgdl:
            return []
        scores = np.zeros(n, dtype=np.float64)
        rarest: np.ndarray | None = None
        for term in terms:
            t = self.vocab.get(term)
            if t is None:
                continue
            lo, hi = int(self.offsets[t]), int(self.offsets[t + 1])
            if lo == hi:
                continue
            idf = float(np.log((n - (hi - lo) + 0.5) / ((hi - lo) + 0.5)))
            docs = self.docs[lo:hi]
            add, tmp = self._contributions(lo, hi, idf if idf > 0.0 else 1e-6, docs)
            np.take(scores, docs, out=tmp)
            np.add(tmp, add, out=tmp)
            scores[docs] = tmp
            if rarest is None or len(docs) < len(rarest):
                rarest = docs
        if rarest is None:
            return []
        # the k-th best score among the rarest term's documents is at most the k-th best of
        # all: only documents from there up are ranked (not the half of the index that holds
        # a common term)
        if mask is not None:
            rarest = rarest[mask[rarest]]
        floor = -np.partition(-scores[rarest], k - 1)[k - 1] if len(rarest) >= k else 0.0
        live = scores >= floor if floor > 0.0 else scores > 0.0
        if mask is not None:
            live &= mask
        pos = np.flatnonzero(live)
        if not len(pos):
            return []
        sel = scores[pos]
        if len(pos) > k:
            # everything tied with the k-th score stays in, so ties break by article id
            kth = np.partition(-sel, k - 1)[k - 1]
            keep = -sel <= kth
            pos, sel = pos[keep], sel[keep]
        order = sorted(range(len(pos)), key=lambda i: (-sel[i], self.ids[pos[i]]))[:k]
        return [(int(pos[i]), float(sel[i])) for i in order]

    def _contributions(self, lo: int, hi: int, idf: float, docs: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
        """``idf * (tf * (K1 + 1)) / (tf + norm)`` for one term's postings (FTS5's order of
        operations), in a buffer reused from query to query: fresh temporaries of a common
        term's size (half a million postings at 1M articles) cost page faults on every query;
        and a second buffer of the same length for the caller."""
        tf, den = _buffers(hi - lo)
        np.copyto(tf, self.weighted_tf[lo:hi])
        np.take(self.norm, docs, out=den)
        np.add(tf, den, out=den)
        np.multiply(tf, K1 + 1.0, out=tf)
        np.multiply(tf, idf, out=tf)
        np.divide(tf, den, out=tf)
        return tf, den


_local = threading.local()


def _buffers(m: int) -> tuple[np.ndarray, np.ndarray]:
    """Two float64 work arrays of length ``m``, one pair per thread, grown as needed."""
    have = getattr(_local, "buffers", None)
    if have is None or len(have[0]) < m:
        size = max(m, 1 << 16)
        have = _local.buffers = (np.empty(size), np.empty(size))
    return have[0][:m], have[1][:m]


__all__ = ["KeywordCache", "fts_terms", "single_term"]
