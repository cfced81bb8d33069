"""Leeches rewritten, over real HTTP with a scripted model, on SQLite and PostgreSQL: a card
failed four times is a leech; the model proposes one clearer card or a split; accepting keeps
the card's history (or retires it for two new cards); rejecting, a model failure and a bad
reply change nothing."""

from __future__ import annotations

from srs.sources.models import CardCitation
from tests.conftest import Api, make_settings
from tests.generation.conftest import llm_settings, wait_for
from tests.rewrites.conftest import add_card, fail, make_due, new_topic, review
from tests.support.cards import batch_xml
from tests.support.llm_server import Reply, ScriptedLLMServer, is_outline_request, outline_xml
from tests.support.server import running_app

FRONT, BACK = "What is the powerhouse of the cell and what does it make?", "Mitochondrion; ATP"
CLEARER = ("Which organelle is called the powerhouse of the cell?", "The mitochondrion")
SECOND = ("Which molecule does the mitochondrion make for energy?", "ATP")


def leech(api: Api) -> tuple[int, dict]:
    topic_id = new_topic(api)
    card = add_card(api, topic_id, FRONT, BACK)
    return topic_id, fail(api, card["id"], 4)


def reviews_of(api: Api, card_id: int) -> list[dict]:
    export = api.get("/me/export")
    assert export.status_code == 200, export.text
    return [r for r in export.json()["reviews"] if r["card_id"] == card_id]


def tokens(api: Api) -> dict:
    return api.get("/usage").json()["tokens"]


def topic_cards(api: Api, topic_id: int) -> list[dict]:
    return api.get(f"/topics/{topic_id}/cards").json()["items"]


def test_a_card_failed_four_times_is_a_leech(api, llm, database_url):
    topic_id = new_topic(api)
    card = add_card(api, topic_id, FRONT, BACK)
    assert card["leech"] is False
    card = fail(api, card["id"], 3)
    assert (card["lapses"], card["leech"]) == (3, False)
    refused = api.post(f"/cards/{card['id']}/rewrite")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "not_a_leech"
    assert "3" in refused.json()["error"]["message"]

    review(api, card["id"], 1)
    card = review(api, card["id"], 4)
    assert (card["lapses"], card["leech"]) == (4, True)
    assert api.get(f"/cards/{card['id']}").json()["leech"] is True
    make_due(database_url, card["id"])
    shown = api.get(f"/topics/{topic_id}/next").json()["card"]
    assert (shown["id"], shown["leech"]) == (card["id"], True)
    assert llm.requests == []  # nothing was asked of the model


