"""Cloze cards in a topic with a source, over HTTP with the scripted model, on SQLite and
PostgreSQL: the grounded request asks for cloze cards citing their passage, and every card of a
note with several deletions carries that citation, as basic cards do."""

from __future__ import annotations

import pytest

from srs.generation import prompts
from srs.sources.grounding import PassageRef
from tests.generation.conftest import wait_for
from tests.sources.conftest import FACT, HeldPages, batch_passages, prompt_of
from tests.sources.test_sources_api import all_cards, source_when_done
from tests.support.llm_server import ReceivedRequest, Reply
from tests.support.web_server import WebServer

pytestmark = pytest.mark.slow

PAGE = (
    b"<html><head><title>Atlas</title></head><body><h1>North</h1>"
    b"<p>The capital of Iceland is Reykjavik.</p></body></html>"
)


def cloze_reply(request: ReceivedRequest) -> Reply:
    """A model that writes one two-deletion cloze note per passage, citing the passage."""
    cards = []
    for passage_id, _label, text in batch_passages(request):
        found = FACT.search(text)
        if found:
            cards.append(
                f'<card type="cloze"><text>The capital of {{{{c1::{found[1]}}}}} is '
                f"{{{{c2::{found[2]}}}}}.</text><passage>{passage_id}</passage>"
                f"<quote>{found[0]}</quote></card>\n"
            )
    return Reply(text="<cards>\n" + "".join(cards) + "</cards>\n", chunk_chars=16)


def test_every_card_of_a_grounded_cloze_note_cites_its_passage(api, llm):
    llm.responder = cloze_reply
    with WebServer() as web:
        # The page is held until the topic is set to cloze, so its first batch asks for them.
        held = HeldPages()
        web.pages = held
        web.page("/atlas", PAGE)
        source = api.post("/sources", json={"url": web.url("/atlas", "localhost")}).json()
        topic_id = source["topic_id"]
        changed = api.patch(f"/topics/{topic_id}", json={"card_style": "cloze"})
        assert changed.status_code == 200 and changed.json()["card_style"] == "cloze"
        held.release.set()
        assert source_when_done(api, source["id"])["status"] == "ready"
    cards = wait_for(lambda: (c := all_cards(api, topic_id)) and len(c) >= 2 and c)

    asked = prompt_of(llm.requests[0])
    assert "Write cloze cards only" in asked and '<card type="cloze"><text>' in asked
    passage_id = batch_passages(llm.requests[0])[0][0]
    note = cards[:2]
    assert [(c["type"], c["cloze_ordinal"]) for c in note] == [("cloze", 1), ("cloze", 2)]
    assert [c["front"] for c in note] == [
        "The capital of [...] is Reykjavik.",
        "The capital of Iceland is [...].",
    ]
    for card in note:
        assert card["source"]["id"] == passage_id
        assert card["source"]["quote"] == "The capital of Iceland is Reykjavik."
        assert card["source"]["label"] == "North"
        shown = api.get(f"/cards/{card['id']}/passage").json()
        assert shown["quote"]["text"] == "The capital of Iceland is Reykjavik."
    # The study screen's card carries it too (its "from: North" line).
    first = api.get(f"/topics/{topic_id}/next").json()["card"]
    assert first["type"] == "cloze" and first["source"]["label"] == "North"


def test_the_grounded_request_asks_for_the_topic_s_card_style():
    passages = [PassageRef(7, "p. 1", None, "Cells divide by mitosis.")]

    def grounded(style: str):
        return prompts.build_grounded_request(
            "Biology", 3, 4, [], passages, card_style=style, max_tokens=500, temperature=0.5
        )

    basic, cloze, mixed = grounded("basic"), grounded("cloze"), grounded("mixed")
    assert "Write basic cards only" in basic.user and 'type="cloze"' not in basic.user
    assert "Write cloze cards only" in cloze.user
    assert '<card type="cloze"><text>' in cloze.user and "{{c1::" in cloze.user
    assert "<front>question</front>" in mixed.user and 'type="cloze"' in mixed.user
    # The embedded models' grammar: the card kinds of the style, each citing a passage.
    assert "card ::= basic\n" in basic.grammar
    assert "card ::= cloze\n" in cloze.grammar and "card ::= basic | cloze\n" in mixed.grammar
    assert '"</text>" cite "</card>\\n"' in cloze.grammar and 'pid ::= "7"' in cloze.grammar
