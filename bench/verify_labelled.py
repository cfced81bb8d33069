"""The labelled set (tests/data/verify_labelled.json) judged by a real model: how many of the
wrong, ambiguous and unsupported cards the verification pass would hold back, and how many
correct ones it would wrongly hold back.

The requests are the worker's own (prompts.build_verify_request, grounded: the passage is
sent, each card cites its sentence), in batches of --batch cards, and the replies go through
the worker's verdict parser. The provider comes from the usual settings or the flags:

    SRS_LLM_PROVIDER=openai SRS_LLM_BASE_URL=http://127.0.0.1:11434/v1 SRS_LLM_MODEL=qwen2.5:7b \\
        .venv/bin/python bench/verify_labelled.py
    .venv/bin/python bench/verify_labelled.py --provider anthropic --model claude-3-5-haiku-latest
    .venv/bin/python bench/verify_labelled.py --provider local          # the embedded model
    .venv/bin/python bench/verify_labelled.py --provider scripted       # the test's verifier

`--provider scripted` answers each card with its label (what tests/generation/
test_verification.py does through the whole pipeline): a check of this script itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from contextlib import aclosing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _machine import machine

from srs.generation import prompts
from srs.generation.verdicts import VerdictStreamParser
from srs.kit.settings import Settings
from srs.llm import build_provider
from srs.llm.base import LLMProvider, Usage
from srs.sources.grounding import PassageRef
from tests.support.llm_server import Reply, ScriptedLLMServer, verdicts_xml, verify_cards

SET = Path(__file__).resolve().parents[1] / "tests" / "data" / "verify_labelled.json"
SCRIPTED_VERDICT = {"correct": "ok", "wrong": "wrong", "ambiguous": "ambiguous",
                    "unsupported": "unsupported"}


async def judge(provider: LLMProvider, data: dict, batch: int) -> tuple[dict[str, str], int]:
    """Each card's verdict label ("none" when the model gave it none) and the tokens spent."""
    passage = PassageRef(1, "Science notes", None, data["passage"])
    verdicts: dict[str, str] = {}
    tokens = 0
    cards = data["cards"]
    for start in range(0, len(cards), batch):
        chunk = cards[start : start + batch]
        checks = [prompts.CardToCheck(c["front"], c["back"], 1, c["quote"]) for c in chunk]
        request = prompts.build_verify_request(data["topic"], checks, [passage])
        parser = VerdictStreamParser()
        async with aclosing(provider.stream(request)) as stream:
            async for event in stream:
                if isinstance(event, Usage):
                    tokens += event.input_tokens + event.output_tokens
                    continue
                for verdict in parser.feed(event.text):
                    if 1 <= verdict.card <= len(chunk):
                        verdicts.setdefault(chunk[verdict.card - 1]["front"], verdict.label.value)
        parser.close()
        print(f"  cards {start + 1}-{start + len(chunk)} judged" + (
            f" ({parser.error})" if parser.error else ""), flush=True)
    return {c["front"]: verdicts.get(c["front"], "none") for c in cards}, tokens


def scripted_verifier(data: dict):
    labels = {c["front"]: c["label"] for c in data["cards"]}

    def answer(request) -> Reply:
        return Reply(text=verdicts_xml(
            (n, SCRIPTED_VERDICT[labels[front]], "scripted") for n, front in verify_cards(request)
        ))

    return answer


def report(data: dict, verdicts: dict[str, str]) -> None:
    table = Counter((c["label"], verdicts[c["front"]]) for c in data["cards"])
    seen = sorted({v for _, v in table})
    print(f"{'label':12}" + "".join(f"{v:>14}" for v in seen))
    for label in ("correct", "wrong", "ambiguous", "unsupported"):
        print(f"{label:12}" + "".join(f"{table[(label, v)]:>14}" for v in seen))
    held = {front for front, verdict in verdicts.items() if verdict != "ok"}
    for label in ("wrong", "ambiguous", "unsupported"):
        marked = [c for c in data["cards"] if c["label"] == label]
        caught = sum(c["front"] in held for c in marked)
        print(f"{label}: {caught} of {len(marked)} held back")
    correct = [c for c in data["cards"] if c["label"] == "correct"]
    print(f"correct: {sum(c['front'] in held for c in correct)} of {len(correct)} wrongly held back")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", choices=["openai", "anthropic", "local", "scripted"])
    parser.add_argument("--base-url")
    parser.add_argument("--model")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--limit", type=int, help="only the first N cards (a slow model)")
    args = parser.parse_args()
    data = json.loads(SET.read_text())
    data["cards"] = data["cards"][: args.limit]
    print(f"machine: {machine()}; {len(data['cards'])} labelled cards")
    scripted = ScriptedLLMServer().start() if args.provider == "scripted" else None
    overrides = {k: v for k, v in {"llm_provider": args.provider, "llm_base_url": args.base_url,
                                   "llm_model": args.model}.items() if v}
    if scripted is not None:
        scripted.verifier = scripted_verifier(data)
        overrides.update(llm_provider="openai", llm_base_url=scripted.base_url,
                         llm_api_key="bench", llm_model="scripted")
    provider = build_provider(Settings(**overrides))
    try:
        verdicts, tokens = await judge(provider, data, args.batch)
    finally:
        if hasattr(provider, "aclose"):
            await provider.aclose()
        if scripted is not None:
            scripted.stop()
    print(f"provider: {provider.name}, model {provider.model}; {tokens} tokens")
    report(data, verdicts)


if __name__ == "__main__":
    asyncio.run(main())
