"""The backbone embedding shrunk for the in-memory index: a fixed random projection to 128
dimensions (Johnson-Lindenstrauss), unit length.

It only has to keep cosine similarity roughly (within ~0.1) for choosing candidates; the close
comparison (compare.py) decides. A random projection needs no fitted file and never changes
between versions, so stored vectors stay comparable; measured against PCA fitted on the
development photos, PCA separated bursts from distractors no better (see compare.py).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

EMBEDDING_SIZE = 1280
VECTOR_SIZE = 128
_SEED = 20261202  # fixed for good: stored vectors are only comparable under one projection


@lru_cache(maxsize=1)
def _projection() -> np.ndarray:
    rng = np.random.default_rng(_SEED)
    return (rng.standard_normal((EMBEDDING_SIZE, VECTOR_SIZE)) / np.sqrt(VECTOR_SIZE)).astype(
        np.float32)


def project(embedding: np.ndarray | list[float]) -> np.ndarray:
    """The unit-length 128-d vector of a 1280-d backbone embedding."""
    vector = np.asarray(embedding, dtype=np.float32) @ _projection()
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def vector_bytes(vector: np.ndarray) -> bytes:
    """A vector as stored (float16: half the bytes, ample precision for a cosine)."""
    return np.asarray(vector, dtype=np.float16).tobytes()


def vector_from_bytes(raw: bytes) -> np.ndarray:
    """The float32 vector back from `vector_bytes`."""
    vector = np.frombuffer(raw, dtype=np.float16).astype(np.float32)
    if vector.shape != (VECTOR_SIZE,):
        raise ValueError(f"a stored vector has {VECTOR_SIZE} values, not {vector.size}")
    return vector
