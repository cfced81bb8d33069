"""Cards from each embedded model, for a person to grade: 3 batches on each of 5 topics.

Runs the real provider code (srs/llm/local.py) with the real request (prompts.build_request),
the streaming parser and the dedup the worker uses; each batch tells the model which cards the
topic already has, as the service does. Writes bench/results/local_quality-<model>.json with
every card and each batch's timings (time to first card, seconds per card, tokens per second).

    .venv/bin/python bench/local_quality.py [--models qwen-1.5b,gemma-270m] [--batches 3] [--threads N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from _machine import machine

from srs.generation import prompts
from srs.generation.dedup import DedupIndex
from srs.generation.xml_stream import CardStreamParser
from srs.llm.base import TextDelta, Usage
from srs.llm.local import LocalProvider

TOPICS = (
    "Capitals of European countries",
    "Python list methods",
    "The French Revolution",
    "Basic chemistry: elements, atoms and simple reactions",
    "Spanish A1 vocabulary: everyday words with their English meaning",
)
RESULTS = Path(__file__).resolve().parent / "results"
LEVEL = 3


async def one_batch(provider: LocalProvider, topic: str, known: list[str], size: int) -> dict:
    request = prompts.build_request(topic, LEVEL, size, known, max_tokens=1200, temperature=0.7)
    parser = CardStreamParser()
    dedup = DedupIndex(known + (prompts.example_fronts() if provider.few_shot else []))
    started = time.monotonic()
    cards, card_times, duplicates, usage = [], [], [], None
    async for event in provider.stream(request):
        if isinstance(event, Usage):
            usage = event
            continue
        assert isinstance(event, TextDelta)
        for card in parser.feed(event.text):
            if dedup.duplicate_of(card.front) is not None:
                duplicates.append(card.front)
                continue
            dedup.add(card.front)
            card_times.append(round(time.monotonic() - started, 2))
            cards.append({"front": card.front, "back": card.back})
    parser.close()
    seconds = time.monotonic() - started
    return {
        "cards": cards,
        "card_seconds": card_times,
        "duplicates": duplicates,
        "seconds": round(seconds, 1),
        "output_tokens": usage.output_tokens if usage else None,
        "tokens_per_second": round(usage.output_tokens / seconds, 1) if usage else None,
        "xml_error": parser.error,
    }


async def run_model(
    key: str, batches: int, size: int, threads: int | None, topics: list[str], path: Path
) -> dict:
    """Every batch of every topic; the file is rewritten after each batch, so a long run can
    be read (and graded) while it goes on."""
    provider = LocalProvider(local_model=key, threads=threads)
    loaded = time.monotonic()
    provider.warm_up(prompts.system_prompt()).join()
    warm_up = time.monotonic() - loaded
    print(f"{key}: warm-up (load + system prompt) {warm_up:.1f} s", flush=True)
    result = {
        "model": provider.model,
        "key": key,
        "threads": provider.threads,
        "machine": machine(),
        "warm_up_seconds": round(warm_up, 1),
        "level": LEVEL,
        "topics": [],
    }
    for topic in topics:
        known: list[str] = []
        runs: list[dict] = []
        result["topics"].append({"topic": topic, "batches": runs})
        for number in range(1, batches + 1):
            batch = await one_batch(provider, topic, known, size)
            known += [card["front"] for card in batch["cards"]]
            runs.append(batch)
            path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
            first = batch["card_seconds"][0] if batch["card_seconds"] else None
            print(
                f"{key} | {topic[:30]:30} | batch {number}: {len(batch['cards'])} cards "
                f"in {batch['seconds']} s, first after {first} s, "
                f"{batch['tokens_per_second']} tok/s",
                flush=True,
            )
    await provider.aclose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="qwen-1.5b,gemma-270m")
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--size", type=int, default=8, help="cards asked per batch")
    parser.add_argument(
        "--threads", type=int, default=None,
        help="CPU threads (default: the physical cores; 1 on a machine others keep busy: "
        "llama.cpp's threads wait on each other when the cores are oversubscribed)",
    )
    parser.add_argument(
        "--topics", default=None,
        help="numbers of the topics to run, e.g. 0,1 (default: all; parts can run in parallel)",
    )
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    chosen = [int(n) for n in args.topics.split(",")] if args.topics else range(len(TOPICS))
    part = f"-topics{args.topics.replace(',', '')}" if args.topics else ""
    for key in args.models.split(","):
        path = RESULTS / f"local_quality-{key}{part}.json"
        topics = [TOPICS[n] for n in chosen]
        asyncio.run(run_model(key, args.batches, args.size, args.threads, topics, path))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
