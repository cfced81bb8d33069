"""The provider's /embeddings over real HTTP, against the scripted server."""

from __future__ import annotations

import numpy as np
import pytest

from srs.embeddings import EmbeddingError, build_embedder
from tests.conftest import make_settings
from tests.support.llm_server import Reply, ScriptedLLMServer


@pytest.fixture
def server():
    with ScriptedLLMServer() as scripted:
        yield scripted


def embedder_for(server: ScriptedLLMServer, **overrides):
    settings = make_settings(
        "sqlite://",
        embeddings="provider",
        llm_base_url=server.base_url,
        llm_api_key="k",
        embeddings_model="e-model",
        **overrides,
    )
    return build_embedder(settings)


def test_vectors_come_back_in_input_order_and_unit_length(server) -> None:
    embedder = embedder_for(server)
    vectors = embedder.embed(["the capital of France", "France of capital the", "Rust lifetimes"])
    assert embedder.model == "e-model"
    assert vectors.shape == (3, 256)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1)
    assert vectors[0] @ vectors[1] == pytest.approx(1.0)
    assert vectors[0] @ vectors[2] < 0.5
    assert server.requests[0].json == {
        "model": "e-model", "input": ["the capital of France", "France of capital the", "Rust lifetimes"]
    }


def test_transient_failures_are_retried_and_others_are_clear_errors(server) -> None:
    embedder = embedder_for(server, llm_max_retries=2)
    embedder._backoff_base = 0.01
    server.script_embeddings([Reply(status=503), Reply(status=429, headers={"Retry-After": "0"})])
    assert embedder.embed(["one"]).shape == (1, 256)
    assert len(server.requests) == 3

    server.script_embeddings([Reply(status=401, error_message="invalid api key")])
    with pytest.raises(EmbeddingError, match="HTTP 401.*invalid api key"):
        embedder.embed(["two"])

    server.script_embeddings([Reply(status=500)] * 3)
    with pytest.raises(EmbeddingError, match="HTTP 500"):
        embedder.embed(["three"])


def test_an_unreachable_endpoint_is_a_clear_error() -> None:
    with ScriptedLLMServer() as gone:
        base_url = gone.base_url
    settings = make_settings(
        "sqlite://", embeddings="provider", llm_base_url=base_url, llm_max_retries=0
    )
    with pytest.raises(EmbeddingError, match="could not reach"):
        build_embedder(settings).embed(["x"])
