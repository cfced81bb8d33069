"""The learner's library in a real browser (Debian's Chromium via Playwright): managing topics
(rename, archive, delete) and the card browser (search, state filter, paging, inline edit,
add, bulk suspend), and the study screen's resent answers and generation estimate.

The browser is test_browser.py's (see conftest.py); the app runs without an LLM, so every card
is one the test wrote.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.conftest import make_settings
from tests.support import databases
from tests.support.server import running_app
from tests.web.test_browser import TIMEOUT_MS, _no_horizontal_scroll, _shot

pytestmark = pytest.mark.browser
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture
def library_site(sqlite_template, tmp_path) -> Iterator[str]:
    # No LLM: every card here is written by hand, so the lists hold exactly what the test adds.
    settings = make_settings(databases.sqlite_copy(sqlite_template, tmp_path))
    with running_app(settings) as (base_url, _app):
        yield base_url


class Learner:
    """A signed-up learner's page, with the API calls its cookie session may make."""

    def __init__(self, browser_context, site: str, email: str) -> None:
        from playwright.sync_api import expect

        self.site = site
        self.page = browser_context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(site + "/#/signup")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill("correct horse battery")
        self.page.get_by_label("Password").press("Enter")
        expect(self.page.get_by_role("heading", name="Your topics")).to_be_visible()

    def _csrf(self) -> str:
        return next(c["value"] for c in self.page.context.cookies() if c["name"] == "srs_csrf")

    def get(self, path: str, **params) -> dict:
        response = self.page.request.get(f"{self.site}/api/v1{path}", params=params or None)
        assert response.ok, response.text()
        return response.json()

    def post(self, path: str, body: dict | None = None) -> dict:
        response = self.page.request.post(
            f"{self.site}/api/v1{path}",
            data=json.dumps(body) if body is not None else None,
            headers={"X-CSRF-Token": self._csrf(), "Content-Type": "application/json"},
        )
        assert response.ok, response.text()
        return response.json()

    def topic(self, prompt: str) -> int:
        return self.post("/topics", {"prompt": prompt})["id"]


def test_rename_archive_and_delete_topics(library_site, browser_context):
    from playwright.sync_api import expect

    learner = Learner(browser_context, library_site, "tidy@example.com")
    page = learner.page
    ids = {name: learner.topic(name) for name in ("Alpha topic", "Beta topic", "Gamma topic")}
    page.reload()
    expect(page.get_by_role("link", name="Gamma topic", exact=True)).to_be_visible()

    # Rename from the topic's "Manage" panel, from the keyboard.
    page.get_by_text("Manage Alpha topic").click()
    name = page.locator(f"#rename-{ids['Alpha topic']}")
    name.fill("Renamed topic")
    name.press("Enter")
    expect(page.get_by_role("link", name="Renamed topic", exact=True)).to_be_visible()
    assert learner.get(f"/topics/{ids['Alpha topic']}")["title"] == "Renamed topic"
    _shot(page, "topics-manage")

    # The free plan's three topics are in use: a fourth is refused, with what to do about it.
    prompt = page.get_by_label("What do you want to learn?")
    prompt.fill("Delta topic")
    prompt.press("Enter")
    expect(page.locator(".new-topic .error")).to_contain_text("archive or delete one")

    # Archiving keeps the topic (under "Archived topics") and frees the slot.
    page.get_by_text("Manage Beta topic").click()
    page.locator(f"#archive-{ids['Beta topic']}").click()
    archived = page.locator(".archived-topics")
    expect(archived.get_by_role("heading", name="Archived topics (1)")).to_be_visible()
    expect(archived.get_by_role("link", name="Beta topic", exact=True)).to_be_visible()
    expect(archived).to_contain_text("archived")
    assert learner.get(f"/topics/{ids['Beta topic']}")["archived"] is True
    prompt.fill("Delta topic")
    prompt.press("Enter")
    expect(page).to_have_url(re.compile(r"#/topics/\d+$"))
    page.get_by_role("link", name="Topics", exact=True).click()

    # Unarchiving it now would exceed the limit: said plainly, and nothing changes.
    page.get_by_text("Manage Beta topic").click()
    page.locator(f"#unarchive-{ids['Beta topic']}").click()
    expect(archived.locator(".manage-errors")).to_contain_text("make “Beta topic” active again")
    assert learner.get(f"/topics/{ids['Beta topic']}")["archived"] is True

    # Deleting asks first; Cancel keeps it, confirming deletes it.
    page.get_by_text("Manage Gamma topic").click()
    page.locator(f"#delete-{ids['Gamma topic']}").click()
    confirm = page.locator(".confirm")
    expect(confirm).to_contain_text("Delete “Gamma topic”?")
    expect(confirm).to_contain_text("cannot be undone")
    confirm.get_by_role("button", name="Cancel").click()
    expect(page.locator(".confirm")).to_have_count(0)
    assert page.request.get(f"{library_site}/api/v1/topics/{ids['Gamma topic']}").ok
    page.locator(f"#delete-{ids['Gamma topic']}").click()
    page.get_by_role("button", name="Yes, delete “Gamma topic”").click()
    expect(page.get_by_role("link", name="Gamma topic", exact=True)).to_have_count(0)
    assert page.request.get(f"{library_site}/api/v1/topics/{ids['Gamma topic']}").status == 404

    # Other screens list every topic through the paginated list too.
    page.get_by_role("link", name="Statistics", exact=True).click()
    expect(page.locator("#stats-topic option")).to_have_text(
        ["All topics", "Delta topic", "Beta topic", "Renamed topic"]
    )
    page.get_by_role("link", name="Topics", exact=True).click()

    page.set_viewport_size({"width": 360, "height": 780})
    page.get_by_text("Manage Renamed topic").click()
    _no_horizontal_scroll(page)
    _shot(page, "topics-manage-360")
    assert learner.errors == []


