"""An approximate nearest-neighbour index over the embedded backend's vectors, kept in files
beside the SQLite store: one HNSW graph (usearch) per language, keyed by ``search_docs`` rowid.

Why: exact cosine search reads the whole matrix per query, so its cost grows with n; at 1M
articles the bare product is about 200 ms (BENCHMARKS.md, "Search latency"). An HNSW graph
visits a few thousand vectors per query whatever n is. usearch was chosen after measuring it
beside faiss-cpu, hnswlib and sqlite-vec (BENCHMARKS.md, "ANN index"; bench/ann_candidates.py).

One graph per language, because language-fair search (index/search/fair.py) asks for one
candidate list per language: each list is then one graph query, not a filtered walk through a
graph of every language. Documents without a language have a graph of their own.

The graphs are a cache of the store, never a second source of truth:

- ``sync`` brings them to the store's vectors as the backend read them (``_Matrix``): each row's
  vector has a 64-bit checksum, the file keeps the checksum of every key it holds, and the
  difference (rows added, removed, or whose vector changed) is applied to the graph: upserts,
  deletes and ``delete_source`` cost what they changed, not a rebuild. Whatever happened to
  the file (a writer killed mid-batch, a transaction rolled back after the graph moved, an old
  copy restored) the difference against the store repairs it.
- A file is written whole to a temporary name and renamed over the old one, with a digest of
  its body in its header: a torn, truncated or foreign file fails the check and the language's
  graph is rebuilt from the store (logged, and counted in ``AnnIndex.rebuilds``).
- A file built for another model, dimension or graph parameters is rebuilt.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MAGIC = b"NEWSMON-ANN\x00"
FORMAT = 1
# rows removed since a graph was built (their nodes stay as tombstones) beyond which it is
# rebuilt rather than patched
MAX_TOMBSTONES = 0.25


def unavailable() -> str | None:
    """Why the ANN index cannot be used here (None: it can)."""
    try:
        import usearch.index  # noqa: F401
    except ImportError:
        return ("the usearch package is not installed: exact search answers semantic queries "
                "(pip install 'newsmon[ann]' for the approximate index above the size "
                "threshold)")
    return None


@dataclass(frozen=True, slots=True)
class AnnParams:
    """The graph's parameters (BENCHMARKS.md, "ANN index", for how they were chosen)."""

    dtype: str = "f16"          # stored vectors; candidates are re-ranked on the exact matrix
    connectivity: int = 16
    expansion_add: int = 128
    expansion_search: int = 128


_SUM_SEED = np.random.default_rng(0x5EED).integers(1, 2**63, size=4096, dtype=np.uint64) | 1


def row_sums(vectors: np.ndarray) -> np.ndarray:
    """A 64-bit checksum of each row's bytes (float32): equal rows, equal sums; a changed vector
    changes its sum (a dot product with random odd words, modulo 2**64)."""
    words = np.ascontiguousarray(vectors, dtype=np.float32).view(np.uint32)
    out = np.empty(len(words), dtype=np.uint64)
    coef = _SUM_SEED[:words.shape[1]]
    for lo in range(0, len(words), 32768):
        chunk = words[lo:lo + 32768].astype(np.uint64)
        with np.errstate(over="ignore"):
            out[lo:lo + 32768] = (chunk * coef).sum(axis=1, dtype=np.uint64)
    return out


def lang_tag(lang: str) -> str:
    """A file-name-safe tag for a language code ('' - unknown - included)."""
    if not lang:
        return "_none"
    if re.fullmatch(r"[a-z0-9-]{1,32}", lang):
        return lang
    return "_" + hashlib.blake2b(lang.encode(), digest_size=8).hexdigest()


class AnnFileError(Exception):
    """A graph file that cannot be used (torn, foreign, another model): rebuild it."""


@dataclass(slots=True)
class _Graph:
    index: Any                  # usearch.index.Index
    keys: np.ndarray            # int64 rowids, sorted
    sums: np.ndarray            # uint64 row checksums, aligned with keys
    tombstones: int = 0
    dirty: bool = False


@dataclass(slots=True)
class SyncReport:
    added: int = 0
    removed: int = 0
    rebuilt: list[str] = field(default_factory=list)      # languages built from scratch
    loaded: list[str] = field(default_factory=list)       # languages read from their files


