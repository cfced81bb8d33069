"""The topic outline over real HTTP: written after the first batch, batches spread over its subtopics, each
prompt listing only its subtopic's cards, and the outline extended once all are covered."""

from __future__ import annotations

import pytest

from srs.generation import prompts
from tests.conftest import Api
from tests.generation.conftest import llm_settings, wait_for
from tests.support.cards import batch_xml, capitals
from tests.support.llm_server import Reply, outline_xml
from tests.support.server import running_app

pytestmark = pytest.mark.slow

WORDS = [
    "amber",
    "basalt",
    "cedar",
    "delta",
    "ember",
    "fjord",
    "garnet",
    "harbor",
    "indigo",
    "jasper",
    "kelp",
    "lagoon",
    "marble",
    "nectar",
    "onyx",
    "prairie",
    "quartz",
    "reef",
    "sierra",
    "tundra",
    "umber",
    "valley",
    "willow",
    "xenon",
    "yarrow",
    "zephyr",
    "acorn",
    "birch",
    "canyon",
    "dune",
    "estuary",
    "fern",
    "glacier",
    "heath",
    "islet",
    "juniper",
    "knoll",
    "larch",
    "mesa",
    "nettle",
]


# Each subject labels its samples with words of its own: "river fjord" and "mountain fjord"
# are so alike that the semantic duplicate check may take one for the other.
OFFSETS = {"river": 0, "mountain": 10, "island": 20, "delta": 30}


def facts(subject: str, count: int, start: int = 0) -> list[tuple[str, str]]:
    """Distinct facts: fronts that share no more than half their content words."""
    first = OFFSETS.get(subject, 0) + start
    return [
        (f"Which {subject} sample is labelled {w}?", f"{subject} {w}")
        for w in WORDS[first : first + count]
    ]


def user_prompt(request) -> str:
    return request.json["messages"][1]["content"]


def system_prompt(request) -> str:
    return request.json["messages"][0]["content"]


def _topic(api, topic_id):
    return api.get(f"/topics/{topic_id}").json()


def _outline(api, topic_id):
    return api.get(f"/topics/{topic_id}/outline").json()["subtopics"]


@pytest.fixture
def refilling(database_url, llm):
    """An app whose buffer asks for batch after batch until the script runs out."""
    with running_app(llm_settings(database_url, llm, refill_below=1000)) as (base_url, _app):
        api = Api(base_url)
        api.signup("outline@example.com")
        yield api


@pytest.fixture
def one_batch(database_url, llm):
    """An app that asks for one batch of cards only (no refill)."""
    with running_app(llm_settings(database_url, llm, refill_below=0)) as (base_url, _app):
        api = Api(base_url)
        api.signup("metered@example.com")
        yield api


def test_a_new_topics_first_batch_comes_before_its_outline_then_batches_use_it(api, llm):
    """The first card must not wait for the outline (a local model takes 20-30 s to write
    one): the first batch is on the topic's best-known basic facts, the outline comes right
    after it, full buffer or not, and the cards asked for from then on carry their subtopic."""
    llm.script([Reply(text=batch_xml(capitals(10))), Reply(text=batch_xml(facts("river", 10)))])
    llm.default = Reply(status=500, error_message="no more batches in this test")
    topic = api.post("/topics", json={"prompt": "European capitals"}).json()
    wait_for(lambda: len(_outline(api, topic["id"])) == 8)
    outline = _outline(api, topic["id"])
    assert [s["name"] for s in outline][:3] == ["Basics", "Key terms", "History"]
    assert outline[0]["scope"]
    [asked] = llm.outline_requests
    assert llm.requests[0].at < asked.at
    assert "best-known basic facts" in user_prompt(llm.requests[0])
    assert "<outline>" in system_prompt(asked) and "<subtopic>" in system_prompt(asked)
    assert "European capitals" in user_prompt(asked) and "<cards>" not in system_prompt(asked)
    assert "<cards>" in system_prompt(llm.requests[0])
    assert "outline" not in system_prompt(llm.requests[0]) + user_prompt(llm.requests[0])
    # The buffer asks for more: that batch is aimed at the first subtopic, and its cards say so.
    api.post(f"/topics/{topic['id']}/generate")
    wait_for(lambda: len(api.get(f"/topics/{topic['id']}/cards").json()["items"]) == 20)
    assert "Basics: All about basics" in user_prompt(llm.requests[1])
    assert asked.at < llm.requests[1].at
    cards = api.get(f"/topics/{topic['id']}/cards", params={"limit": 100}).json()["items"]
    by_front = {c["front"]: c["subtopic"] for c in cards}
    assert by_front[capitals(10)[0][0]] is None  # written before there was an outline
    assert by_front[facts("river", 10)[0][0]] == {"id": outline[0]["id"], "name": "Basics"}
    assert _outline(api, topic["id"])[0]["cards"] == 10


