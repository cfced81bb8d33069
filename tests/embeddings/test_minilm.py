"""The local embedding model, for real: its numpy forward pass and the labelled dedup set."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from srs.embeddings import EmbeddingError
from srs.generation.dedup import CardText, DedupIndex
from srs.generation.service import embed_cards
from tests.conftest import missing

PAIRS = Path(__file__).parents[1] / "data" / "dedup_pairs.jsonl"


@pytest.fixture(scope="module")
def embedder():
    from srs.embeddings.minilm import MiniLMEmbedder

    try:
        return MiniLMEmbedder()
    except EmbeddingError as error:
        missing(error.message)


def test_the_forward_pass_matches_sentence_transformers(embedder) -> None:
    # The similarities sentence-transformers prints for all-MiniLM-L6-v2 in its quickstart.
    texts = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    vectors = embedder.embed(texts)
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] == pytest.approx(0.6660, abs=2e-3)
    assert similarity[0, 2] == pytest.approx(0.1046, abs=2e-3)
    assert similarity[1, 2] == pytest.approx(0.1411, abs=2e-3)


def test_batching_and_padding_do_not_change_a_vector(embedder) -> None:
    texts = ["Short.", "A much longer sentence that needs many more tokens than the first."]
    together = embedder.embed(texts)
    alone = np.vstack([embedder.embed([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-5)


def test_weights_other_than_the_pinned_ones_are_refused(tmp_path, embedder) -> None:
    from srs.embeddings.minilm import MiniLMEmbedder, model_dir

    shutil.copy(model_dir() / "tokenizer.json", tmp_path / "tokenizer.json")
    (tmp_path / "model.safetensors").write_bytes(b"not the weights")
    with pytest.raises(EmbeddingError, match="SHA-256"):
        MiniLMEmbedder(tmp_path)


def test_the_labelled_set_merges_paraphrases_and_keeps_every_look_alike(embedder) -> None:
    rows = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines()]
    paraphrases = [r for r in rows if r["kind"] == "paraphrase"]
    look_alikes = [r for r in rows if r["kind"] == "lookalike"]
    assert len(rows) >= 60 and len(paraphrases) >= 30 and len(look_alikes) >= 30

    def merged(row) -> bool:
        a, b = CardText(**row["a"]), CardText(**row["b"])
        vectors_a, vectors_b = embed_cards(embedder, [a, b])
        index = DedupIndex()
        index.add(1, a, vectors_a)
        return index.duplicate_of(b, vectors_b) is not None

    wrongly_merged = [r["b"]["front"] for r in look_alikes if merged(r)]
    missed = [r["b"]["front"] for r in paraphrases if not merged(r)]
    assert wrongly_merged == []
    # At least 14 of each 15 paraphrases.
    assert len(paraphrases) - len(missed) >= -(-14 * len(paraphrases) // 15), missed
