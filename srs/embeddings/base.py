"""What dedup needs from an embedding model: texts in, unit-length vectors out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class EmbeddingError(Exception):
    """The embedding model cannot run (missing weights, a refused request...): generation
    stops with this message rather than keep cards it could not check."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Embedder(Protocol):
    # Stored with each vector: vectors of two models are never compared.
    model: str

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised float32 row per text. Blocking: call it from a worker thread."""
        ...


def normalise(vectors: npt.NDArray[np.floating]) -> Vectors:
    rows = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, 1e-12)


@lru_cache(maxsize=1)
def _blas():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()  # finds the BLAS libraries once: 2.5 ms a lookup


@contextmanager
def single_blas_thread() -> Iterator[None]:
    """Matrix products on one thread. On a shared two-core server, OpenBLAS's threads waited
    on each other and on the web process: a 5,000-card search took 25 ms instead of 1.5 ms,
    an embedding 3-5x longer."""
    with _blas().limit(limits=1, user_api="blas"):
        yield