def test_the_outline_job_reserves_no_cards_but_its_tokens_are_metered(one_batch, llm):
    api = one_batch
    llm.script([Reply(text=batch_xml(capitals(4)))])
    topic = api.post("/topics", json={"prompt": "European capitals"}).json()
    wait_for(lambda: len(api.get(f"/topics/{topic['id']}/cards").json()["items"]) == 4)
    wait_for(lambda: _topic(api, topic["id"])["generation"]["status"] == "idle")
    usage = api.get("/usage").json()
    assert usage["cards"]["used"] == 4 and usage["cards"]["reserved"] == 0
    # The scripted server reports prompt characters / 4 as input tokens: both requests count.
    [outline_request], [cards_request] = llm.outline_requests, llm.requests
    outline_tokens = _prompt_chars(outline_request.json) // 4
    assert usage["tokens"]["input"] == outline_tokens + _prompt_chars(cards_request.json) // 4


def _prompt_chars(body) -> int:
    return sum(len(str(m.get("content"))) for m in body["messages"])


def test_batches_target_the_least_covered_subtopic_and_list_only_its_cards(refilling, llm):
    api = refilling
    llm.script_outline([Reply(text=outline_xml(["Rivers", "Mountains", "Islands"]))])
    llm.script(
        [
            Reply(text=batch_xml(capitals(10))),  # the first batch, before the outline
            Reply(text=batch_xml(facts("river", 10))),
            Reply(text=batch_xml(facts("mountain", 10))),
            Reply(text=batch_xml(facts("island", 4))),
            Reply(text=batch_xml(facts("island", 6, start=4))),
        ]
    )
    llm.default = Reply(status=400, error_message="the script has ended")
    topic = api.post("/topics", json={"prompt": "Physical geography"}).json()
    wait_for(lambda: _topic(api, topic["id"])["generation"]["status"] == "failed", timeout=30)
    prompts_sent = [user_prompt(r) for r in llm.requests[1:]]
    # A subtopic with no card yet lists none: not the first batch's, which a small model
    # copies instead of writing about the subtopic.
    assert "Rivers:" in prompts_sent[0] and "(none yet)" in prompts_sent[0]
    assert "capital" not in prompts_sent[0]
    assert "Mountains:" in prompts_sent[1] and "river" not in prompts_sent[1]
    assert "Islands:" in prompts_sent[2]
    # Islands had 4 cards, the others 10: the fourth batch goes back to Islands, and its
    # prompt lists the island cards, not the deck's most recent fronts.
    assert "Islands:" in prompts_sent[3]
    assert "Which island sample is labelled umber?" in prompts_sent[3]
    assert "river" not in prompts_sent[3] and "mountain" not in prompts_sent[3]
    sizes = [len(system_prompt(r)) + len(user_prompt(r)) for r in llm.requests[1:]]
    assert sizes[3] <= 1.5 * sizes[1]
    counts = {s["name"]: s["cards"] for s in _outline(api, topic["id"])}
    assert [counts[name] for name in ("Rivers", "Mountains", "Islands")] == [10, 10, 10]


def test_a_subtopics_first_batch_lists_the_first_batch_cards_that_name_it_only(refilling, llm):
    api = refilling
    llm.script_outline([Reply(text=outline_xml(["Rivers", "Mountains"]))])
    first = capitals(6) + facts("river", 2)
    llm.script([Reply(text=batch_xml(first)), Reply(text=batch_xml(facts("river", 8, start=2)))])
    llm.default = Reply(status=400, error_message="the script has ended")
    api.post("/topics", json={"prompt": "Physical geography"})
    wait_for(lambda: len(llm.requests) >= 3, timeout=30)
    rivers, mountains = user_prompt(llm.requests[1]), user_prompt(llm.requests[2])
    assert "Rivers:" in rivers and "Mountains:" in mountains
    # The river cards of the first batch would be written again by a batch on rivers: listed.
    # Its capitals are about neither part: a small model would copy them, not listed.
    for front, _ in facts("river", 2):
        assert front in rivers and front not in mountains
    assert "capital" not in rivers + mountains
    assert "(none yet)" in mountains


