"""Checking a grounded card's citation. Pure.

The model is told which passages a batch covers and asked to cite one per card, with a quote.
Its reply is untrusted: a card citing a passage that does not exist, or one that was not in
its batch, or quoting words the passage does not contain, is rejected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from srs.sources.passages import find_quote

QUOTE_CHARS = 500


@dataclass(frozen=True)
class PassageRef:
    """A passage as a batch's plan carries it to the prompt."""

    id: int
    label: str
    section: str | None
    text: str


@dataclass(frozen=True)
class Citation:
    passage_id: int
    quote: str  # as the passage has it
    start: int  # offsets in the passage's text
    end: int


class Ungrounded(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def cite(passages: Sequence[PassageRef], extra: Mapping[str, str]) -> Citation:
    """The citation a card's <passage> and <quote> make, checked against its batch."""
    raw = (extra.get("passage") or "").strip()
    number = raw.removeprefix("P").removeprefix("p").strip()
    if not number.isdigit():
        raise Ungrounded(f"the card cites no passage ({raw[:40]!r})")
    by_id = {p.id: p for p in passages}
    passage = by_id.get(int(number))
    if passage is None:
        raise Ungrounded(f"the card cites passage {number}, which was not in its batch")
    quote = (extra.get("quote") or "").strip()
    if not quote:
        raise Ungrounded(f"the card quotes nothing of passage {number}")
    span = find_quote(passage.text, quote[:QUOTE_CHARS])
    if span is None:
        raise Ungrounded(f"passage {number} does not contain the quoted words")
    start, end = span
    return Citation(passage.id, passage.text[start:end], start, end)
