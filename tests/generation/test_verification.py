"""The verification pass (issue 15), over real HTTP on SQLite and PostgreSQL: the scripted
model writes a grounded topic's cards from a labelled set, then plays the verifier, giving
each card its label as verdict. The learner's study queue gets every correct card and none
of the others; the topic's held-back list shows each of those with its reason; restoring one
brings it into study; held cards are never billed; the check's tokens are metered."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import Api
from tests.generation.conftest import llm_settings, wait_for
from tests.sources.conftest import batch_passages
from tests.support.llm_server import (
    ReceivedRequest,
    Reply,
    is_outline_request,
    outline_xml,
    verdicts_xml,
    verify_cards,
)
from tests.support.server import running_app

pytestmark = pytest.mark.slow

LABELLED = json.loads((Path(__file__).parent.parent / "data" / "verify_labelled.json").read_text())
# The verdict the scripted verifier gives each label of the set.
VERDICT = {"correct": "ok", "wrong": "wrong", "ambiguous": "ambiguous", "unsupported": "unsupported"}
COUNT = re.compile(r"Write exactly (\d+) new cards")


def prompt_of(request: ReceivedRequest) -> str:
    return "".join(str(m.get("content")) for m in request.json.get("messages") or [])


def prompt_tokens(request: ReceivedRequest) -> int:
    """The input tokens the scripted server reports for a request."""
    return len(prompt_of(request)) // 4


class LabelledModel:
    """Writes the set's cards in order, each citing the batch passage holding its quote;
    as verifier, answers each card with its label."""

    def __init__(self, cards: list[dict]) -> None:
        self.waiting = list(cards)
        self.by_front = {card["front"]: card for card in cards}

    def write(self, request: ReceivedRequest) -> Reply:
        wanted = int(COUNT.search(prompt_of(request))[1])
        passages = batch_passages(request)
        written = []
        for card in list(self.waiting):
            cited = next((pid for pid, _, text in passages if card["quote"] in text), None)
            if cited is None or len(written) == wanted:
                continue
            self.waiting.remove(card)
            written.append(
                f"<card><front>{card['front']}</front><back>{card['back']}</back>"
                f"<passage>{cited}</passage><quote>{card['quote']}</quote></card>\n"
            )
        return Reply(text="<cards>\n" + "".join(written) + "</cards>\n", chunk_chars=32)

    def judge(self, request: ReceivedRequest) -> Reply:
        verdicts = []
        for number, front in verify_cards(request):
            card = self.by_front[front]
            verdicts.append((number, VERDICT[card["label"]], card["why"] or "Supported and clear."))
        return Reply(text=verdicts_xml(verdicts), chunk_chars=16)


@pytest.fixture
def gen_settings(database_url, llm):
    return llm_settings(
        database_url, llm, source_batch_chars=100000, refill_below=100, max_unseen=200
    )


@pytest.fixture
def server(gen_settings):
    with running_app(gen_settings) as (base_url, app):
        yield base_url, app


def held_back(api, topic_id: int) -> list[dict]:
    return api.get(f"/topics/{topic_id}/held-back", params={"limit": 500}).json()["items"]


def topic_cards(api, topic_id: int) -> list[dict]:
    return api.get(f"/topics/{topic_id}/cards", params={"limit": 500}).json()["items"]


def study_all(api, topic_id: int) -> list[str]:
    """What the learner is shown, card after card, answering Easy until nothing is due."""
    shown = []
    while (card := api.get(f"/topics/{topic_id}/next").json()["card"]) is not None:
        shown.append(card["front"])
        assert api.post(f"/cards/{card['id']}/review", json={"rating": 4}).status_code == 200
        assert len(shown) <= 100
    return shown


def grounded_topic(api) -> int:
    source = api.post("/sources", json={"text": LABELLED["passage"]})
    assert source.status_code == 202, source.text
    return source.json()["topic_id"]


def test_the_labelled_set_holds_back_every_wrong_ambiguous_and_unsupported_card(
    api, api_factory, llm
):
    model = LabelledModel(LABELLED["cards"])
    llm.responder, llm.verifier = model.write, model.judge
    assert api.patch("/me", json={"new_cards_per_day": 500}).status_code == 200
    topic_id = grounded_topic(api)
    total = len(LABELLED["cards"])
    assert total >= 40
    wait_for(lambda: len(held_back(api, topic_id)) + len(topic_cards(api, topic_id)) == total, 90)

    correct = {c["front"] for c in LABELLED["cards"] if c["label"] == "correct"}
    rejected = {c["front"]: c for c in LABELLED["cards"] if c["label"] != "correct"}
    topic = api.get(f"/topics/{topic_id}").json()
    assert topic["verify_cards"] is True and topic["verify_cards_override"] is None
    held = held_back(api, topic_id)
    assert {h["front"] for h in held} == set(rejected)
    for item in held:
        expected = rejected[item["front"]]
        assert item["label"] == VERDICT[expected["label"]]
        assert item["reason"] == expected["why"]
        assert item["verifier"] == "scripted-model" and item["source"]["quote"] == expected["quote"]
    assert api.get(f"/topics/{topic_id}/duplicates").json()["items"] == []
    assert sorted(study_all(api, topic_id)) == sorted(correct)

    # Never billed: only the cards shown count. Once the set is used up (the model writes no
    # more cards, so the topic stops), every request's tokens are metered, the check's too.
    wait_for(lambda: api.get(f"/topics/{topic_id}").json()["generation"]["status"] == "failed", 30)

    def metered_as_asked() -> dict | None:
        # An outline request may still be finishing when the last batch fails: its tokens are
        # metered when it ends.
        usage = api.get("/usage").json()
        asked = llm.requests + llm.outline_requests + llm.verify_requests
        return usage if usage["tokens"]["input"] == sum(map(prompt_tokens, asked)) else None

    usage = wait_for(metered_as_asked, 30)
    assert usage["cards"]["used"] == len(correct)
    asked = llm.requests + llm.outline_requests + llm.verify_requests
    assert usage["tokens"]["input"] > sum(prompt_tokens(r) for r in asked if r not in llm.verify_requests)

    # Restoring a held card brings it into study, still unbilled; nobody else can.
    restored = next(h for h in held if h["label"] == "wrong")
    other = api_factory("mallory@example.com")
    assert other.post(f"/held-back/{restored['id']}/restore").status_code == 404
    assert other.get(f"/topics/{topic_id}/held-back").status_code == 404
    assert restored["id"] in {h["id"] for h in held_back(api, topic_id)}
    answer = api.post(f"/held-back/{restored['id']}/restore")
    assert answer.status_code == 201, answer.text
    assert answer.json()["front"] == restored["front"] and answer.json()["state"] == "new"
    assert answer.json()["source"]["quote"] == restored["source"]["quote"]
    assert restored["front"] not in {h["front"] for h in held_back(api, topic_id)}
    assert study_all(api, topic_id) == [restored["front"]]
    assert api.get("/usage").json()["cards"]["used"] == len(correct)
    assert api.post(f"/held-back/{restored['id']}/restore").status_code == 404


def test_a_failed_check_holds_the_batch_back_unchecked_and_says_so(api, llm):
    model = LabelledModel(LABELLED["cards"])
    llm.responder = model.write
    llm.verifier = lambda request: Reply(status=400, error_message="verifier refused")
    topic_id = grounded_topic(api)

    held = wait_for(lambda: held_back(api, topic_id), 30)
    assert all(h["label"] == "unchecked" and h["verifier"] is None for h in held)
    assert "verification pass failed" in held[0]["reason"] and "verifier refused" in held[0]["reason"]
    assert topic_cards(api, topic_id) == []
    generation = wait_for(
        lambda: (g := api.get(f"/topics/{topic_id}").json()["generation"])["error"] and g, 30
    )
    assert "verification pass could not check" in generation["error"]
    assert api.get(f"/topics/{topic_id}/next").json()["card"] is None
    assert api.get("/usage").json()["cards"]["used"] == 0


def numbered_cards(request: ReceivedRequest) -> Reply:
    """Cards no earlier batch has: each request writes new, distinct facts."""
    if is_outline_request(request.json):
        return Reply(text=outline_xml())
    wanted = int(COUNT.search(prompt_of(request))[1])
    start = numbered_cards.next
    numbered_cards.next += wanted
    cards = "".join(
        f"<card><front>Which word is number {n} in the list?</front><back>{WORDS[n % 40]}{n}"
        "</back></card>\n" for n in range(start, start + wanted)
    )
    return Reply(text=f"<cards>\n{cards}</cards>\n")


WORDS = [
    "apple", "bridge", "candle", "dragon", "engine", "falcon", "garden", "harbor", "island",
    "jacket", "kettle", "ladder", "marble", "needle", "orange", "pepper", "quartz", "rocket",
    "saddle", "tunnel", "umbrella", "violin", "walnut", "xylophone", "yogurt", "zipper",
    "anchor", "basket", "cactus", "dolphin", "eagle", "feather", "glacier", "hammer", "igloo",
    "jungle", "kitten", "lemon", "magnet", "nectar",
]


def test_an_ungrounded_topic_is_checked_only_once_the_learner_turns_the_switch_on(
    database_url, llm
):
    # The default refill (no eager buffer): the topic rests after its first batches.
    with running_app(llm_settings(database_url, llm)) as (base_url, _app):
        api = Api(base_url)
        api.signup("ada@example.com")
        check_only_when_switched_on(api, llm)


def settled(api, topic_id: int) -> bool:
    """The topic's batches are over (the first batch, then its outline)."""
    generation = api.get(f"/topics/{topic_id}").json()["generation"]
    return generation["status"] == "idle" and generation["cards_in_flight"] == 0