def test_find_a_suspended_card_by_search_and_bulk_suspend(library_site, browser_context):
    from playwright.sync_api import expect

    learner = Learner(browser_context, library_site, "finder@example.com")
    page = learner.page
    topic = learner.topic("Geography")
    for i in range(52):
        learner.post(f"/topics/{topic}/cards", {"front": f"Filler question {i:02d}?", "back": "x"})
    for country, city in [("France", "Paris"), ("Spain", "Madrid"), ("Italy", "Rome")]:
        learner.post(f"/topics/{topic}/cards", {"front": f"Capital of {country}?", "back": city})

    # Suspended while studying; the flash that offered "Unsuspend" is gone after the next answer.
    page.goto(f"{library_site}/#/topics/{topic}")
    front = page.locator("#card-front")
    expect(front).to_have_text("Filler question 00?")
    page.get_by_role("button", name="Suspend").click()
    expect(front).to_have_text("Filler question 01?")
    page.keyboard.press("Space")
    page.keyboard.press("3")
    expect(page.locator(".flash")).not_to_contain_text("Unsuspend")

    # The card browser finds it again: search and the "Suspended" filter.
    page.get_by_role("link", name="Cards", exact=True).click()
    expect(page.get_by_role("heading", name="All cards")).to_be_visible()
    expect(page.locator("#cards-status")).to_contain_text("Showing 50 cards (more below)")
    page.get_by_label("Search").fill("QUESTION 00")
    page.get_by_label("State").select_option("suspended")
    rows = page.locator("#card-list li")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Filler question 00?")
    expect(rows.first.locator(".badge-suspended")).to_be_visible()
    _shot(page, "cards-suspended")
    rows.first.get_by_role("button", name="Unsuspend “Filler question 00?”").click()
    expect(rows.first.locator(".badge-suspended")).to_have_count(0)
    expect(rows.first.get_by_role("button", name="Suspend “Filler question 00?”")).to_be_focused()
    suspended = learner.get("/cards", state="suspended")["items"]
    assert suspended == []

    # The topic's own cards: "Load more" pages on; then inline edit and add.
    page.goto(f"{library_site}/#/topics/{topic}/cards")
    expect(page.get_by_role("heading", name="Cards: Geography")).to_be_visible()
    expect(rows).to_have_count(50)
    page.get_by_role("button", name="Load more").click()
    expect(rows).to_have_count(55)
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    page.keyboard.press("/")
    expect(page.get_by_label("Search")).to_be_focused()
    page.get_by_label("Search").fill("capital of")
    expect(rows).to_have_count(3)
    rows.first.get_by_role("button", name="Edit “Capital of France?”").click()
    editing = page.locator("li.editing")
    expect(editing.get_by_label("Front (question)")).to_be_focused()
    back = editing.get_by_label("Back (answer)")
    back.fill("Paris (on the Seine)")
    back.press("Tab")
    page.keyboard.press("Enter")  # on "Save"
    expect(rows.first).to_contain_text("Paris (on the Seine)")
    page.get_by_text("Add a card").click()
    page.locator("#add-front").fill("Capital of Portugal?")
    page.locator("#add-back").fill("Lisbon")
    page.get_by_role("button", name="Add card").click()
    expect(rows).to_have_count(4)

    # Bulk: select all shown, suspend them at once.
    page.get_by_label("Select all shown").check()
    expect(page.locator("#selected-count")).to_have_text("4 selected")
    page.get_by_role("button", name="Suspend selected", exact=True).click()
    expect(page.locator(".alerts")).to_contain_text("Suspended 4 cards")
    expect(page.locator("#card-list .badge-suspended")).to_have_count(4)
    fronts = sorted(c["front"] for c in learner.get("/cards", state="suspended")["items"])
    assert fronts == sorted(f"Capital of {c}?" for c in ("France", "Spain", "Italy", "Portugal"))
    page.get_by_label("Search").fill("")
    page.get_by_label("State").select_option("suspended")
    expect(rows).to_have_count(4)

    # Bulk delete asks first.
    page.get_by_label("Select all shown").check()
    page.get_by_role("button", name="Delete selected…").click()
    page.get_by_role("button", name="Delete 4 cards").click()
    expect(rows).to_have_count(0)
    expect(page.locator("#cards-status")).to_have_text("No cards match.")
    assert learner.get("/cards", state="suspended")["items"] == []

    page.set_viewport_size({"width": 360, "height": 780})
    page.get_by_label("State").select_option("")
    expect(rows).to_have_count(50)
    _no_horizontal_scroll(page)
    _shot(page, "cards-360")
    assert learner.errors == []


