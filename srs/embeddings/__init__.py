"""Text embeddings for dedup: the local all-MiniLM-L6-v2 (default) or the provider's endpoint."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from srs.embeddings.base import (
    Embedder,
    EmbeddingError,
    Vectors,
    normalise,
    single_blas_thread,
)

if TYPE_CHECKING:
    from srs.kit.settings import Settings

__all__ = [
    "Embedder",
    "EmbeddingError",
    "Vectors",
    "build_embedder",
    "normalise",
    "single_blas_thread",
]


def build_embedder(settings: Settings) -> Embedder:
    """The one embedder the settings name; there is no fallback to a weaker check."""
    if settings.embeddings == "provider":
        from srs.embeddings.provider import ProviderEmbedder

        return ProviderEmbedder(
            settings.llm_base_url,
            settings.llm_api_key,
            settings.embeddings_model,
            connect_timeout=settings.llm_connect_timeout,
            read_timeout=settings.llm_chunk_timeout,
            max_retries=settings.llm_max_retries,
        )
    return local_embedder()


@lru_cache(maxsize=1)
def local_embedder() -> Embedder:
    """One per process: it holds 90 MB of weights and is read-only, so every worker thread
    shares it. A failure is not cached: fixing the install and retrying works."""
    from srs.embeddings.minilm import MiniLMEmbedder

    return MiniLMEmbedder()
