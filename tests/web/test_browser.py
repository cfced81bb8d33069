"""The web app in a real browser (Debian's Chromium driven by Playwright), against the real app
and a scripted OpenAI-compatible LLM server that streams cards slowly, over real HTTP.

A learner signs up, creates a topic from the prompt box, watches the cards being generated
and studies with the keyboard; a second topic's generation fails and is retried; exports,
usage and statistics are visited. Screenshots land in test-output/screenshots/.
"""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from srs.llm.local import QWEN, notice_for
from tests.conftest import make_settings, missing
from tests.support import databases
from tests.support.llm_server import Reply, ScriptedLLMServer
from tests.support.server import running_app

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
TIMEOUT_MS = 20_000

CAPITALS = [
    ("What is the capital of France?", "Paris"),
    ("Which city is the capital of Spain?", "Madrid"),
    ("Name the capital city of Italy.", "Rome"),
    ("What is Portugal's capital?", "Lisbon"),
    ("Which city is Germany's seat of government?", "Berlin"),
    ("What is the capital of Austria?", "Vienna"),
    ("Which city is the capital of Hungary?", "Budapest"),
    ("What is the Czech Republic's capital?", "Prague"),
    ("Which city is Poland's capital?", "Warsaw"),
    ("What is the capital of Ireland?", "Dublin"),
]
ROME = [
    ("Who was the first Roman emperor?", "Augustus"),
    ("In which year was Julius Caesar assassinated?", "44 BC"),
    ("Which river flows through Rome?", "The Tiber"),
]


def _xml(cards: list[tuple[str, str]]) -> str:
    body = "".join(f"<card><front>{f}</front><back>{b}</back></card>\n" for f, b in cards)
    return f"<cards>\n{body}</cards>"


@pytest.fixture
def llm() -> Iterator[ScriptedLLMServer]:
    # Anything unscripted (the retry after the failure, a refill) gets the Rome cards.
    with ScriptedLLMServer(
        default=Reply(text=_xml(ROME), ttft=0.5, tokens_per_second=200)
    ) as server:
        yield server


@contextmanager
def _scripted_site(sqlite_template, tmp_path, llm, **overrides) -> Iterator[str]:
    """The real app on a fresh SQLite copy, writing cards with the scripted LLM server."""
    settings = make_settings(
        databases.sqlite_copy(sqlite_template, tmp_path),
        llm_provider="openai",
        llm_base_url=llm.base_url,
        llm_api_key="test",
        llm_model="scripted",
        **overrides,
    )
    with running_app(settings) as (base_url, _app):
        yield base_url


@pytest.fixture
def site(sqlite_template, tmp_path, llm) -> Iterator[str]:
    # SQLite only: the API tests run on both databases; the browser tests the page.
    # Each 500 fails one job attempt at once: the failure shows in ~6 s.
    with _scripted_site(sqlite_template, tmp_path, llm, llm_max_retries=0) as base_url:
        yield base_url


@pytest.fixture
def browser_context(tmp_path):
    if not CHROMIUM.exists():
        missing(f"Chromium: {CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh user data dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            accept_downloads=True,
            viewport={"width": 1100, "height": 860},
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _wait_until_generation_settles(page, site: str, topic_id: int) -> dict:
    deadline = time.monotonic() + 20
    while True:
        topic = page.request.get(f"{site}/api/v1/topics/{topic_id}").json()
        if topic["generation"]["status"] not in ("queued", "running"):
            return topic
        assert time.monotonic() < deadline, topic
        time.sleep(0.2)


def _no_horizontal_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width}px wide"


