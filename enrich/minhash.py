"""MinHash fingerprints for near-duplicate detection (syndicated copies, AMP and URL variants).

Shingles are word 3-grams of normalised, stemmed tokens for English (small spelling and
punctuation edits do not break them) and character 3-grams for Japanese (no word boundaries
needed). The share of equal signature positions estimates the Jaccard similarity of the two
shingle sets.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

from newsmon.enrich.text import char_ngrams, tokenize

_PRIME = np.uint64((1 << 31) - 1)  # hashes are 31-bit, so a*x+b stays inside 64 bits
_SEED = 20261113  # fixed: signatures must be comparable across runs and processes


def shingles(title: str, text: str, lang: str, *, words: int = 3, chars: int = 3) -> set[str]:
    """The shingle set of an article (headline and body together)."""
    body = f"{title}\n{text}"
    if lang == "ja":
        return set(char_ngrams(body, chars))
    tokens = tokenize(body, "en")
    if len(tokens) < words:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i:i + words]) for i in range(len(tokens) - words + 1)}


def _hashes(items: Iterable[str]) -> np.ndarray:
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=4).digest(), "little")
         & 0x7FFFFFFF for s in items),
        dtype=np.uint64,
    )


class MinHasher:
    """Signatures of ``num_perm`` 32-bit values; the same parameters give the same signatures."""

    def __init__(self, num_perm: int = 128) -> None:
        if num_perm < 16:
            raise ValueError(f"num_perm must be at least 16, got {num_perm}")
        rng = np.random.default_rng(_SEED)
        self.num_perm = num_perm
        self._a = rng.integers(1, int(_PRIME), size=num_perm, dtype=np.uint64)
        self._b = rng.integers(0, int(_PRIME), size=num_perm, dtype=np.uint64)

    def signature(self, items: Iterable[str]) -> np.ndarray:
        hashed = _hashes(items)
        if hashed.size == 0:
            # an empty text matches nothing (all-max never equals a real minimum by chance)
            return np.full(self.num_perm, 0xFFFFFFFF, dtype=np.uint32)
        # (num_perm, n) permuted hashes in chunks, so a long text never makes a huge matrix
        out = np.full(self.num_perm, int(_PRIME), dtype=np.uint64)
        for start in range(0, hashed.size, 4096):
            part = hashed[start:start + 4096]
            permuted = (self._a[:, None] * part[None, :] + self._b[:, None]) % _PRIME
            np.minimum(out, permuted.min(axis=1), out=out)
        return out.astype(np.uint32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    if a.shape != b.shape:
        raise ValueError(f"signatures of different length: {a.shape} vs {b.shape}")
    return float(np.mean(a == b))


def similarities(sig: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of one signature to each row of ``others`` (m, num_perm)."""
    if others.size == 0:
        return np.zeros(0, dtype=np.float64)
    sims: np.ndarray = (others == sig[None, :]).mean(axis=1)
    return sims


def to_bytes(sig: np.ndarray) -> bytes:
    return np.asarray(sig, dtype="<u4").tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<u4").astype(np.uint32)


__all__ = ["MinHasher", "shingles", "similarity", "similarities", "to_bytes", "from_bytes"]
