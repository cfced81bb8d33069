"""The Import page in Chromium: pick an Anki package, watch it import, see what arrived."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import make_settings
from tests.support import databases
from tests.support.anki import anki_deck_with_history
from tests.support.server import running_app
from tests.web.test_browser import TIMEOUT_MS, _no_horizontal_scroll, _shot, browser_context  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def import_site(sqlite_template, tmp_path) -> Iterator[str]:
    settings = make_settings(databases.sqlite_copy(sqlite_template, tmp_path))
    with running_app(settings) as (base_url, _app):
        yield base_url


def test_a_learner_imports_an_anki_deck_and_studies_it(import_site, browser_context, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    package, expected = anki_deck_with_history(tmp_path, basics=12, reversed_notes=2)
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    signup = page.request.post(
        f"{import_site}/api/v1/auth/signup",
        data={"email": "ada@example.com", "password": "correct horse battery"},
    )
    assert signup.status == 201
    page.goto(f"{import_site}/#/import")
    expect(page.get_by_role("heading", name="Import")).to_be_visible()
    expect(page.get_by_role("link", name="Import")).to_have_attribute("aria-current", "page")
    page.set_input_files("#import-file", str(package))
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-done")).to_be_visible(timeout=TIMEOUT_MS * 3)
    counts = page.locator("#import-counts")
    expect(counts).to_contain_text("Cards imported")
    expect(counts).to_contain_text(str(len(expected)))
    expect(counts).to_contain_text("Cloze notes (one card per deletion)")
    expect(counts).to_contain_text("Sounds and images in fields")
    _no_horizontal_scroll(page)
    _shot(page, "import-done")
    page.get_by_role("link", name="study topic 1").click()
    expect(page.locator("h1")).not_to_have_text("Import")
    page.get_by_role("button", name="Import").count()  # the page changed without errors

    bad = tmp_path / "broken.apkg"
    bad.write_bytes(b"not a zip at all")
    page.goto(f"{import_site}/#/import")
    page.set_input_files("#import-file", str(bad))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("alert")).to_contain_text("Not imported")
    _shot(page, "import-refused")
    assert errors == []
