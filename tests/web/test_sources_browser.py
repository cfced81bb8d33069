"""A topic made from the learner's own text, in a real browser: its card says where it comes
from ("from: Northern Europe"), one click shows the passage with the quoted words marked, the
Sources panel lists the source, takes another one and deletes one (after asking); a grounded
cloze card says where it comes from too."""

from __future__ import annotations

import pytest

from tests.sources.conftest import FACT, batch_passages, faithful_reply
from tests.support.llm_server import Reply
from tests.web.test_browser import _shot, browser_context, llm, site  # noqa: F401

pytestmark = pytest.mark.browser

TEXT = (
    "# Northern Europe\n\nThe capital of Norway is Oslo.\n\n"
    "# Southern Europe\n\nThe capital of Malta is Valletta.\n"
)


def test_a_grounded_card_shows_its_passage_one_click_away(site, llm, browser_context):  # noqa: F811
    from playwright.sync_api import expect

    llm.responder = faithful_reply
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(site + "/#/signup")
    page.get_by_label("Email").fill("reader@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_label("Password").press("Enter")
    page.wait_for_url("**/#/topics**")
    csrf = next(c["value"] for c in browser_context.cookies() if c["name"] == "srs_csrf")
    made = page.request.post(
        f"{site}/api/v1/sources", data={"text": TEXT}, headers={"X-CSRF-Token": csrf}
    )
    assert made.status == 202, made.text()
    page.goto(f"{site}/#/topics/{made.json()['topic_id']}")

    expect(page.locator("#card-front")).to_have_text("What is the capital of Norway?")
    link = page.locator("#source-link")
    expect(link).to_have_text("Northern Europe")
    expect(page.locator(".card-source")).to_contain_text("from: Northern Europe")
    link.click()
    expect(page.locator("#passage mark")).to_have_text("The capital of Norway is Oslo.")
    expect(page.locator("#passage")).to_contain_text("Northern Europe")
    expect(link).to_have_attribute("aria-expanded", "true")

    sources = page.locator("#sources")
    sources.locator("summary").click()
    expect(page.locator("#source-list li").first).to_contain_text("ready")
    page.locator("#source-text").fill("The capital of Latvia is Riga.")
    page.get_by_role("button", name="Add source").click()
    expect(page.locator("#source-list li")).to_have_count(2)
    expect(page.locator("#source-list li").nth(1)).to_contain_text("ready", timeout=20_000)
    _shot(page, "source-passage")

    # Deleting a source asks first; its cards stay, without their "from:" line.
    page.locator("#source-list li").first.locator(".source-delete").click()
    expect(page.locator("#source-list")).to_contain_text("Cards written from it stay")
    page.get_by_role("button", name="Yes, delete").click()
    expect(page.locator("#source-list li")).to_have_count(1)
    expect(page.locator("#source-list li")).to_contain_text("Latvia")
    link.click()  # closes the passage shown earlier; opening it again finds it gone
    link.click()
    expect(page.locator("#passage-gone")).to_contain_text("source has been deleted")
    page.reload()
    expect(page.locator("#card-front")).to_have_text("What is the capital of Norway?")
    expect(page.locator(".card-source")).to_have_count(0)

    # The usage page shows the sources' size against the plan, the deleted one still counted.
    used = page.request.get(f"{site}/api/v1/usage").json()["sources"]
    assert used["bytes_used"] == len(TEXT.encode()) + len(b"The capital of Latvia is Riga.")
    page.goto(site + "/#/usage")
    expect(page.locator("#usage-source-bytes")).to_have_text(f"{used['bytes_used']} bytes of 50 MB")
    expect(page.locator("#usage-source-pages")).to_contain_text("0 of 300")
    assert errors == []


def _cloze_reply(request):
    cards = [
        f'<card type="cloze"><text>The capital of {{{{c1::{found[1]}}}}} is {found[2]}.</text>'
        f"<passage>{passage_id}</passage><quote>{found[0]}</quote></card>\n"
        for passage_id, _label, text in batch_passages(request)
        if (found := FACT.search(text))
    ]
    return Reply(text="<cards>\n" + "".join(cards) + "</cards>\n", chunk_chars=16)


def test_a_grounded_cloze_card_shows_where_it_comes_from(site, llm, browser_context):  # noqa: F811
    from playwright.sync_api import expect

    llm.responder = _cloze_reply
    page = browser_context.new_page()
    page.goto(site + "/#/signup")
    page.get_by_label("Email").fill("cloze-reader@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_label("Password").press("Enter")
    page.wait_for_url("**/#/topics**")
    csrf = next(c["value"] for c in browser_context.cookies() if c["name"] == "srs_csrf")
    made = page.request.post(
        f"{site}/api/v1/sources", data={"text": TEXT}, headers={"X-CSRF-Token": csrf}
    )
    assert made.status == 202, made.text()
    page.goto(f"{site}/#/topics/{made.json()['topic_id']}")

    expect(page.locator("#card-front")).to_contain_text("The capital of")
    expect(page.locator("#card-front")).to_contain_text("is Oslo.")
    expect(page.locator(".card-source")).to_contain_text("from: Northern Europe")
    page.locator("#source-link").click()
    expect(page.locator("#passage mark")).to_have_text("The capital of Norway is Oslo.")
