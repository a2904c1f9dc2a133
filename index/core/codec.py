"""The one storage form of vectors: little-endian float32 bytes (embeddings, chunk matrices,
search documents). Every module that writes or reads a vector BLOB goes through here."""
from __future__ import annotations

import numpy as np

DTYPE = "<f4"


def vector_to_bytes(vector: np.ndarray) -> bytes:
    """Storage form of one vector (or a matrix, row-major): little-endian float32."""
    return np.ascontiguousarray(vector, dtype=DTYPE).tobytes()


def vector_from_bytes(blob: bytes, dim: int) -> np.ndarray:
    """One stored vector; raises ValueError when it does not have ``dim`` values."""
    out = np.frombuffer(blob, dtype=DTYPE)
    if out.size != dim:
        raise ValueError(f"stored vector has {out.size} values, expected {dim}")
    return out.astype(np.float32)


def matrix_from_bytes(blob: bytes, rows: int, dim: int) -> np.ndarray:
    """A stored (rows, dim) matrix such as an article's paragraph vectors."""
    out = np.frombuffer(blob, dtype=DTYPE)
    if out.size != rows * dim:
        raise ValueError(f"stored matrix has {out.size} values, expected {rows}x{dim}")
    return out.astype(np.float32).reshape(rows, dim)


__all__ = ["vector_to_bytes", "vector_from_bytes", "matrix_from_bytes"]
