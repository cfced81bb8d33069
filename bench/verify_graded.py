"""The embedded model's own cards, graded by hand, judged by a verifier: would the verification
pass make what a learner sees more often correct, and at what cost in good cards held back?

The cards and their grades are the tables of docs/local_quality_grades.md (every run of the
1.5B model: correct, wrong, vague, repeat). They are judged the worker's way, topic by topic in
batches of --batch cards (prompts.build_verify_request, the verdict parser), by the provider of
the usual settings or the flags, and the report compares the share of correct cards among those
kept with the share among all.

    .venv/bin/python bench/verify_graded.py --provider local [--runs E,C] [--limit N]
    .venv/bin/python bench/verify_graded.py --provider local --method reanswer [--saved]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections import Counter
from contextlib import aclosing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _machine import machine

from srs.generation import prompts
from srs.generation.answer_check import AGREE_COSINE, answers_agree
from srs.generation.verdicts import VerdictStreamParser
from srs.kit.settings import Settings
from srs.llm import build_provider
from srs.llm.base import LLMProvider, Usage

GRADES = Path(__file__).resolve().parents[1] / "docs" / "local_quality_grades.md"
SAVED = Path(__file__).resolve().parent / "results" / "verify_graded-reanswer.json"


def graded_cards(text: str) -> list[dict]:
    """Every table row of the 1.5B model's runs: run, topic, front, back, grade."""
    cards, run = [], None
    for line in text.splitlines():
        if line.startswith("## "):
            run = _run_of(line)
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if run and len(cells) >= 5 and cells[4] in ("correct", "wrong", "vague", "repeat"):
            cards.append({"run": run, "topic": cells[0], "front": cells[2], "back": cells[3],
                          "grade": cells[4]})
    return cards


def _run_of(heading: str) -> str | None:
    if "gemma" in heading:
        return None
    if match := re.search(r"run (\w+)", heading):
        return match.group(1)
    if "temperature 0.3" in heading:
        return "T0.3"
    if "qwen-1.5b" in heading:
        return "provider"
    return None


async def judge(provider: LLMProvider, cards: list[dict], batch: int) -> tuple[int, float]:
    """Sets each card's "verdict" ("none" when the model gave it none); tokens and seconds."""
    tokens, started = 0, time.monotonic()
    groups: dict[tuple[str, str], list[dict]] = {}
    for card in cards:
        groups.setdefault((card["run"], card["topic"]), []).append(card)
    for (run, topic), group in groups.items():
        for start in range(0, len(group), batch):
            chunk = group[start : start + batch]
            checks = [prompts.CardToCheck(c["front"], c["back"]) for c in chunk]
            parser = VerdictStreamParser()
            async with aclosing(provider.stream(prompts.build_verify_request(topic, checks))) as s:
                async for event in s:
                    if isinstance(event, Usage):
                        tokens += event.input_tokens + event.output_tokens
                        continue
                    for verdict in parser.feed(event.text):
                        if 1 <= verdict.card <= len(chunk):
                            chunk[verdict.card - 1].setdefault("verdict", verdict.label.value)
                            chunk[verdict.card - 1].setdefault("reason", verdict.reason)
            parser.close()
            print(f"  {run} {topic[:30]}: {start + len(chunk)} of {len(group)} judged"
                  + (f" ({parser.error})" if parser.error else ""), flush=True)
    for card in cards:
        card.setdefault("verdict", "none")
    return tokens, time.monotonic() - started


async def reanswer(provider: LLMProvider, cards: list[dict]) -> tuple[int, float]:
    """Sets each card's "again": the model's answer to its question asked on its own, with the
    service's request (prompts.build_answer_again_request)."""
    tokens, started = 0, time.monotonic()
    for n, card in enumerate(cards, start=1):
        request = prompts.build_answer_again_request(card["topic"], card["front"])
        text = []
        async with aclosing(provider.stream(request)) as stream:
            async for event in stream:
                if isinstance(event, Usage):
                    tokens += event.input_tokens + event.output_tokens
                else:
                    text.append(event.text)
        card["again"] = "".join(text).strip()
        if n % 10 == 0:
            print(f"  {n} of {len(cards)} answered again", flush=True)
    return tokens, time.monotonic() - started