def test_accepting_a_clearer_card_keeps_its_history(api, llm):
    _, card = leech(api)
    history = reviews_of(api, card["id"])
    before = tokens(api)
    llm.script([Reply(text=batch_xml([CLEARER]), input_tokens=120, output_tokens=30)])

    proposed = api.post(f"/cards/{card['id']}/rewrite")
    assert proposed.status_code == 201, proposed.text
    rewrite = proposed.json()
    assert rewrite["status"] == "proposed" and rewrite["kind"] == "reword"
    assert rewrite["cards"] == [{"front": CLEARER[0], "back": CLEARER[1]}]
    assert rewrite["original"] == {"front": FRONT, "back": BACK}
    assert rewrite["model"] == "scripted-model"
    # Asking changed nothing; the tokens were metered once.
    assert api.get(f"/cards/{card['id']}").json()["front"] == FRONT
    after = tokens(api)
    assert (after["input"] - before["input"], after["output"] - before["output"]) == (120, 30)
    prompt = llm.requests[0].json["messages"][1]["content"]
    assert FRONT in prompt and BACK in prompt

    accepted = api.post(f"/rewrites/{rewrite['id']}/accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["rewrite"]["status"] == "accepted"
    assert accepted.json()["new_cards"] == []
    now = api.get(f"/cards/{card['id']}").json()
    assert (now["front"], now["back"]) == CLEARER
    for name in ("reps", "lapses", "state", "due", "topic_id"):
        assert now[name] == card[name], name
    assert now["suspended"] is False and now["leech"] is False  # its leech count starts again
    assert reviews_of(api, card["id"]) == history
    assert tokens(api) == after  # accepting asks nothing more

    again = api.post(f"/rewrites/{rewrite['id']}/accept")
    assert again.status_code == 409


def test_accepting_a_split_retires_the_card_and_adds_two(api, llm):
    topic_id, card = leech(api)
    history = reviews_of(api, card["id"])
    llm.script([Reply(text=batch_xml([CLEARER, SECOND]))])
    rewrite = api.post(f"/cards/{card['id']}/rewrite").json()
    assert rewrite["kind"] == "split" and len(rewrite["cards"]) == 2
    assert len(topic_cards(api, topic_id)) == 1
    usage_before = api.get("/usage").json()["cards"]

    decision = api.post(f"/rewrites/{rewrite['id']}/accept").json()
    old = api.get(f"/cards/{card['id']}").json()
    assert old["suspended"] is True and "split" in old["retired_reason"]
    assert (old["front"], old["reps"], old["lapses"]) == (FRONT, card["reps"], card["lapses"])
    assert reviews_of(api, card["id"]) == history
    new = decision["new_cards"]
    assert [(c["front"], c["back"]) for c in new] == [CLEARER, SECOND]
    assert all(c["state"] == "new" and c["reps"] == 0 and c["topic_id"] == topic_id for c in new)
    listed = {c["id"]: c for c in topic_cards(api, topic_id)}
    assert set(listed) == {card["id"], *(c["id"] for c in new)}
    assert listed[card["id"]]["retired_reason"] == old["retired_reason"]
    # The two replace a card the learner has: the card quota is not charged for them.
    assert api.get("/usage").json()["cards"] == usage_before
    shown = api.get(f"/topics/{topic_id}/next").json()["card"]
    assert shown["id"] in {c["id"] for c in new}

    # A retired card is not rewritten again.
    assert api.post(f"/cards/{card['id']}/rewrite").status_code == 409

    exported = api.get("/me/export").json()["card_rewrites"]
    assert [(r["id"], r["status"], r["new_card_ids"]) for r in exported] == [
        (rewrite["id"], "accepted", [c["id"] for c in new])
    ]

    # Unsuspended, a retired card is studied again and no longer says it is retired.
    back = api.post(f"/cards/{card['id']}/unsuspend").json()
    assert (back["suspended"], back["retired_reason"]) == (False, None)


def test_a_split_of_a_cited_card_keeps_its_citation(api, llm, server):
    topic_id, card = leech(api)
    passage_text = "The mitochondrion is the powerhouse of the cell; it makes ATP."
    source = api.post(f"/topics/{topic_id}/sources", json={"text": passage_text})
    assert source.status_code == 202, source.text
    wait_for(lambda: api.get(f"/sources/{source.json()['id']}").json()["status"] == "ready", 30)
    passage = api.get(f"/sources/{source.json()['id']}/passages").json()["items"][0]
    quote = "it makes ATP"
    start = passage_text.index(quote)
    with server[1].state.db.transaction() as session:  # the leech as a grounded batch cites
        session.add(
            CardCitation(
                card_id=card["id"],
                passage_id=passage["id"],
                quote=quote,
                quote_start=start,
                quote_end=start + len(quote),
            )
        )
    cited = api.get(f"/cards/{card['id']}").json()["source"]
    assert cited["id"] == passage["id"] and cited["quote"] == quote
    llm.script([Reply(text=batch_xml([CLEARER, SECOND]))])
    rewrite = api.post(f"/cards/{card['id']}/rewrite").json()
    assert rewrite["kind"] == "split"

    new = api.post(f"/rewrites/{rewrite['id']}/accept").json()["new_cards"]
    # Both halves still show the passage they come from, in the answer and when read again.
    assert [c["source"] for c in new] == [cited, cited]
    assert [api.get(f"/cards/{c['id']}").json()["source"] for c in new] == [cited, cited]
    exported = api.get("/me/export").json()["card_citations"]
    assert {c["card_id"] for c in exported} == {card["id"], *(c["id"] for c in new)}


def test_rejecting_changes_nothing(api, llm):
    _, card = leech(api)
    llm.script([Reply(text=batch_xml([CLEARER]))])
    rewrite = api.post(f"/cards/{card['id']}/rewrite").json()
    rejected = api.post(f"/rewrites/{rewrite['id']}/reject")
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["rewrite"]["status"] == "rejected"
    now = api.get(f"/cards/{card['id']}").json()
    assert now == card
    assert api.post(f"/rewrites/{rewrite['id']}/accept").status_code == 409
    assert api.get(f"/cards/{card['id']}").json()["front"] == FRONT


def test_another_learners_card_and_rewrite_are_not_found(api, llm, server):
    _, card = leech(api)
    llm.script([Reply(text=batch_xml([CLEARER]))])
    rewrite = api.post(f"/cards/{card['id']}/rewrite").json()
    other = Api(server[0])
    other.signup("other@example.com")
    assert other.post(f"/cards/{card['id']}/rewrite").status_code == 404
    assert other.post(f"/rewrites/{rewrite['id']}/accept").status_code == 404
    assert other.post(f"/rewrites/{rewrite['id']}/reject").status_code == 404
    assert api.get(f"/rewrites/{rewrite['id']}").json()["status"] == "proposed"
    assert len(llm.requests) == 1


def unchanged(api: Api, topic_id: int, card: dict) -> None:
    cards = topic_cards(api, topic_id)
    assert len(cards) == 1
    now = cards[0]
    assert (now["front"], now["back"], now["reps"], now["lapses"], now["suspended"]) == (
        FRONT,
        BACK,
        card["reps"],
        card["lapses"],
        False,
    )


def test_a_model_failure_changes_nothing(api, llm):
    topic_id, card = leech(api)
    before = tokens(api)
    llm.script([Reply(status=400, error_message="model exploded")])
    failed = api.post(f"/cards/{card['id']}/rewrite")
    assert failed.status_code == 502, failed.text
    error = failed.json()["error"]
    assert error["code"] == "llm_failed" and "model exploded" in error["message"]
    unchanged(api, topic_id, card)
    assert tokens(api) == before  # the model wrote nothing


def test_bad_xml_changes_nothing(api, llm):
    topic_id, card = leech(api)
    before = tokens(api)
    replies = [
        "I cannot help with that.",
        "<cards><card><front>Half a card</front><back>cut",
        batch_xml([CLEARER, SECOND, ("A third?", "No")]),
        batch_xml([(FRONT, BACK)]),
    ]
    llm.script([Reply(text=text, input_tokens=50, output_tokens=10) for text in replies])
    for _ in replies:
        refused = api.post(f"/cards/{card['id']}/rewrite")
        assert refused.status_code == 502, refused.text
        assert refused.json()["error"]["code"] == "llm_bad_output"
        unchanged(api, topic_id, card)
    # The model was paid for each reply, usable or not: metered once each.
    after = tokens(api)
    assert after["input"] - before["input"] == 50 * len(replies)


def test_without_a_provider_the_error_says_how_to_configure_one(database_url):
    settings = make_settings(database_url, llm_provider="", worker_enabled=False)
    with running_app(settings) as (base_url, _app):
        api = Api(base_url)
        api.signup("nobody@example.com")
        topic_id, card = leech(api)
        refused = api.post(f"/cards/{card['id']}/rewrite")
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "llm_not_configured"
        assert "SRS_LLM_PROVIDER" in refused.json()["error"]["message"]
        unchanged(api, topic_id, card)


def test_with_a_worker_the_rewrite_asks_the_generators_provider(database_url):
    """`srs serve` runs a worker: the rewrite shares its provider (one model in memory)."""

    def answer(request):
        if "keeps failing" in request.json["messages"][1]["content"]:
            return Reply(text=batch_xml([CLEARER]))
        if is_outline_request(request.json):
            return Reply(text=outline_xml())
        return Reply(text=batch_xml([("What is 2 + 2?", "4")]))

    with (
        ScriptedLLMServer(responder=answer) as llm,
        running_app(llm_settings(database_url, llm)) as (base_url, app),
    ):
        api = Api(base_url)
        api.signup("worker@example.com")
        _, card = leech(api)
        rewrite = api.post(f"/cards/{card['id']}/rewrite")
        assert rewrite.status_code == 201, rewrite.text
        assert rewrite.json()["cards"] == [{"front": CLEARER[0], "back": CLEARER[1]}]
        assert app.state.rewrites._provider() is app.state.worker.provider()
