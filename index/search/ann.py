"""An approximate nearest-neighbour index over the embedded backend's vectors, kept in files
beside the SQLite store: one index per language, keyed by ``search_docs`` rowid.

Why: exact cosine search reads the whole matrix per query, so its cost grows with n; at 1M
articles the bare product is about 200 ms on a quiet machine (BENCHMARKS.md, "Search
latency"). The default engine is faiss's IVF-Flat: k-means cells of about 1024 vectors, the 32
cells nearest the query scanned exactly, so a query reads about 32k vectors whatever n is.
Chosen over HNSW after measuring both (BENCHMARKS.md, "ANN index"; bench/ann_candidates.py):
on this corpus's geometry (tight clusters per story) IVF reached recall@10 0.985 at 1M, while
usearch's HNSW graph reached 0.876 at 100k at its default search depth, and took 576 s to build
at 100k on the shared 2-core machine where IVF took 5 s (81 s at 1M). usearch's HNSW stays
available as a second engine (``AnnParams.engine``), under the same tests.
sqlite-vec's vec0 is a brute-force scan (no ANN), slower than numpy.

One index per language, because language-fair search (index/search/fair.py) asks for one
candidate list per language: each list is then one index query, not a filtered scan of every
language. Documents without a language have an index of their own. Filters other than the
language are applied to oversampled candidates, or, when they keep few rows, answered exactly
over those rows (EmbeddedBackend._semantic_ann).

The indexes are a cache of the store, never a second source of truth:

- ``sync`` brings them to the store's vectors as the backend read them (``_Matrix``): each row's
  vector has a 64-bit checksum, the file keeps the checksum of every key it holds, and the
  difference (rows added, removed, or whose vector changed) is applied to the index: upserts,
  deletes and ``delete_source`` cost what they changed, not a rebuild. Whatever happened to
  the file (a writer killed mid-batch, a transaction rolled back after the graph moved, an old
  copy restored) the difference against the store repairs it.
- A file is written whole to a temporary name and renamed over the old one, with a digest of
  its body in its header: a torn, truncated or foreign file fails the check and the language's
  index is rebuilt from the store (logged, and counted in ``AnnIndex.rebuilds``).
- A file built for another model, dimension, engine or parameters is rebuilt.
- New vectors go into the cells trained when the index was built; a model change (new
  vectors everywhere) rebuilds, and so does removing a quarter of a language's rows.
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
# rows removed since an index was built (HNSW keeps their nodes as tombstones, IVF's cells were
# trained with them) beyond which it is rebuilt rather than patched
MAX_TOMBSTONES = 0.25


ENGINES = ("faiss-ivf", "usearch-hnsw")


def unavailable(engine: str = "faiss-ivf") -> str | None:
    """Why the ANN index cannot be used here (None: it can)."""
    module, package = ("faiss", "faiss-cpu") if engine == "faiss-ivf" else \
        ("usearch.index", "usearch")
    try:
        __import__(module)
    except ImportError:
        return (f"the {package} package is not installed: exact search "
                f"answers semantic queries, slower at this size (pip install {package})")
    return None


@dataclass(frozen=True, slots=True)
class AnnParams:
    """The index's parameters (BENCHMARKS.md, "ANN index", for how they were chosen).

    faiss-ivf: k-means cells of about ``per_list`` vectors, ``nprobe`` cells scanned per
    query (exactly, so the cost is nprobe x per_list products whatever n is).
    usearch-hnsw: a graph of ``connectivity`` links per node, ``expansion_add`` /
    ``expansion_search`` candidates kept while building / searching, vectors stored as
    ``dtype``. Either way the candidates are re-ranked on the exact matrix."""

    engine: str = "faiss-ivf"
    per_list: int = 1024
    nprobe: int = 32
    dtype: str = "f16"
    connectivity: int = 16
    expansion_add: int = 64
    expansion_search: int = 128


class _Engine:
    """What AnnIndex needs of a library: build, add, remove, search, bytes in and out."""

    def __init__(self, dim: int, params: AnnParams, threads: int) -> None:
        self.dim, self.params, self.threads = dim, params, threads

    def build(self, keys: np.ndarray, vectors: np.ndarray) -> Any:
        raise NotImplementedError

    def add(self, index: Any, keys: np.ndarray, vectors: np.ndarray) -> None:
        raise NotImplementedError

    def remove(self, index: Any, keys: np.ndarray) -> None:
        raise NotImplementedError

    def search(self, index: Any, vector: np.ndarray, count: int) -> np.ndarray:
        raise NotImplementedError

    def dump(self, index: Any) -> Any:
        """The index as a buffer (bytes-like, one byte per item)."""
        raise NotImplementedError

    def load(self, blob: memoryview) -> Any:
        raise NotImplementedError

    def size(self, index: Any) -> int:
        raise NotImplementedError

    def memory(self, index: Any) -> int:
        raise NotImplementedError


class _FaissIvf(_Engine):
    def build(self, keys: np.ndarray, vectors: np.ndarray) -> Any:
        import faiss

        nlist = max(1, len(keys) // self.params.per_list)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.dim), self.dim, nlist,
                                   faiss.METRIC_INNER_PRODUCT)
        # k-means on a sample: 40 per cell is faiss's own floor, more buys little
        sample = vectors[np.random.default_rng(0).choice(len(vectors),
                                                         min(len(vectors), nlist * 64),
                                                         replace=False)]
        with _faiss_threads(self.threads):
            index.train(np.ascontiguousarray(sample, dtype=np.float32))
            self.add(index, keys, vectors)
        return index

    def add(self, index: Any, keys: np.ndarray, vectors: np.ndarray) -> None:
        for lo in range(0, len(keys), 65536):
            index.add_with_ids(np.ascontiguousarray(vectors[lo:lo + 65536], dtype=np.float32),
                               np.ascontiguousarray(keys[lo:lo + 65536], dtype=np.int64))

    def remove(self, index: Any, keys: np.ndarray) -> None:
        index.remove_ids(np.ascontiguousarray(keys, dtype=np.int64))

    def search(self, index: Any, vector: np.ndarray, count: int) -> np.ndarray:
        index.nprobe = self.params.nprobe
        with _faiss_threads(1):
            found = index.search(np.ascontiguousarray(vector[None, :], dtype=np.float32),
                                 count)[1][0]
        return np.asarray(found[found >= 0], dtype=np.int64)

    def dump(self, index: Any) -> Any:
        import faiss

        return faiss.serialize_index(index)    # a uint8 array: a buffer, not copied again

    def load(self, blob: memoryview) -> Any:
        import faiss

        return faiss.deserialize_index(np.frombuffer(blob, dtype=np.uint8))

    def size(self, index: Any) -> int:
        return int(index.ntotal)

    def memory(self, index: Any) -> int:
        return int(index.ntotal) * (self.dim * 4 + 8) + int(index.nlist) * self.dim * 4


class _faiss_threads:
    """faiss's OpenMP threads for a block (one per query: a query is small and the machine
    answers several at once)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __enter__(self) -> None:
        import faiss

        self.before = faiss.omp_get_max_threads()
        if self.n:
            faiss.omp_set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        import faiss

        faiss.omp_set_num_threads(self.before)


