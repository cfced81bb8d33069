"""Embeddings from the configured OpenAI-compatible provider: `POST {base_url}/embeddings`
(OpenAI, Ollama, vLLM and llama.cpp's server all answer it).

Blocking, like the local model: the worker calls it from a thread. It uses the LLM's base
URL, key and timeouts; transient failures (429, 5xx, a dropped connection) are retried with
backoff, anything else stops generation with the provider's message.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import httpx
import numpy as np

from srs.embeddings.base import EmbeddingError, Vectors, normalise

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "text-embedding-3-small"
_TRANSIENT = frozenset({408, 429, 500, 502, 503, 504, 529})


class ProviderEmbedder:
    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        model: str | None,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        client: httpx.Client | None = None,
    ) -> None:
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.model = model or DEFAULT_MODEL
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=connect_timeout, pool=connect_timeout
        )
        self._client = client or httpx.Client()
        self._max_retries = max_retries
        self._backoff_base = backoff_base

    def close(self) -> None:
        self._client.close()

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        for retry in range(self._max_retries + 1):
            try:
                return self._request(texts)
            except _Transient as error:
                if retry == self._max_retries:
                    raise EmbeddingError(str(error)) from None
                time.sleep(error.retry_after or self._backoff_base * 2.0**retry)
        raise AssertionError("unreachable")

    def _request(self, texts: Sequence[str]) -> Vectors:
        url = f"{self.base_url}/embeddings"
        try:
            response = self._client.post(
                url,
                json={"model": self.model, "input": list(texts)},
                headers=self._headers,
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            raise _Transient(f"could not reach the embeddings endpoint {url} ({exc!r})") from exc
        if response.status_code in _TRANSIENT:
            raise _Transient(_failure(response), _retry_after(response))
        if response.status_code >= 400:
            raise EmbeddingError(_failure(response))
        return _vectors(response, len(texts))


class _Transient(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _failure(response: httpx.Response) -> str:
    try:
        payload = response.json()
        detail = payload["error"]["message"] if isinstance(payload.get("error"), dict) else payload
    except (ValueError, KeyError, TypeError, AttributeError):
        detail = response.text[:300]
    return f"The embeddings endpoint answered HTTP {response.status_code}: {detail}"


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None


def _vectors(response: httpx.Response, expected: int) -> Vectors:
    try:
        data = sorted(response.json()["data"], key=lambda item: item["index"])
        rows = np.array([item["embedding"] for item in data], dtype=np.float32)
    except (ValueError, KeyError, TypeError) as exc:
        raise EmbeddingError(f"The embeddings endpoint sent an unreadable answer ({exc!r})") from exc
    if rows.ndim != 2 or len(rows) != expected:
        raise EmbeddingError(
            f"The embeddings endpoint sent {len(rows)} vectors for {expected} texts"
        )
    return normalise(rows)