def test_learner_journey(site, llm, browser_context):
    from playwright.sync_api import expect

    started = time.monotonic()
    page = browser_context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Expected error statuses (401 before signing in, the 404 staged for usage) are
    # logged by Chromium as "Failed to load resource"; anything else is a bug in the app.
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    llm.script([Reply(text=_xml(CAPITALS), ttft=2.0, tokens_per_second=120)])

    # Sign up: not signed in, the app asks to log in; the form is used from the keyboard.
    page.goto(site + "/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email").fill("learner@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("heading", name="Your topics")).to_be_visible()
    expect(page.get_by_text("learner@example.com")).to_be_visible()

    # A topic from the prompt box takes the learner straight into studying it.
    prompt = page.get_by_label("What do you want to learn?")
    prompt.fill("Capitals of Europe")
    prompt.press("Enter")
    expect(page).to_have_url(re.compile(r"#/topics/\d+$"))
    topic_a = int(page.url.rsplit("/", 1)[1])
    page.evaluate("window.__sameDocument = true")

    # Generating first, then the first card arrives by itself: no reload.
    generating = page.locator("#generating")
    expect(generating).to_be_visible()
    # The heading gives an estimate once the provider's speed has been measured.
    expect(generating).to_contain_text(re.compile(r"Generating cards…|Next cards in about \d+"))
    expect(generating).to_contain_text("cards on the way")
    _shot(page, "study-generating")
    front = page.locator("#card-front")
    expect(front).to_have_text(CAPITALS[0][0])
    assert page.evaluate("window.__sameDocument") is True
    expect(page.locator("#level-line")).to_contain_text("Level 3/10")
    _shot(page, "study-front")

    # Space reveals; the rating buttons show the interval each would give.
    page.keyboard.press("Space")
    expect(page.locator("#card-back")).to_have_text(CAPITALS[0][1])
    expect(page.locator(".rate-1")).to_contain_text("1m")
    expect(page.locator(".rate-3")).to_contain_text("10m")
    _shot(page, "study-back")

    # 3 rates Good and the next card comes; u undoes it and the same card is back.
    page.keyboard.press("3")
    expect(front).to_have_text(CAPITALS[1][0])
    expect(page.locator(".flash")).to_contain_text("Good")
    page.keyboard.press("u")
    expect(front).to_have_text(CAPITALS[0][0])
    expect(page.locator(".flash")).to_contain_text("Undone")
    expect(page.locator("#card-back")).to_have_count(0)
    page.keyboard.press("Space")
    page.keyboard.press("4")
    expect(front).to_have_text(CAPITALS[1][0])

    # "Too easy" three times raises the level shown on the study screen.
    expect(page.locator("#recent-success")).to_contain_text("recent first-try success 100%")
    for _ in range(3):
        with page.expect_response(lambda r: r.url.endswith("/feedback")) as answer:
            page.get_by_role("button", name="Too easy").press("Enter")
        assert answer.value.status == 200, answer.value.text()
    level = int(page.locator("#level-value").inner_text())
    assert level > 3
    assert level == page.request.get(f"{site}/api/v1/topics/{topic_a}").json()["level"]
    expect(page.locator(".flash")).to_contain_text(f"The level is now {level}/10")

    # Flag the card with a reason, from the keyboard.
    page.locator("#card").focus()
    page.keyboard.press("f")
    reason = page.get_by_label("What is wrong with it?")
    expect(reason).to_be_focused()
    page.keyboard.type("Berlin is the capital, the question is oddly worded")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator(".flagged-note")).to_contain_text("oddly worded")
    listed = page.request.get(f"{site}/api/v1/topics/{topic_a}/cards").json()
    listed = listed["items"]
    [card] = [c for c in listed if c["flag_reason"]]  # a flagged card leaves the study queue
    assert card["flag_reason"] == "Berlin is the capital, the question is oddly worded"
    assert card["suspended"] is True

    # Exports: both downloads arrive with the cards in them (all ten, once the batch is done).
    _wait_until_generation_settles(page, site, topic_a)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export Capitals of Europe as CSV").click()
    download = download_info.value
    assert download.suggested_filename == "capitals-of-europe.csv"
    # Anki's header lines first (#separator:Comma, #columns:Front,Back,...), then one row a card.
    lines = Path(download.path()).read_text().splitlines()
    columns = next(line for line in lines if line.startswith("#columns:")).removeprefix("#columns:")
    rows = list(csv.DictReader(io.StringIO("\n".join(l for l in lines if not l.startswith("#"))),
                               fieldnames=columns.split(",")))
    assert [r["Front"] for r in rows] == [front for front, _ in CAPITALS]
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export Capitals of Europe as an Anki package").click()
    assert download_info.value.suggested_filename == "capitals-of-europe.apkg"
    with zipfile.ZipFile(download_info.value.path()) as package:
        assert "collection.anki2" in package.namelist()

    # A second topic whose generation fails: the error and a Retry button, then the retry works.
    llm.script([Reply(status=500, error_message="scripted outage")] * 3)
    page.get_by_role("link", name="Topics", exact=True).click()
    expect(page.get_by_role("link", name="Capitals of Europe", exact=True)).to_be_visible()
    _shot(page, "topics")
    prompt = page.get_by_label("What do you want to learn?")
    prompt.fill("Ancient Rome")
    prompt.press("Enter")
    failed = page.locator("#generation-failed")
    expect(failed).to_be_visible(timeout=30_000)
    expect(page.locator("#generation-error")).to_contain_text("scripted outage")
    retry = failed.get_by_role("button", name="Retry")
    expect(retry).to_be_focused()
    _shot(page, "study-failed")
    page.keyboard.press("Enter")
    expect(front).to_have_text(ROME[0][0])

    # The embedded model's cards come with the server's notice: how far to trust them, and
    # how to use a real model.
    def as_embedded(route):
        answer = route.fetch().json()
        if answer["card"]:
            answer["card"]["model"] = QWEN.name
            answer["card"]["model_notice"] = notice_for(QWEN.name)
        route.fulfill(json=answer)

    page.route("**/api/v1/topics/*/next*", as_embedded)
    page.reload()
    notice = page.locator(".model-notice")
    expect(notice).to_contain_text("small model running on this computer")
    expect(notice).to_contain_text("check the specifics before you learn them")
    expect(notice).to_contain_text("SRS_LLM_PROVIDER=openai")
    expect(notice).to_contain_text("SRS_LLM_MODEL")
    _shot(page, "study-embedded-notice")
    page.unroute("**/api/v1/topics/*/next*")

    # Usage: the numbers the server reports, and the upgrade path.
    page.get_by_role("link", name="Usage", exact=True).click()
    reported = page.request.get(site + "/api/v1/usage").json()
    pro = next(p for p in reported["plans"] if p["name"] == "pro")["cards_per_period"]
    expect(page.locator("#usage-plan")).to_have_text(reported["plan_title"])
    expect(page.locator("#usage-cards")).to_contain_text(f"of {reported['cards']['limit']:,}")
    expect(page.locator(".upgrade")).to_contain_text(f"Pro: {pro:,} cards a month")
    expect(page.get_by_role("button", name="Upgrade to Pro")).to_be_enabled()
    _shot(page, "usage")

    # A server without usage reporting gets an honest "unavailable", not made-up numbers.
    page.route(
        "**/api/v1/usage",
        lambda route: route.fulfill(
            status=404, json={"error": {"code": "not_found", "message": "Not Found"}}
        ),
    )
    page.reload()
    expect(page.locator("#usage-unavailable")).to_contain_text("Usage is unavailable")
    expect(page.locator("#usage-cards")).to_have_count(0)
    expect(page.get_by_role("button", name="Upgrade to Pro")).to_be_enabled()
    page.unroute("**/api/v1/usage")

    # Statistics: one answer kept (Good was undone, Easy stays), drawn as SVG charts.
    page.get_by_role("link", name="Statistics", exact=True).click()
    expect(page.locator("#total-reviews")).to_have_text("1")
    expect(page.locator("svg.chart")).to_have_count(3)
    expect(page.locator("#due-today")).to_have_text("0")
    _shot(page, "stats")

    # At 360 px wide everything still fits.
    page.set_viewport_size({"width": 360, "height": 780})
    page.wait_for_timeout(200)
    _no_horizontal_scroll(page)
    _shot(page, "stats-360")
    page.get_by_role("link", name="Topics", exact=True).click()
    expect(page.get_by_role("heading", name="Your topics")).to_be_visible()
    _no_horizontal_scroll(page)
    _shot(page, "topics-360")
    page.get_by_role("link", name="Capitals of Europe", exact=True).click()
    expect(front).to_be_visible()
    page.keyboard.press("Space")
    expect(page.locator("#card-back")).to_be_visible()
    _no_horizontal_scroll(page)
    _shot(page, "study-back-360")

    # Log out: the session is gone.
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert page.request.get(site + "/api/v1/me").status == 401

    assert errors == [], errors
    assert time.monotonic() - started < 90