class _UsearchHnsw(_Engine):
    def build(self, keys: np.ndarray, vectors: np.ndarray) -> Any:
        from usearch.index import Index

        p = self.params
        index = Index(ndim=self.dim, metric="ip", dtype=p.dtype, connectivity=p.connectivity,
                      expansion_add=p.expansion_add, expansion_search=p.expansion_search)
        if len(keys):
            self.add(index, keys, vectors)
        return index

    def add(self, index: Any, keys: np.ndarray, vectors: np.ndarray) -> None:
        index.add(keys, vectors, threads=self.threads)

    def remove(self, index: Any, keys: np.ndarray) -> None:
        index.remove(keys)

    def search(self, index: Any, vector: np.ndarray, count: int) -> np.ndarray:
        index.expansion_search = max(self.params.expansion_search, count)
        return np.asarray(index.search(vector, count, threads=1).keys, dtype=np.int64)

    def dump(self, index: Any) -> Any:
        return index.save()

    def load(self, blob: memoryview) -> Any:
        from usearch.index import Index

        index = Index.restore(bytes(blob))
        if index is None or index.ndim != self.dim:
            raise AnnFileError("not a graph of this dimension")
        return index

    def size(self, index: Any) -> int:
        return len(index)

    def memory(self, index: Any) -> int:
        return int(index.memory_usage)


