"""Cloze cards in a real browser (Chromium driven by Playwright), against the real app and a
scripted OpenAI-compatible LLM over real HTTP: the learner picks cloze cards for a new topic,
studies a gap, reveals it with Space, rates it with a key, and the note's next deletion comes
as a card of its own. Screenshots land in test-output/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.support.llm_server import Reply, ScriptedLLMServer
from tests.web.test_browser import TIMEOUT_MS, _scripted_site, _shot

pytestmark = pytest.mark.browser

CELL = "The {{c1::mitochondrion}} turns {{c2::glucose}} into {{c3::ATP::a molecule}}"
REPLY = (
    "<cards>\n"
    f'<card type="cloze"><text>{CELL}</text></card>\n'
    "<card><front>Which organelle holds chlorophyll?</front><back>The chloroplast</back></card>\n"
    "</cards>"
)


@pytest.fixture
def llm() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer(default=Reply(status=500, error_message="one batch only")) as server:
        server.script([Reply(text=REPLY, ttft=0.3, tokens_per_second=300)])
        yield server


@pytest.fixture
def site(sqlite_template, tmp_path, llm) -> Iterator[str]:
    with _scripted_site(sqlite_template, tmp_path, llm, llm_max_retries=0) as base_url:
        yield base_url


def test_a_cloze_card_is_studied_like_a_basic_card(site, llm, browser_context):
    from playwright.sync_api import expect

    page = browser_context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(site + "/")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email").fill("cloze@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("heading", name="Your topics")).to_be_visible()

    # The learner asks for cloze cards when creating the topic.
    page.get_by_label("Cards:").select_option(label="Fill in the gap (cloze)")
    prompt = page.get_by_label("What do you want to learn?")
    prompt.fill("Cell biology")
    _shot(page, "cloze-new-topic")
    prompt.press("Enter")
    expect(page).to_have_url(re.compile(r"#/topics/\d+$"))
    topic_id = int(page.url.rsplit("/", 1)[1])
    topic = page.request.get(f"{site}/api/v1/topics/{topic_id}").json()
    assert topic["card_style"] == "cloze"

    # The gap is shown, the answer is not.
    front = page.locator("#card-front")
    expect(front).to_have_text("The [...] turns glucose into ATP")
    expect(page.locator("#card-front .cloze-gap")).to_have_text("[...]")
    expect(page.locator("#card-back")).to_have_count(0)
    expect(page.locator(".card-label").first).to_have_text("Fill the gap")
    assert "Write cloze cards only" in llm.requests[0].json["messages"][1]["content"]
    _shot(page, "cloze-front")

    # Space reveals the whole text with the deletion marked; the ratings are the usual ones.
    page.keyboard.press("Space")
    back = page.locator("#card-back")
    expect(back).to_have_text("The mitochondrion turns glucose into ATP")
    expect(page.locator("#card-back mark.cloze-answer")).to_have_text("mitochondrion")
    expect(page.locator(".rate-3")).to_contain_text("10m")
    _shot(page, "cloze-back")

    # 3 rates Good: the next card is the same note's second deletion, a card of its own.
    page.keyboard.press("3")
    expect(page.locator(".flash")).to_contain_text("Good")
    expect(front).to_have_text("The mitochondrion turns [...] into ATP")
    expect(page.locator("#card-back")).to_have_count(0)
    cards = page.request.get(f"{site}/api/v1/topics/{topic_id}/cards").json()["items"]
    by_number = {c["cloze_ordinal"]: c for c in cards if c["type"] == "cloze"}
    assert set(by_number) == {1, 2, 3}
    assert by_number[1]["state"] == "learning" and by_number[1]["reps"] == 1
    assert by_number[2]["state"] == "new" and by_number[2]["reps"] == 0
    assert by_number[3]["state"] == "new" and by_number[3]["reps"] == 0

    # The third deletion has a hint: it shows in the gap.
    page.keyboard.press("Space")
    page.keyboard.press("4")
    expect(front).to_have_text("The mitochondrion turns glucose into [a molecule]")
    _shot(page, "cloze-hint")
    # E opens the edit form of the card: for a cloze card, its text.
    page.locator("#card").focus()
    page.keyboard.press("e")
    expect(page.get_by_role("form", name="Edit this cloze card").get_by_label("Text", exact=True)).to_have_value(CELL)
    page.get_by_role("button", name="Cancel").click()

    # In the card browser a cloze card edits its text, and every card of the note follows,
    # each keeping its own schedule.
    page.get_by_role("link", name="Browse this topic’s cards").click()
    page.get_by_role("button", name="Edit “The [...] turns glucose into ATP”").click()
    text = page.get_by_label("Cloze text")
    expect(text).to_have_value(CELL)
    text.fill(CELL.replace("turns", "converts"))
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".row-front").first).to_have_text("The [...] converts glucose into ATP")
    expect(page.locator(".row-front").nth(1)).to_have_text(
        "The mitochondrion converts [...] into ATP"
    )
    cards = page.request.get(f"{site}/api/v1/topics/{topic_id}/cards").json()["items"]
    edited = {c["cloze_ordinal"]: c for c in cards if c["type"] == "cloze"}
    assert edited[1]["reps"] == 1 and edited[2]["reps"] == 1 and edited[3]["reps"] == 0
    assert edited[1]["due"] == by_number[1]["due"]
    _shot(page, "cloze-card-browser")
    assert errors == []