def test_the_shell_needs_no_inline_script_or_style(site, browser_context):
    """The strict Content-Security-Policy blocks inline code: the app must not need any."""
    from playwright.sync_api import expect

    page = browser_context.new_page()
    violations: list[str] = []
    page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    response = page.goto(site + "/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.keyboard.press("Tab")  # from the heading, which has focus, to the first field
    expect(page.get_by_label("Email")).to_be_focused()
    page.locator(".skip-link").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Log in")).to_be_focused()
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    assert "style=" not in page.content()
    assert violations == []


@pytest.fixture
def quota_site(sqlite_template, tmp_path, llm) -> Iterator[str]:
    with _scripted_site(sqlite_template, tmp_path, llm, plan_free_cards=10) as base_url:
        yield base_url  # a free plan of exactly one batch


def test_a_free_learner_at_the_quota_sees_it_and_keeps_studying(quota_site, llm, browser_context):
    from playwright.sync_api import expect

    site = quota_site
    page = browser_context.new_page()
    llm.script([Reply(text=_xml(CAPITALS), tokens_per_second=400)])
    page.goto(site + "/#/signup")
    page.get_by_label("Email").fill("free@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_label("Password").press("Enter")
    prompt = page.get_by_label("What do you want to learn?")
    prompt.fill("Capitals of Europe")
    prompt.press("Enter")
    front = page.locator("#card-front")
    expect(front).to_have_text(CAPITALS[0][0])
    # The whole first batch is in before the learner answers, so the refill below is decided
    # by the quota alone.
    topic_id = int(page.url.rsplit("/", 1)[1])
    assert _wait_until_generation_settles(page, site, topic_id)["counts"]["ready"] == 10
    # Six answers leave four unseen cards: the refill is due, but the month's 10 cards are used.
    for index in range(6):
        expect(front).to_have_text(CAPITALS[index][0])
        page.keyboard.press("Space")
        page.keyboard.press("3")
    # Still studying the cards it has; the answer after the refusal carries the quota state.
    expect(front).to_have_text(CAPITALS[6][0])
    page.keyboard.press("Space")
    page.keyboard.press("3")
    expect(front).to_have_text(CAPITALS[7][0])
    banner = page.locator(".banner.warning")
    expect(banner).to_contain_text("Card quota reached", timeout=TIMEOUT_MS)
    expect(banner).to_contain_text("Free plan")
    expect(banner).to_contain_text("Existing cards can still be studied")
    _shot(page, "study-quota")
    assert len(llm.requests) == 1  # no LLM call past the quota
    page.goto(site + "/#/usage")
    expect(page.locator("#usage-cards")).to_contain_text("10")