def test_a_subtopic_where_the_model_only_repeats_itself_is_not_asked_again(refilling, llm):
    api = refilling
    llm.script_outline([Reply(text=outline_xml(["Rivers", "Mountains", "Islands"]))])
    llm.script(
        [
            Reply(text=batch_xml(capitals(10))),
            Reply(text=batch_xml(capitals(4))),  # on rivers: the first batch's cards again
            Reply(text=batch_xml(facts("mountain", 10))),
            Reply(text=batch_xml(facts("island", 10))),
        ]
    )
    llm.default = Reply(status=400, error_message="the script has ended")
    topic = api.post("/topics", json={"prompt": "Physical geography"}).json()
    wait_for(lambda: len(llm.requests) >= 5, timeout=30)
    aimed = [user_prompt(r) for r in llm.requests[1:5]]
    # Rivers gave nothing new: the next batches go to the parts that can still give cards,
    # not back to Rivers (the least covered, and three fruitless batches end the feed).
    assert "Rivers:" in aimed[0]
    assert "Mountains:" in aimed[1] and "Islands:" in aimed[2]
    assert "Rivers:" not in aimed[1] + aimed[2]
    cards = api.get(f"/topics/{topic['id']}/cards", params={"limit": 100}).json()["items"]
    assert len(cards) == 30


def test_a_card_names_a_part_by_a_word_of_its_name_not_of_the_topic():
    cards = [
        ("What does list.extend() do?", "Adds every item of an iterable"),
        ("What does list.append() do?", "Adds one item at the end"),
        ("Which list method sorts in place?", "sort()"),
    ]
    assert prompts.naming_the_part(cards, "Extend", "Python list methods") == cards[:1]
    # "list" is the topic's word: it ties every card to the topic, none to the part.
    assert prompts.naming_the_part(cards, "List sorting", "Python list methods") == []
    assert prompts.naming_the_part(cards, "Sorts", "Python list methods") == cards[2:]


def test_when_every_subtopic_is_covered_the_outline_is_extended(refilling, llm):
    api = refilling
    llm.script_outline(
        [
            Reply(text=outline_xml(["Rivers", "Mountains", "Islands"])),
            Reply(text=outline_xml(["Rivers", "Deltas and estuaries", "Glaciers"])),
        ]
    )
    llm.script(
        [Reply(text=batch_xml(capitals(10)))]
        + [Reply(text=batch_xml(facts(s, 10))) for s in ("river", "mountain", "island")]
        + [Reply(text=batch_xml(facts("delta", 10)))]
    )
    llm.default = Reply(status=400, error_message="the script has ended")
    topic = api.post("/topics", json={"prompt": "Physical geography"}).json()
    wait_for(lambda: _topic(api, topic["id"])["generation"]["status"] == "failed", timeout=30)
    extension = llm.outline_requests[1]
    assert "- Rivers: All about rivers" in user_prompt(extension)
    assert "deeper" in user_prompt(extension) and "<outline>" in system_prompt(extension)
    names = [s["name"] for s in _outline(api, topic["id"])]
    assert names == ["Rivers", "Mountains", "Islands", "Deltas and estuaries", "Glaciers"]
    assert "Deltas and estuaries:" in user_prompt(llm.requests[4])


def test_a_failed_outline_is_a_visible_error_and_retry_writes_it(api, llm):
    llm.outline_default = Reply(status=500, error_message="outline service down")
    llm.script([Reply(text=batch_xml(capitals(3)))])
    llm.default = Reply(status=500, error_message="no more batches in this test")
    topic = api.post("/topics", json={"prompt": "European capitals"}).json()
    failed = wait_for(
        lambda: (t := _topic(api, topic["id"]))["generation"]["status"] == "failed" and t,
        timeout=30,
    )
    assert "outline could not be written" in failed["generation"]["error"]
    assert "outline service down" in failed["generation"]["error"]
    # The first batch came before the outline: its cards stay, to study meanwhile.
    assert len(api.get(f"/topics/{topic['id']}/cards").json()["items"]) == 3
    assert _outline(api, topic["id"]) == []
    llm.outline_default = Reply(text=outline_xml())
    api.post(f"/topics/{topic['id']}/generate")
    wait_for(lambda: len(_outline(api, topic["id"])) == 8)


def test_the_card_prompt_for_batch_50_is_within_one_and_a_half_times_batch_2s():
    """The worst case: batch 2 as small as a request gets (a one-letter topic and subtopic,
    nothing listed), batch 50 on the longest subtopic line with a long history of long cards."""
    settings = {"max_tokens": 2000, "temperature": 0.7}
    second = prompts.build_request(
        "x", 3, 10, [], subtopic=prompts.subtopic_line("x", ""), **settings
    )
    longest = prompts.subtopic_line("N" * 120, "S" * 300)
    history = [("Q" * 300 + str(i), "A" * 200) for i in range(40)]
    fiftieth = prompts.build_request("x", 10, 10, history, subtopic=longest, **settings)
    size = lambda r: len(r.system) + len(r.user)
    assert size(fiftieth) <= 1.5 * size(second)
    assert history[0][0][:50] in fiftieth.user  # the newest card is listed
