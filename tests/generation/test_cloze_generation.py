"""Cloze cards end to end: a topic set to cloze asks the scripted model (over real HTTP) for
cloze cards, and a note with N deletions becomes N cards, each scheduled on its own."""

from __future__ import annotations

import pytest

from tests.generation.conftest import wait_for
from tests.support.cards import card_xml
from tests.support.llm_server import Reply

pytestmark = pytest.mark.slow

CELL = "The {{c1::mitochondrion}} turns {{c2::glucose}} into {{c3::ATP::a molecule}}"
PLANTS = "{{c1::Chlorophyll}} captures light in {{c2::leaves}}"


def _reply() -> str:
    return (
        "<cards>\n"
        f'<card type="cloze"><text>{CELL}</text></card>\n'
        + card_xml("Which organelle holds chlorophyll?", "The chloroplast")
        + f'<card type="cloze">\n  <text>{PLANTS}</text>\n</card>\n'
        '<card type="cloze"><text>A gap that never {{c1::closes</text></card>\n'
        "</cards>\n"
    )


def _cards(api, topic_id):
    return api.get(f"/topics/{topic_id}/cards").json()["items"]


def test_a_cloze_note_becomes_one_card_per_deletion_each_scheduled_on_its_own(api, llm):
    llm.script([Reply(text=_reply(), tokens_per_second=400)])
    llm.default = Reply(status=500, error_message="no more batches in this test")
    topic = api.post("/topics", json={"prompt": "Cell biology", "card_style": "cloze"}).json()
    assert topic["card_style"] == "cloze"
    cards = wait_for(lambda: (c := _cards(api, topic["id"])) and len(c) >= 6 and c)

    request = llm.requests[0].json["messages"][1]["content"]
    assert "Write cloze cards only" in request
    assert '<card type="cloze"><text>' in llm.requests[0].json["messages"][0]["content"]
    # Three cards from the first note, the basic card, two from the second; the broken one
    # (an unclosed deletion) is dropped.
    assert [(c["type"], c["cloze_ordinal"]) for c in cards] == [
        ("cloze", 1),
        ("cloze", 2),
        ("cloze", 3),
        ("basic", None),
        ("cloze", 1),
        ("cloze", 2),
    ]
    cell = cards[:3]
    assert {c["text"] for c in cell} == {CELL}
    assert [c["front"] for c in cell] == [
        "The [...] turns glucose into ATP",
        "The mitochondrion turns [...] into ATP",
        "The mitochondrion turns glucose into [a molecule]",
    ]
    assert {c["back"] for c in cell} == {"The mitochondrion turns glucose into ATP"}
    assert all(c["model"] == "scripted-model" for c in cell)

    # Each card is its own: answering the first leaves its siblings new and due now.
    first = api.get(f"/topics/{topic['id']}/next").json()["card"]
    assert first["id"] == cell[0]["id"] and first["front"] == cell[0]["front"]
    reviewed = api.post(f"/cards/{first['id']}/review", json={"rating": 3}).json()["card"]
    assert reviewed["state"] == "learning" and reviewed["reps"] == 1
    after = {c["id"]: c for c in _cards(api, topic["id"])}
    assert after[cell[0]["id"]]["due"] > cell[0]["due"]
    for sibling in cell[1:]:
        assert after[sibling["id"]]["state"] == "new" and after[sibling["id"]]["reps"] == 0
    following = api.get(f"/topics/{topic['id']}/next").json()["card"]
    assert following["id"] == cell[1]["id"] and following["cloze_ordinal"] == 2
    # Each card is billed like any generated card: six cards, not two notes.
    assert api.get("/usage").json()["cards"]["used"] == 6


def test_the_card_style_can_change_and_the_next_batch_asks_for_it(api, llm):
    llm.script([Reply(text=_reply(), tokens_per_second=400)])
    llm.default = Reply(status=500, error_message="no more batches in this test")
    topic = api.post("/topics", json={"prompt": "Plants"}).json()
    assert topic["card_style"] == "basic"
    wait_for(lambda: len(llm.requests) >= 1)
    assert "Write basic cards only" in llm.requests[0].json["messages"][1]["content"]
    changed = api.patch(f"/topics/{topic['id']}", json={"card_style": "mixed"})
    assert changed.status_code == 200 and changed.json()["card_style"] == "mixed"
    refused = api.patch(f"/topics/{topic['id']}", json={"card_style": "images"})
    assert refused.status_code == 422
    assert api.get(f"/topics/{topic['id']}").json()["card_style"] == "mixed"