def check_only_when_switched_on(api, llm) -> None:
    numbered_cards.next = 0
    llm.responder = numbered_cards
    llm.verifier = lambda request: Reply(
        text=verdicts_xml((n, "ambiguous", "Which list?") for n, _ in verify_cards(request))
    )
    topic = api.post("/topics", json={"prompt": "Word lists"}).json()
    assert topic["verify_cards"] is False and topic["verify_cards_override"] is None
    wait_for(lambda: settled(api, topic["id"]), 30)
    shown_before = len(topic_cards(api, topic["id"]))
    assert shown_before > 0 and llm.verify_requests == []

    switched = api.patch(f"/topics/{topic['id']}", json={"verify_cards": True}).json()
    assert switched["verify_cards"] is True and switched["verify_cards_override"] is True
    assert api.post(f"/topics/{topic['id']}/generate").status_code == 200
    held = wait_for(lambda: held_back(api, topic["id"]), 30)
    assert {h["label"] for h in held} == {"ambiguous"} and held[0]["reason"] == "Which list?"
    shown = {card["front"] for card in topic_cards(api, topic["id"])}
    assert len(shown) >= shown_before and not shown & {h["front"] for h in held}

    back = api.patch(f"/topics/{topic['id']}", json={"verify_cards": None}).json()
    assert back["verify_cards"] is False and back["verify_cards_override"] is None


