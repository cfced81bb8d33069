"""Build the LLM request for a batch of cards. Pure: the text lives in prompts.txt."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.resources import files

from srs.llm.base import LLMRequest

# The "already covered" list is capped so the prompt does not grow with the deck.
EXISTING_MAX_CHARS = 2000
EXISTING_MAX_ITEMS = 60


@lru_cache
def _sections() -> dict[str, str]:
    text = files("srs.generation").joinpath("prompts.txt").read_text(encoding="utf-8")
    sections: dict[str, str] = {}
    name = None
    for line in text.splitlines(keepends=True):
        if line.startswith("=== "):
            name = line[4:].strip()
            sections[name] = ""
        elif name is not None:
            sections[name] += line
    return {k: v.strip("\n") for k, v in sections.items()}


@lru_cache
def _grammar_template() -> str:
    return files("srs.generation").joinpath("cards.gbnf").read_text(encoding="utf-8")


def grammar(count: int) -> str:
    return _grammar_template().replace("COUNT", str(max(1, count)))


def system_prompt() -> str:
    """The card system prompt: the same for every batch, so a local model can keep it evaluated."""
    return _sections()["system"]


@lru_cache
def example_fronts() -> list[str]:
    """The fronts of the few-shot examples, which a generated card must not copy."""
    return re.findall(r"<front>(.*?)</front>", _sections()["completion"])


def existing_summary(fronts: list[str]) -> str:
    """The most recent fronts, newest first, within a fixed budget."""
    lines: list[str] = []
    used = 0
    for front in reversed(fronts[-EXISTING_MAX_ITEMS:]):
        line = "- " + " ".join(front.split())[:200]
        if used + len(line) > EXISTING_MAX_CHARS:
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines) if lines else "(none yet)"


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def build_request(
    topic: str, level: int, count: int, existing_fronts: list[str], *, max_tokens: int, temperature: float
) -> LLMRequest:
    s = _sections()
    values = {
        "topic": topic.replace(">>>", "> > >"),  # the learner cannot close our data markers
        "topic_line": _one_line(topic).replace("<", " ").replace(">", " "),
        "level": level,
        "count": count,
        "existing": existing_summary(existing_fronts),
    }
    return LLMRequest(
        system=system_prompt(),
        user=s["user"].format(**values),
        completion_prompt=s["completion"].format(**values) + "\n",
        grammar=grammar(count),
        max_tokens=max_tokens,
        temperature=temperature,
    )
