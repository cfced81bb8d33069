"""Card rules checked on the model's text alone: a card whose answer is a list is held back
with its reason, never shown and never billed, and the learner can still restore it."""

from __future__ import annotations

import pytest

from srs.generation.card_rules import list_answer
from srs.generation.xml_stream import CardStreamParser, ParsedCard
from tests.generation.conftest import wait_for
from tests.support.cards import batch_xml, capitals
from tests.support.llm_server import Reply

LIST_CARD = (
    "What are some basic Python list methods?",
    "append(), extend(), insert(), remove(), pop(), clear(), index(), count(), reverse(), sort()",
)


@pytest.mark.parametrize(
    ("back", "is_list"),
    [
        (LIST_CARD[1], True),
        ("oxygen, carbon, hydrogen, nitrogen, calcium, and phosphorus", True),
        ("Hydrogen; helium; lithium; beryllium", True),
        ("Paris", False),
        ("Red, green and blue", False),  # a set of three is one fact: the primary colours
        ("The storming of the Bastille, on 14 July 1789, began the revolution.", False),
        ("Removes and returns the item at the given position, by default the last one.", False),
        ("[1, 2, 3, 4]", False),  # a value written out
        ("Lisboa, Madrid, París, Roma", True),  # any language with commas
    ],
)
def test_an_answer_that_lists_several_things_is_told_apart(back: str, is_list: bool) -> None:
    assert (list_answer(ParsedCard(front="q", back=back)) is not None) is is_list


def test_a_cloze_card_is_never_a_list() -> None:
    parser = CardStreamParser()
    [card] = parser.feed(
        '<cards><card type="cloze"><text>{{c1::Lisbon}}, {{c2::Madrid}}, {{c3::Rome}} and '
        "{{c4::Paris}} are capitals.</text></card></cards>"
    )
    assert list_answer(card) is None


@pytest.mark.slow
def test_a_list_card_is_held_back_with_its_reason_and_not_billed(api, llm) -> None:
    cards = [*capitals(2), LIST_CARD, *capitals(2, start=2)]
    llm.script([Reply(text=batch_xml(cards))])
    llm.default = Reply(status=500, error_message="no more batches in this test")
    topic = api.post("/topics", json={"prompt": "Python list methods"}).json()

    held = wait_for(lambda: api.get(f"/topics/{topic['id']}/held-back").json()["items"])
    wait_for(lambda: len(api.get(f"/topics/{topic['id']}/cards").json()["items"]) == 4)

    [item] = held
    assert item["front"] == LIST_CARD[0] and item["label"] == "not_one_fact"
    assert "lists 10 items" in item["reason"]
    shown = [c["front"] for c in api.get(f"/topics/{topic['id']}/cards").json()["items"]]
    assert LIST_CARD[0] not in shown and len(shown) == 4
    assert api.get("/usage").json()["cards"]["used"] == 4
    restored = api.post(f"/held-back/{item['id']}/restore")
    assert restored.status_code == 201, restored.text
    assert restored.json()["front"] == LIST_CARD[0]