def _engine(dim: int, params: AnnParams, threads: int) -> _Engine:
    if params.engine == "faiss-ivf":
        return _FaissIvf(dim, params, threads)
    if params.engine == "usearch-hnsw":
        return _UsearchHnsw(dim, params, threads)
    raise ValueError(f"unknown ANN engine {params.engine!r}; allowed: {', '.join(ENGINES)}")


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
    """An index file that cannot be used (torn, foreign, another model): rebuild it."""


@dataclass(slots=True)
class _Graph:
    index: Any                  # the engine's index (faiss or usearch)
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
    """The per-language indexes of one model's vectors; files in ``folder`` (None: memory
    only). ``graphs``: language -> its index ("graph" for short, whatever the engine)."""

    def __init__(self, folder: Path | None, model: str | None, dim: int,
                 params: AnnParams | None = None, *, threads: int = 0) -> None:
        self.folder = folder
        self.model = model
        self.dim = dim
        self.params = params or AnnParams()
        self.threads = threads
        self.engine = _engine(dim, self.params, threads)
        self.graphs: dict[str, _Graph] = {}
        self.rebuilds: dict[str, int] = {}       # reason -> count, for stats
        self.queries = 0                          # index queries answered, for stats

    # -- files --------------------------------------------------------------------------------
    def _path(self, lang: str) -> Path | None:
        return None if self.folder is None else self.folder / f"{lang_tag(lang)}.ann"

    def _header(self, lang: str) -> dict[str, Any]:
        return {"format": FORMAT, "model": self.model, "dim": self.dim, "lang": lang,
                "params": asdict(self.params)}

    def _read(self, lang: str) -> _Graph | None:
        """The graph in the language's file; None when there is no file; AnnFileError when
        the file is unusable."""
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
        index = self.engine.load(body[16 * n:])
        if self.engine.size(index) != n:
            raise AnnFileError(f"index holds {self.engine.size(index)} vectors, the file "
                               f"lists {n}")
        return _Graph(index, keys, sums, int(head.get("tombstones", 0)))

    def _write(self, lang: str, g: _Graph) -> None:
        path = self._path(lang)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        # the parts are hashed and written one after the other: at 1M vectors each is hundreds
        # of megabytes, and joining them would copy them all once more
        parts = (g.keys.astype(np.int64).tobytes(), g.sums.astype(np.uint64).tobytes(),
                 self.engine.dump(g.index))
        digest = hashlib.blake2b()
        for part in parts:
            digest.update(part)
        head = {**self._header(lang), "count": len(g.keys), "tombstones": g.tombstones,
                "body": [sum(map(len, parts)), digest.hexdigest()]}
        raw = json.dumps(head).encode()
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(MAGIC + len(raw).to_bytes(8, "little") + raw)
                for part in parts:
                    fh.write(part)
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
    def _rebuild(self, lang: str, keys: np.ndarray, sums: np.ndarray, vectors: np.ndarray,
                 reason: str, report: SyncReport) -> None:
        log.info("building the ANN index of language %r (%d vectors): %s", lang or "unknown",
                 len(keys), reason)
        self.rebuilds[reason] = self.rebuilds.get(reason, 0) + 1
        self.graphs[lang] = _Graph(self.engine.build(keys, vectors), keys, sums, dirty=True)
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
            for stale in self.folder.glob("*.ann"):
                if stale.name not in {f"{lang_tag(x)}.ann" for x in present}:
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
            self.engine.remove(g.index, gone)
        if len(fresh):
            at = rows[np.searchsorted(keys, fresh)]
            self.engine.add(g.index, fresh, vectors[at])
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
        self.queries += 1
        for lang in langs:
            g = self.graphs.get(lang)
            if g is None or not len(g.keys):
                continue
            out.append(self.engine.search(g.index, vector, min(count, len(g.keys))))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def memory(self) -> int:
        """Bytes the indexes hold (as the engine reports them)."""
        return sum(self.engine.memory(g.index) for g in self.graphs.values())


__all__ = ["AnnIndex", "AnnParams", "ENGINES", "AnnFileError", "SyncReport", "row_sums", "lang_tag",
           "unavailable"]
