"""The topic outline in a real browser: a topic is created against a scripted LLM that writes
an outline; the learner sees its subtopics, renames one, removes one, adds one, reloads and
finds the change kept."""

from __future__ import annotations

import re

import pytest

from tests.support.llm_server import Reply, outline_xml
from tests.web.test_browser import CAPITALS, _shot, _xml, browser_context, llm, site  # noqa: F401

pytestmark = pytest.mark.browser


def test_the_learner_edits_the_outline_and_it_persists(site, llm, browser_context):  # noqa: F811
    from playwright.sync_api import expect

    llm.script_outline(
        [Reply(text=outline_xml(["Western Europe", "Eastern Europe", "The Balkans"]), ttft=0.3)]
    )
    llm.script([Reply(text=_xml(CAPITALS))])
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(site + "/#/signup")
    page.get_by_label("Email").fill("outliner@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_label("Password").press("Enter")
    prompt = page.get_by_label("What do you want to learn?")
    prompt.fill("Capitals of Europe")
    prompt.press("Enter")
    expect(page).to_have_url(re.compile(r"#/topics/\d+$"))

    # The outline shows up by itself once the model has written it (right after the first
    # batch, whose cards belong to no subtopic), with card counts.
    names = page.locator("#outline .subtopic-name")
    expect(names).to_have_text(["Western Europe", "Eastern Europe", "The Balkans"], timeout=20_000)
    expect(page.locator("#outline li.subtopic").first).to_contain_text("· 0 cards", timeout=20_000)
    _shot(page, "outline")

    # Rename the first, remove the second, add one.
    page.get_by_role("button", name="Edit outline").click()
    rows = page.locator("#outline li.subtopic-edit")
    expect(rows).to_have_count(3)
    rows.nth(0).get_by_label("Subtopic name").fill("Western and Central Europe")
    page.get_by_role("button", name="Remove Eastern Europe").click()
    expect(rows).to_have_count(2)
    page.get_by_role("button", name="Add subtopic").click()
    rows.nth(2).get_by_label("Subtopic name").fill("Microstates")
    rows.nth(2).get_by_label("What it covers").fill("Andorra, Monaco, San Marino, Vatican City")
    _shot(page, "outline-editing")
    with page.expect_response(
        lambda r: r.url.endswith("/outline") and r.request.method == "PUT"
    ) as saved:
        page.get_by_role("button", name="Save outline").click()
    assert saved.value.status == 200, saved.value.text()
    expected = ["Western and Central Europe", "The Balkans", "Microstates"]
    expect(names).to_have_text(expected)

    # A reload reads it back from the server.
    page.reload()
    expect(names).to_have_text(expected)
    expect(page.locator("#outline")).to_contain_text("Andorra, Monaco, San Marino, Vatican City")
    expect(page.locator("#outline li.subtopic").first).to_contain_text("· 0 cards")
    _shot(page, "outline-after-reload")
    assert errors == []
