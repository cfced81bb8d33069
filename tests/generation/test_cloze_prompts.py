"""What a batch asks for follows the topic's card style: the user message says which kind,
and the embedded model's grammar admits only that kind."""

from __future__ import annotations

import re

import pytest

from srs.generation import prompts
from srs.generation.xml_stream import CardStreamParser


def _request(style: str):
    return prompts.build_request(
        "Cells", 3, 4, [], card_style=style, max_tokens=100, temperature=0.5
    )


@pytest.mark.parametrize(
    ("style", "line", "kinds"),
    [
        ("basic", "Write basic cards only", "basic"),
        ("cloze", "Write cloze cards only", "cloze"),
        ("mixed", "Mix basic cards and cloze cards", "basic | cloze"),
    ],
)
def test_the_request_and_the_grammar_follow_the_card_style(style, line, kinds) -> None:
    request = _request(style)
    assert line in request.user
    assert f"card ::= {kinds}\n" in request.grammar
    assert "card{1,4}" in request.grammar and "KINDS" not in request.grammar
    # The system prompt is the same whatever the style, so a local model keeps it evaluated.
    assert request.system == prompts.system_prompt()


def test_the_system_prompts_cloze_example_is_a_card_the_parser_takes() -> None:
    example = re.search(r'<card type="cloze">.*?</card>', prompts.system_prompt()).group()
    parser = CardStreamParser()
    cards = parser.feed(f"<cards>{example}</cards>") + parser.close()
    assert [card.front for card in cards[0].cards()] == [
        "The [...] makes ATP for the cell.",
        "The mitochondrion makes [...] for the cell.",
    ]
