"""Dedup on the labelled pairs: precision, recall, the safe threshold windows, and the cost
per card at 5,000 cards, with the signature dedup it replaced as the baseline.

    .venv/bin/python bench/dedup_eval.py [--pairs tests/data/dedup_pairs.jsonl] [--provider]

A pair is "merged" when an index holding card a calls card b its duplicate. Precision and
recall count a merged paraphrase as a true positive and a merged look-alike as a false one.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _machine import machine

from srs.embeddings import single_blas_thread
from srs.embeddings.minilm import MiniLMEmbedder
from srs.embeddings.provider import ProviderEmbedder
from srs.generation.dedup import CardText, CardVectors, DedupIndex, Thresholds
from srs.generation.service import embed_cards
from srs.kit.settings import Settings

DECK = 5000


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def scores(merged: list[bool], rows: list[dict]) -> dict[str, float]:
    para = [m for m, r in zip(merged, rows) if r["kind"] == "paraphrase"]
    look = [m for m, r in zip(merged, rows) if r["kind"] == "lookalike"]
    tp, fp = sum(para), sum(look)
    return {
        "paraphrases merged": f"{tp}/{len(para)}",
        "look-alikes kept": f"{len(look) - fp}/{len(look)}",
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / len(para) if para else 1.0,
    }


def semantic_merged(rows, vectors, thresholds: Thresholds) -> list[bool]:
    out = []
    for row, (va, vb) in zip(rows, vectors):
        index = DedupIndex(thresholds)
        index.add(1, CardText(**row["a"]), va)
        out.append(index.duplicate_of(CardText(**row["b"]), vb) is not None)
    return out


def passes(merged, rows) -> bool:
    para = [m for m, r in zip(merged, rows) if r["kind"] == "paraphrase"]
    look = [m for m, r in zip(merged, rows) if r["kind"] == "lookalike"]
    return not any(look) and sum(para) >= -(-14 * len(para) // 15)


def window(rows, vectors, vary: Callable[[float], Thresholds]) -> tuple[float, float] | None:
    ok = [t for t in np.arange(0.50, 1.0, 0.005) if passes(semantic_merged(rows, vectors, vary(t)), rows)]
    return (round(float(min(ok)), 3), round(float(max(ok)), 3)) if ok else None


# -- the signature dedup this replaced (Jaccard of stemmed content words of the fronts) -------

_STOP = frozenset(
    ["what", "which", "who", "whom", "whose", "when", "where", "why", "how", "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "done", "doing", "has", "have", "had", "having", "can", "could", "would", "should", "will", "shall", "may", "might", "must", "the", "a", "an", "of", "in", "on", "at", "to", "for", "from", "by", "with", "about", "as", "into", "onto", "than", "then", "and", "or", "but", "if", "so", "it", "its", "this", "that", "these", "those", "there", "here", "i", "me", "my", "we", "our", "you", "your", "he", "she", "they", "them", "their", "his", "her", "name", "describe", "explain", "define", "give", "tell", "please"]
)


def _signature(front: str) -> frozenset[str]:
    words = re.sub(r"[^\w\s]", " ", front.casefold()).split()
    stems = {re.sub(r"(ing|ed|es|s)$", "", w) if len(w) > 4 else w for w in words if w not in _STOP}
    return frozenset(stems) or frozenset({" ".join(words)})


def signature_merged(rows) -> list[bool]:
    out = []
    for row in rows:
        a, b = _signature(row["a"]["front"]), _signature(row["b"]["front"])
        out.append(len(a & b) / len(a | b) >= 0.75)
    return out


def deck_timing(embedder, rows) -> dict[str, float]:
    """Embedding ms/card (one at a time, as the worker does; and in batches, as a deck
    without stored vectors is embedded at job start) and search ms/card against a deck of
    5,000 cards: the labelled cards repeated with a number, so each probe has dozens of near
    copies above the card threshold (a worst case for the answer checks)."""
    copies = DECK // (2 * len(rows)) + 1
    cards = [
        CardText(f"{r[side]['front']} (#{i})", r[side]["back"])
        for i in range(copies)
        for r in rows
        for side in ("a", "b")
    ][:DECK]
    started, cpu = time.perf_counter(), time.process_time()
    vectors = embed_cards(embedder, cards)
    batch_ms = (time.perf_counter() - started) * 1000 / len(cards)
    batch_cpu_ms = (time.process_time() - cpu) * 1000 / len(cards)
    probes = [CardText(**r["b"]) for r in rows[:40]]
    started, cpu = time.perf_counter(), time.process_time()
    probe_vectors = [embed_cards(embedder, [p])[0] for p in probes]
    single_ms = (time.perf_counter() - started) * 1000 / len(probes)
    single_cpu_ms = (time.process_time() - cpu) * 1000 / len(probes)
    index = DedupIndex()
    for i, (card, v) in enumerate(zip(cards, vectors)):
        index.add(i, card, v)

    def search_ms() -> float:
        started = time.perf_counter()
        for _ in range(5):
            for probe, v in zip(probes, probe_vectors):
                index.duplicate_of(probe, v)
        return (time.perf_counter() - started) * 1000 / (5 * len(probes))

    with single_blas_thread():  # as the worker searches
        search_one_thread = search_ms()
    search_default = search_ms()
    sigs = [_signature(c.front) for c in cards]
    started = time.perf_counter()
    for probe in probes:
        s = _signature(probe.front)
        any(len(s & t) / len(s | t) >= 0.75 for t in sigs)
    signature_ms = (time.perf_counter() - started) * 1000 / len(probes)
    return {
        "embed ms/card (one at a time)": single_ms,
        "embed CPU ms/card (one at a time)": single_cpu_ms,
        "embed ms/card (batches, deck at job start)": batch_ms,
        "embed CPU ms/card (batches)": batch_cpu_ms,
        "search ms/card at 5,000 cards (one BLAS thread, as the worker)": search_one_thread,
        "search ms/card at 5,000 cards (OpenBLAS default threads)": search_default,
        "signature baseline ms/card at 5,000 cards (linear scan)": signature_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=Path, default=ROOT / "tests/data/dedup_pairs.jsonl")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument(
        "--provider", action="store_true",
        help="measure the provider's /embeddings (SRS_LLM_BASE_URL, SRS_EMBEDDINGS_MODEL)",
    )
    args = parser.parse_args()
    rows = load(args.pairs)
    print(f"machine: {machine()}")
    print(f"pairs: {len(rows)} from {args.pairs.name}")
    started = time.perf_counter()
    embedder = (
        ProviderEmbedder(settings.llm_base_url, settings.llm_api_key, settings.embeddings_model)
        if args.provider and (settings := Settings())
        else MiniLMEmbedder()
    )
    print(f"model: {embedder.model}")
    print(f"model load (with SHA-256 check): {time.perf_counter() - started:.2f} s")
    vectors: list[tuple[CardVectors, CardVectors]] = []
    for row in rows:
        va, vb = embed_cards(embedder, [CardText(**row["a"]), CardText(**row["b"])])
        vectors.append((va, vb))
    default = Thresholds()
    print("\nsignature dedup (before):", scores(signature_merged(rows), rows))
    print(f"semantic dedup (card {default.card}, answer {default.answer}):",
          scores(semantic_merged(rows, vectors, default), rows))
    merged = semantic_merged(rows, vectors, default)
    for lang in sorted({r["lang"] for r in rows}):
        picked = [(m, r) for m, r in zip(merged, rows) if r["lang"] == lang]
        print(f"  {lang}:", scores([m for m, _ in picked], [r for _, r in picked]))
    card_only = [float(va.card @ vb.card) for va, vb in vectors]
    para = [s for s, r in zip(card_only, rows) if r["kind"] == "paraphrase"]
    look = [s for s, r in zip(card_only, rows) if r["kind"] == "lookalike"]
    if para and look:
        print(f"cosine of front+back alone: paraphrases >= {min(para):.3f}, "
              f"look-alikes <= {max(look):.3f}")
    print("safe window, card threshold (answer fixed):",
          window(rows, vectors, lambda t: Thresholds(card=t, answer=default.answer)))
    print("safe window, answer threshold (card fixed):",
          window(rows, vectors, lambda t: Thresholds(card=default.card, answer=t)))
    for row, (va, vb), m in zip(rows, vectors, semantic_merged(rows, vectors, default)):
        if m != (row["kind"] == "paraphrase"):
            print(f"  wrong: {row['kind']}: {row['a']['front']!r} / {row['b']['front']!r} "
                  f"(card {float(va.card @ vb.card):.3f}, answer {float(va.answer @ vb.answer):.3f})")
    if not args.no_timing:
        print()
        for name, value in deck_timing(embedder, rows).items():
            print(f"{name}: {value:.2f}")


if __name__ == "__main__":
    main()