class AnnIndex:
    """The per-language graphs of one model's vectors; files in ``folder`` (None: memory only)."""

    def __init__(self, folder: Path | None, model: str | None, dim: int,
                 params: AnnParams | None = None, *, threads: int = 0) -> None:
        self.folder = folder
        self.model = model
        self.dim = dim
        self.params = params or AnnParams()
        self.threads = threads
        self.graphs: dict[str, _Graph] = {}
        self.rebuilds: dict[str, int] = {}       # reason -> count, for stats

    # -- files --------------------------------------------------------------------------------
    def _path(self, lang: str) -> Path | None:
        return None if self.folder is None else self.folder / f"{lang_tag(lang)}.usearch"

    def _header(self, lang: str) -> dict[str, Any]:
        return {"format": FORMAT, "model": self.model, "dim": self.dim, "lang": lang,
                "params": asdict(self.params)}

    def _read(self, lang: str) -> _Graph | None:
        """The graph in the language's file; None when there is no file; AnnFileError when
        the file is unusable."""
        from usearch.index import Index

        path = self._path(lang)
        if path is None or not path.exists():
            return None
        data = path.read_bytes()
        if not data.startswith(MAGIC):
            raise AnnFileError("not an ANN index file")
        at = len(MAGIC)
        size = int.from_bytes(data[at:at + 8], "little")
        try:
            head = json.loads(data[at + 8:at + 8 + size])
        except ValueError as e:
            raise AnnFileError("unreadable header") from e
        body = memoryview(data)[at + 8 + size:]
        want = {k: head.get(k) for k in self._header(lang)}
        if want != self._header(lang):
            raise AnnFileError(f"built for {want}, wanted {self._header(lang)}")
        if head.get("body") != [len(body), hashlib.blake2b(body).hexdigest()]:
            raise AnnFileError("body does not match its digest (torn or damaged file)")
        n = int(head["count"])
        keys = np.frombuffer(body[:8 * n], dtype=np.int64).copy()
        sums = np.frombuffer(body[8 * n:16 * n], dtype=np.uint64).copy()
        index = Index.restore(bytes(body[16 * n:]))
        if index is None or len(index) != n - 0 or index.ndim != self.dim:
            raise AnnFileError(f"graph holds {0 if index is None else len(index)} vectors, "
                               f"the file lists {n}")
        index.expansion_search = self.params.expansion_search
        return _Graph(index, keys, sums, int(head.get("tombstones", 0)))

    def _write(self, lang: str, g: _Graph) -> None:
        path = self._path(lang)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = g.index.save()
        body = b"".join((g.keys.astype(np.int64).tobytes(), g.sums.astype(np.uint64).tobytes(),
                         bytes(blob)))
        head = {**self._header(lang), "count": len(g.keys), "tombstones": g.tombstones,
                "body": [len(body), hashlib.blake2b(body).hexdigest()]}
        raw = json.dumps(head).encode()
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(MAGIC + len(raw).to_bytes(8, "little") + raw)
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)   # a reader sees the old file or the new one, never half
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        g.dirty = False

    def save(self) -> None:
        """Write the graphs changed since they were read or written."""
        for lang, g in self.graphs.items():
            if g.dirty:
                self._write(lang, g)

    # -- keeping in step with the store -------------------------------------------------------
    def _build(self, keys: np.ndarray, vectors: np.ndarray) -> Any:
        from usearch.index import Index

        p = self.params
        index = Index(ndim=self.dim, metric="ip", dtype=p.dtype, connectivity=p.connectivity,
                      expansion_add=p.expansion_add, expansion_search=p.expansion_search)
        if len(keys):
            index.add(keys, vectors, threads=self.threads)
        return index

    def _rebuild(self, lang: str, keys: np.ndarray, sums: np.ndarray, vectors: np.ndarray,
                 reason: str, report: SyncReport) -> None:
        log.info("building the ANN graph of language %r (%d vectors): %s", lang or "unknown",
                 len(keys), reason)
        self.rebuilds[reason] = self.rebuilds.get(reason, 0) + 1
        self.graphs[lang] = _Graph(self._build(keys, vectors), keys, sums, dirty=True)
        report.rebuilt.append(lang)

    def sync(self, rowids: np.ndarray, vectors: np.ndarray, langs: np.ndarray, *,
             save: bool = True) -> SyncReport:
        """Bring the graphs to these rows (sorted rowids, their vectors and languages): read a
        language's file the first time, then apply the difference; rebuild what cannot be
        patched. ``save``: write the graphs that changed."""
        report = SyncReport()
        sums_all = row_sums(vectors)
        order = np.argsort(langs, kind="stable")
        cuts = np.flatnonzero(langs[order][1:] != langs[order][:-1]) + 1
        present: set[str] = set()
        for part in np.split(order, cuts) if len(order) else []:
            part = np.sort(part)       # rowid order, as the matrix holds them
            lang = str(langs[part[0]])
            present.add(lang)
            self._sync_lang(lang, rowids[part], sums_all[part], vectors, part, report)
        for lang in [x for x in self.graphs if x not in present]:
            del self.graphs[lang]
            path = self._path(lang)
            if path is not None:
                path.unlink(missing_ok=True)
        if self.folder is not None and self.folder.exists():
            for stale in self.folder.glob("*.usearch"):
                if stale.name not in {f"{lang_tag(x)}.usearch" for x in present}:
                    stale.unlink(missing_ok=True)
        if save:
            self.save()
        return report

    def _sync_lang(self, lang: str, keys: np.ndarray, sums: np.ndarray, vectors: np.ndarray,
                   rows: np.ndarray, report: SyncReport) -> None:
        g = self.graphs.get(lang)
        if g is None:
            try:
                g = self._read(lang)
            except (AnnFileError, RuntimeError, ValueError) as e:
                log.warning("the ANN file of language %r is unusable (%s); rebuilding it",
                            lang or "unknown", e)
                self._rebuild(lang, keys, sums, vectors[rows], "unusable file", report)
                return
            if g is None:
                self._rebuild(lang, keys, sums, vectors[rows], "no file", report)
                return
            self.graphs[lang] = g
            report.loaded.append(lang)
        common, old_i, new_i = np.intersect1d(g.keys, keys, assume_unique=True,
                                              return_indices=True)
        changed = common[g.sums[old_i] != sums[new_i]]
        gone = np.union1d(np.setdiff1d(g.keys, keys, assume_unique=True), changed)
        fresh = np.union1d(np.setdiff1d(keys, g.keys, assume_unique=True), changed)
        if not len(gone) and not len(fresh):
            return
        if g.tombstones + len(gone) > MAX_TOMBSTONES * max(len(keys), 1):
            self._rebuild(lang, keys, sums, vectors[rows], "many rows removed", report)
            return
        if len(gone):
            g.index.remove(gone)
        if len(fresh):
            at = rows[np.searchsorted(keys, fresh)]
            g.index.add(fresh, vectors[at], threads=self.threads)
        g.keys, g.sums = keys, sums
        g.tombstones += len(gone)
        g.dirty = True
        report.added += len(fresh)
        report.removed += len(gone)

    # -- reading ------------------------------------------------------------------------------
    def size(self, lang: str) -> int:
        g = self.graphs.get(lang)
        return 0 if g is None else len(g.keys)

    @property
    def langs(self) -> tuple[str, ...]:
        return tuple(self.graphs)

    def search(self, langs: Iterable[str], vector: np.ndarray, count: int) -> np.ndarray:
        """Rowids of about the ``count`` nearest documents of each of ``langs``."""
        out = []
        for lang in langs:
            g = self.graphs.get(lang)
            if g is None or not len(g.keys):
                continue
            g.index.expansion_search = max(self.params.expansion_search, count)
            out.append(np.asarray(g.index.search(vector, min(count, len(g.keys)),
                                                 threads=1).keys, dtype=np.int64))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def memory(self) -> int:
        """Bytes the graphs hold (as usearch reports them)."""
        return sum(int(g.index.memory_usage) for g in self.graphs.values())


__all__ = ["AnnIndex", "AnnParams", "AnnFileError", "SyncReport", "row_sums", "lang_tag",
           "unavailable"]
