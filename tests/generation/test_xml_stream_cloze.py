"""Cloze cards in the model's card XML: read as one note that gives a card per deletion
number; a cloze text the checker refuses is dropped like any malformed card."""

from __future__ import annotations

import pytest

from srs.generation.xml_stream import CardStreamParser


def parse(text: str, chunk: int = 7):
    parser = CardStreamParser()
    cards = [c for i in range(0, len(text), chunk) for c in parser.feed(text[i : i + chunk])]
    return cards + parser.close(), parser


def test_a_cloze_card_beside_a_basic_card() -> None:
    cards, parser = parse(
        "<cards>\n"
        '<card type="cloze"><text>The {{c1::mitochondrion}} makes {{c2::ATP}}</text></card>\n'
        "<card><front>Capital of France?</front><back>Paris</back></card>\n"
        "</cards>"
    )
    assert parser.complete and parser.skipped == 0
    note, basic = cards
    assert note.cloze is not None and note.attributes["type"] == "cloze"
    assert (note.front, note.back, note.cloze_ordinal) == (
        "The [...] makes ATP",
        "The mitochondrion makes ATP",
        1,
    )
    assert [(c.front, c.cloze_ordinal) for c in note.cards()] == [
        ("The [...] makes ATP", 1),
        ("The mitochondrion makes [...]", 2),
    ]
    assert basic.cloze is None and basic.cards() == [basic]


def test_entities_and_layout_in_a_cloze_text_are_read_like_any_field() -> None:
    cards, _ = parse(
        '<cards><card TYPE="Cloze">\n  <text>\n    R&amp;D {{c1::costs}}   money\n'
        "  </text>\n  <explanation>why</explanation>\n</card></cards>"
    )
    (note,) = cards
    assert note.cloze.text == "R&D {{c1::costs}} money"
    assert note.extra == {"explanation": "why"}


def test_a_cloze_text_without_the_type_attribute_is_still_a_cloze_card() -> None:
    cards, _ = parse("<cards><card><text>{{c1::Water}} boils at 100 °C</text></card></cards>")
    assert cards[0].cloze is not None and cards[0].front == "[...] boils at 100 °C"


@pytest.mark.parametrize(
    "card",
    [
        '<card type="cloze"><text>No deletion here</text></card>',
        '<card type="cloze"><text>Broken {{c1::brace</text></card>',
        '<card type="cloze"><text>Nested {{c1::a {{c2::b}} }}</text></card>',
        '<card type="cloze"><front>Q?</front></card>',
        '<card type="cloze"><text>{{c1::all gap}}</text></card>',
        '<card type="image"><front>Q?</front><back>A</back></card>',
    ],
)
def test_bad_cloze_cards_are_dropped_and_the_rest_kept(card: str) -> None:
    cards, parser = parse(f"<cards>{card}<card><front>Kept?</front><back>Yes</back></card></cards>")
    assert [c.front for c in cards] == ["Kept?"]
    assert parser.skipped == 1 and parser.skip_reason
    assert parser.complete


def test_an_overlong_cloze_text_is_dropped() -> None:
    text = "word " * 500 + "{{c1::end}}"
    cards, parser = parse(f'<cards><card type="cloze"><text>{text}</text></card></cards>', 500)
    assert cards == [] and parser.skipped == 1
