"""A leech in a real browser (Chromium driven by Playwright) against the real app and a
scripted model: the study screen offers "Rewrite this card" for a card failed four times,
shows the model's proposal, and accepting it changes the card shown (same card, new text)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Api, make_settings
from tests.rewrites.conftest import add_card, fail, make_due, new_topic
from tests.support import databases
from tests.support.cards import batch_xml
from tests.support.llm_server import Reply, ScriptedLLMServer
from tests.support.server import running_app
from tests.web.test_browser import TIMEOUT_MS, _shot

pytestmark = pytest.mark.browser

FRONT, BACK = "Powerhouse of the cell, and what it makes?", "Mitochondrion; ATP"
CLEARER = ("Which organelle is called the powerhouse of the cell?", "The mitochondrion")
PASSWORD = "correct horse battery"


@pytest.fixture
def llm() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        server.script([Reply(text=batch_xml([CLEARER]), ttft=0.2)])
        yield server


@pytest.fixture
def leech_site(sqlite_template, tmp_path, llm) -> Iterator[tuple[str, int, int]]:
    """The real app (no generation worker: the card is written by hand) with one learner
    whose only card has lapsed four times and is due now."""
    url = databases.sqlite_copy(sqlite_template, tmp_path)
    settings = make_settings(
        url,
        llm_provider="openai",
        llm_base_url=llm.base_url,
        llm_api_key="test",
        llm_model="scripted",
        worker_enabled=False,
    )
    with running_app(settings) as (base_url, _app):
        api = Api(base_url)
        api.signup("leech@example.com", PASSWORD)
        topic_id = new_topic(api)
        card = add_card(api, topic_id, FRONT, BACK)
        fail(api, card["id"], 4)
        make_due(url, card["id"])
        yield base_url, topic_id, card["id"]


def test_a_leech_is_rewritten_from_the_study_screen(leech_site, llm, browser_context):
    from playwright.sync_api import expect

    site, topic_id, card_id = leech_site
    page = browser_context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(site + "/#/login")
    page.get_by_label("Email").fill("leech@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("heading", name="Your topics")).to_be_visible()
    page.goto(f"{site}/#/topics/{topic_id}")

    expect(page.locator("#card-front")).to_have_text(FRONT)
    expect(page.locator(".leech-note")).to_contain_text("failed this card 4 times")
    rewrite = page.get_by_role("button", name="Rewrite this card")
    expect(rewrite).to_be_visible()
    _shot(page, "leech-card")

    page.keyboard.press("r")  # the keyboard opens it, as the button does
    expect(page.locator("#rewrite-panel .proposal-front")).to_have_text(CLEARER[0])
    expect(page.locator("#rewrite-panel .proposal-back")).to_have_text(CLEARER[1])
    _shot(page, "leech-proposal")
    page.keyboard.press("a")

    expect(page.locator("#card-front")).to_have_text(CLEARER[0])
    expect(page.locator(".flash")).to_contain_text("history and schedule are kept")
    expect(page.get_by_role("button", name="Rewrite this card")).to_have_count(0)
    card = page.request.get(f"{site}/api/v1/cards/{card_id}").json()
    assert (card["id"], card["front"], card["lapses"], card["leech"]) == (
        card_id,
        CLEARER[0],
        4,
        False,
    )
    assert len(llm.requests) == 1
    assert errors == []