def agreement(cards: list[dict]) -> None:
    """Sets each card's "agree": cosine of the card's answer and the answer given again."""
    from srs.embeddings.minilm import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    backs = embedder.embed([c["back"] for c in cards])
    again = embedder.embed([c["again"] for c in cards])
    for card, a, b in zip(cards, backs, again, strict=True):
        card["agree"] = float(a @ b)


def report_agreement(cards: list[dict]) -> None:
    """The service's rule (answer_check.answers_agree) at its threshold, then others."""
    for threshold in (AGREE_COSINE, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9):
        for c in cards:
            agree = answers_agree(c["back"], c["again"], c["agree"] + AGREE_COSINE - threshold)
            c["verdict"] = "ok" if agree else "unsure"
        rule = "the service's rule" if threshold == AGREE_COSINE else "the same rule"
        print(f"-- cards kept by {rule}, longer answers at cosine >= {threshold}")
        report(cards)


def report(cards: list[dict]) -> None:
    table = Counter((c["grade"], c["verdict"]) for c in cards)
    verdicts = sorted({c["verdict"] for c in cards})
    print(f"{'grade':10}" + "".join(f"{v:>14}" for v in verdicts))
    for grade in ("correct", "wrong", "vague", "repeat"):
        print(f"{grade:10}" + "".join(f"{table[(grade, v)]:>14}" for v in verdicts))
    kept = [c for c in cards if c["verdict"] == "ok"]
    share = lambda cs: f"{sum(c['grade'] == 'correct' for c in cs)} of {len(cs)}" + (
        f" ({100 * sum(c['grade'] == 'correct' for c in cs) / len(cs):.0f}%)" if cs else "")
    print(f"correct among all cards: {share(cards)}")
    print(f"correct among cards kept: {share(kept)}")
    for topic in sorted({c["topic"][:30] for c in cards}):
        mine = [c for c in cards if c["topic"][:30] == topic]
        print(f"  {topic:30} all {share(mine):16} kept {share([c for c in mine if c in kept])}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", choices=["openai", "anthropic", "local"])
    parser.add_argument("--base-url")
    parser.add_argument("--model")
    parser.add_argument("--runs", help="comma-separated: E, C, D, T0.3, provider (default all)")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--limit", type=int, help="only the first N cards")
    parser.add_argument("--show", action="store_true", help="print every card's verdict")
    parser.add_argument("--method", choices=["verify", "reanswer"], default="verify",
                        help="the verification pass, or the question asked again on its own")
    parser.add_argument("--saved", action="store_true",
                        help="reanswer: reuse the answers the last run saved (no model)")
    args = parser.parse_args()
    cards = graded_cards(GRADES.read_text())
    if args.runs:
        cards = [c for c in cards if c["run"] in args.runs.split(",")]
    cards = cards[: args.limit]
    print(f"machine: {machine()}; {len(cards)} graded cards "
          f"({', '.join(f'{k} {v}' for k, v in Counter(c['run'] for c in cards).items())})")
    overrides = {k: v for k, v in {"llm_provider": args.provider, "llm_base_url": args.base_url,
                                   "llm_model": args.model}.items() if v}
    provider = build_provider(Settings(**overrides))
    try:
        if args.method == "verify":
            tokens, seconds = await judge(provider, cards, args.batch)
        elif args.saved:
            again = {(c["run"], c["front"]): c["again"] for c in json.loads(SAVED.read_text())}
            for card in cards:
                card["again"] = again[(card["run"], card["front"])]
            tokens, seconds = 0, 0.0
        else:
            tokens, seconds = await reanswer(provider, cards)
            SAVED.parent.mkdir(exist_ok=True)
            SAVED.write_text(json.dumps(cards, indent=1, ensure_ascii=False) + "\n")
    finally:
        if hasattr(provider, "aclose"):
            await provider.aclose()
    print(f"provider: {provider.name}, model {provider.model}; {tokens} tokens, {seconds:.0f} s")
    if args.method == "reanswer":
        agreement(cards)
        if args.show:
            for c in cards:
                print(f"  [{c['grade']:7} {c['agree']:.2f}] {c['front'][:55]} -> {c['back'][:35]}"
                      f" | again: {c['again'][:40]}")
        report_agreement(cards)
        return
    if args.show:
        for c in cards:
            print(f"  [{c['grade']:7} {c['verdict']:12}] {c['front'][:60]} -> {c['back'][:40]}"
                  f" | {c.get('reason') or ''}")
    report(cards)


if __name__ == "__main__":
    asyncio.run(main())