def test_a_failed_answer_is_resent_with_the_same_review_id(library_site, browser_context):
    from playwright.sync_api import expect

    learner = Learner(browser_context, library_site, "flaky@example.com")
    page = learner.page
    topic = learner.topic("Chemistry")
    learner.post(f"/topics/{topic}/cards", {"front": "Symbol for gold?", "back": "Au"})
    learner.post(f"/topics/{topic}/cards", {"front": "Symbol for iron?", "back": "Fe"})
    sent: list[dict] = []

    def first_fails(route):
        sent.append(json.loads(route.request.post_data))
        if len(sent) == 1:
            route.fulfill(status=503, json={"error": {"code": "unavailable", "message": "busy"}})
        else:
            route.continue_()

    page.route("**/api/v1/cards/*/review*", first_fails)
    page.goto(f"{library_site}/#/topics/{topic}")
    expect(page.locator("#card-front")).to_have_text("Symbol for gold?")
    page.keyboard.press("Space")
    page.keyboard.press("3")
    expect(page.locator("#card-front")).to_have_text("Symbol for iron?")
    assert len(sent) == 2 and sent[0] == sent[1]
    assert UUID.match(sent[0]["review_id"]) and sent[0]["rating"] == 3
    page.keyboard.press("Space")
    page.keyboard.press("3")
    expect(page.locator("#card")).to_have_count(0)  # both answered: none is due
    assert len(sent) == 3 and sent[2]["review_id"] != sent[0]["review_id"]
    page.unroute("**/api/v1/cards/*/review*")
    assert len(learner.get(f"/topics/{topic}/cards", state="learning")["items"]) == 2

    # While the next batch is being written, the screen says when to expect it.
    writing = {
        "card": None,
        "counts": {"new": 0, "learning": 0, "review": 0, "ready": 0},
        "generation": {"status": "running", "error": None, "cards_in_flight": 4, "eta_seconds": 42},
        "next_due": None,
        "new_limit_reached": False,
    }
    page.route("**/api/v1/topics/*/next*", lambda route: route.fulfill(json=writing))
    page.reload()
    expect(page.locator("#generation-eta")).to_have_text("Next cards in about 40 s")
    expect(page.locator("#generating")).to_contain_text("4 cards on the way")
    del writing["generation"]["eta_seconds"]  # without an estimate: the usual message
    page.reload()
    expect(page.locator("#generating h2")).to_have_text("Generating cards…")
    assert learner.errors == []
    page.close()