def cloze_notes(request: ReceivedRequest) -> Reply:
    """Cloze notes of two deletions each, new ones every request."""
    if is_outline_request(request.json):
        return Reply(text=outline_xml())
    wanted = int(COUNT.search(prompt_of(request))[1])
    start = cloze_notes.next
    cloze_notes.next += wanted
    notes = "".join(
        f'<card type="cloze"><text>The {{{{c1::{WORDS[n % 40]}}}}} sits next to the '
        f"{{{{c2::{WORDS[(n + 7) % 40]}}}}} in row {n}</text></card>\n"
        for n in range(start, start + wanted)
    )
    return Reply(text=f"<cards>\n{notes}</cards>\n")


def test_a_held_cloze_note_holds_each_of_its_cards_and_each_restores_on_its_own(
    database_url, llm
):
    with running_app(llm_settings(database_url, llm)) as (base_url, _app):
        api = Api(base_url)
        api.signup("ada@example.com")
        cloze_notes.next = 0
        llm.responder = cloze_notes
        llm.verifier = lambda request: Reply(
            text=verdicts_xml((n, "wrong", "Rows have no order.") for n, _ in verify_cards(request))
        )
        topic = api.post("/topics", json={"prompt": "Rows", "card_style": "cloze"}).json()
        wait_for(lambda: settled(api, topic["id"]), 30)
        assert api.patch(f"/topics/{topic['id']}", json={"verify_cards": True}).status_code == 200
        assert api.post(f"/topics/{topic['id']}/generate").status_code == 200

        def first_note() -> list[dict]:
            held = held_back(api, topic["id"])  # newest first: the first note is last
            note = [h for h in held if held and h["text"] == held[-1]["text"]]
            return note if len(note) == 2 else []

        note = wait_for(first_note, 30)
        assert "{{c1::" in verify_cards(llm.verify_requests[0])[0][1]  # the note is judged whole
        assert {h["label"] for h in note} == {"wrong"}

        restored = api.post(f"/held-back/{note[0]['id']}/restore").json()
        assert restored["type"] == "cloze" and restored["text"] == note[0]["text"]
        shown = {c["id"] for c in topic_cards(api, topic["id"])}
        assert restored["id"] in shown
        assert note[1]["id"] in {h["id"] for h in held_back(api, topic["id"])}
        exported = api.get("/me/export").json()["held_cards"]
        assert note[1]["id"] in {h["id"] for h in exported}
        assert note[0]["id"] not in {h["id"] for h in exported}
