"""The verification pass in a real browser: a grounded topic's page lists the card the check
held back, with its reason, and Restore brings it into study."""

from __future__ import annotations

import pytest

from tests.sources.conftest import faithful_reply
from tests.support.llm_server import Reply, verdicts_xml, verify_cards
from tests.web.test_browser import _shot, browser_context, llm, site  # noqa: F401

pytestmark = pytest.mark.browser

TEXT = (
    "# Northern Europe\n\nThe capital of Norway is Oslo.\n\n"
    "# Southern Europe\n\nThe capital of Malta is Valletta.\n"
)
REASON = "The passage is about Malta's capital, but the card is judged wrong here."


def malta_is_wrong(request) -> Reply:
    verdicts = [
        (n, "wrong", REASON) if "Malta" in front else (n, "ok", "Supported.")
        for n, front in verify_cards(request)
    ]
    return Reply(text=verdicts_xml(verdicts))


def test_a_held_back_card_shows_its_reason_and_restore_brings_it_into_study(
    site, llm, browser_context  # noqa: F811
):
    from playwright.sync_api import expect

    llm.responder, llm.verifier = faithful_reply, malta_is_wrong
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(site + "/#/signup")
    page.get_by_label("Email").fill("checker@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_label("Password").press("Enter")
    page.wait_for_url("**/#/topics**")
    csrf = next(c["value"] for c in browser_context.cookies() if c["name"] == "srs_csrf")
    made = page.request.post(
        f"{site}/api/v1/sources", data={"text": TEXT}, headers={"X-CSRF-Token": csrf}
    )
    assert made.status == 202, made.text()
    page.goto(f"{site}/#/topics/{made.json()['topic_id']}")
    # Reading the text, writing the batch and checking its first card: room on a loaded machine.
    expect(page.locator("#card-front")).to_have_text("What is the capital of Norway?", timeout=40_000)

    held = page.locator("#held-back")
    held.locator("summary").click()
    expect(page.locator("#verify-cards")).to_be_checked()  # on by default: it has a source
    item = page.locator("#held-list li.held")
    expect(item).to_contain_text("What is the capital of Malta?", timeout=20_000)
    expect(item).to_contain_text("wrong")
    expect(item).to_contain_text(REASON)
    _shot(page, "held-back")
    item.get_by_role("button", name="Restore").click()
    expect(page.locator("#held-list")).to_contain_text("No card is held back.")

    page.locator("#card").focus()
    page.keyboard.press("Space")
    page.keyboard.press("4")
    expect(page.locator("#card-front")).to_have_text("What is the capital of Malta?")
    assert errors == []
