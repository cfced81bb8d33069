"""Settings, account and billing pages in a real browser (Debian's Chromium via Playwright),
against the real app over real HTTP; a real SMTP server (aiosmtpd) for the reset mail and a
local HTTP double of Stripe's API for checkout.
Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import create_engine, update

from srs.kit.db import normalize_url
from srs.kit.settings import Settings
from srs.topics.models import Card
from tests.conftest import make_settings, missing
from tests.support.server import running_app
from tests.support.smtp_server import SmtpServer, reset_link
from tests.support.stripe_server import StripeDouble
from tests.web.test_browser import _shot

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
NEW_PASSWORD = "staple gun 42 orbit"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "mo": 30 * 86400, "y": 365 * 86400}


class Site:
    def __init__(self, base_url: str, database_url: str, settings: Settings, app) -> None:
        self.url = base_url
        self.database_url = database_url
        self.settings = settings
        self.app = app

    def api(self, email: str) -> httpx.Client:
        """A signed-up API client (bearer token) for seeding what a test needs."""
        client = httpx.Client(base_url=self.url + "/api/v1", timeout=30)
        signup = client.post("/auth/signup", json={"email": email, "password": PASSWORD})
        assert signup.status_code == 201, signup.text
        client.headers["Authorization"] = "Bearer " + signup.json()["token"]
        client.cookies.clear()
        return client

    def update_card(self, card_id: int, **values) -> None:
        engine = create_engine(normalize_url(self.database_url))
        with engine.begin() as conn:
            conn.execute(update(Card).where(Card.id == card_id).values(**values))
        engine.dispose()


@contextmanager
def _site(database_url: str, **overrides) -> Iterator[Site]:
    settings = make_settings(database_url, **overrides)
    with running_app(settings) as (base_url, app):
        yield Site(base_url, database_url, settings, app)


@pytest.fixture
def site(database_url) -> Iterator[Site]:
    with _site(database_url) as running:
        yield running


def _page(browser_context):
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    return page, errors


def _sign_up(page, site: Site, email: str) -> None:
    from playwright.sync_api import expect

    page.goto(site.url + "/#/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("heading", name="Your topics")).to_be_visible()


def _log_in(page, site: Site, email: str, password: str) -> None:
    page.goto(site.url + "/#/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def _open_settings(page) -> None:
    from playwright.sync_api import expect

    page.get_by_role("link", name="Settings", exact=True).click()
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    expect(page.locator("#settings-zone")).to_be_visible()


def _seconds(text: str) -> float:
    """'12d' -> seconds, as the rating buttons write intervals."""
    number, unit = re.fullmatch(r"([\d.]+)(mo|[smhdy])", text.strip()).groups()
    return float(number) * _UNITS[unit]


def _zone_at_local_hour(hour: int, now: datetime) -> str:
    """A fixed-offset zone where the local time is now `hour` o'clock (Etc/GMT-5 is UTC+5)."""
    for offset in range(-12, 15):
        if (now.hour + offset) % 24 == hour:
            return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"
    raise AssertionError("no such zone")


def test_time_zone_and_retention_move_the_next_due_date(site, browser_context):
    from playwright.sync_api import expect

    # A learner with two review cards: one due now, one due in two hours.
    api = site.api("zone@example.com")
    topic = api.post("/topics", json={"prompt": "Capitals"}).json()
    now = datetime.now(timezone.utc)
    due_now, due_later = (
        api.post(f"/topics/{topic['id']}/cards", json={"front": f, "back": b}).json()
        for f, b in (("Capital of France?", "Paris"), ("Capital of Spain?", "Madrid"))
    )
    for card, due in ((due_now, now - timedelta(hours=1)), (due_later, now + timedelta(hours=2))):
        site.update_card(
            card["id"],
            state=2,
            step=None,
            stability=20.0,
            difficulty=5.0,
            reps=3,
            last_review=now - timedelta(days=20),
            due=due,
        )
    # Where it is now noon, the later card is due today; where it is 22:xx, tomorrow.
    noon, late = _zone_at_local_hour(12, now), _zone_at_local_hour(22, now)
    assert (now + timedelta(hours=2)).astimezone(ZoneInfo(late)).date() > now.astimezone(
        ZoneInfo(late)
    ).date()

    page, errors = _page(browser_context)
    _log_in(page, site, "zone@example.com", PASSWORD)
    expect(page.get_by_role("heading", name="Your topics")).to_be_visible()

    def choose(zone: str | None = None, retention: int | None = None) -> None:
        _open_settings(page)
        if zone:
            page.get_by_label("Time zone").select_option(zone)
        if retention:
            page.get_by_label("Desired retention (%)").fill(str(retention))
        page.get_by_role("button", name="Save settings").click()
        expect(page.locator("#settings-saved")).to_contain_text("Saved")

    def due_today() -> str:
        page.get_by_role("link", name="Statistics", exact=True).click()
        expect(page.locator("#due-today")).to_be_visible()
        return page.locator("#due-today").inner_text()

    choose(zone=noon)
    assert due_today() == "2"
    _shot(page, "settings-due-today-noon")
    choose(zone=late)
    expect(page.get_by_label("Time zone")).to_have_value(late)
    assert due_today() == "1"  # midnight comes before the second card: it moved to tomorrow
    assert api.get("/me").json()["timezone"] == late

    def good_interval() -> float:
        page.goto(f"{site.url}/#/topics/{topic['id']}")
        expect(page.locator("#card-front")).to_have_text("Capital of France?")
        page.keyboard.press("Space")
        expect(page.locator(".rate-3 .rate-interval")).not_to_be_empty()
        return _seconds(page.locator(".rate-3 .rate-interval").inner_text())

    at_90 = good_interval()
    choose(retention=97)
    _shot(page, "settings")
    at_97 = good_interval()
    choose(retention=70)
    at_70 = good_interval()
    assert at_97 < at_90 < at_70, (at_97, at_90, at_70)
    assert at_97 < 0.5 * at_90  # a clear move, not rounding

    # Answering Good at 70% schedules the card that far out.
    with page.expect_response(lambda r: "/review" in r.url) as answer:
        page.keyboard.press("3")
    assert answer.value.status == 200
    answered = api.get(f"/cards/{due_now['id']}").json()
    wait = (datetime.fromisoformat(answered["due"]) - datetime.now(timezone.utc)).total_seconds()
    assert abs(wait - at_70) < 0.1 * at_70
    assert api.get("/me").json()["desired_retention"] == 0.70
    assert errors == []


def test_change_password_then_log_in_with_the_new_one(site, browser_context):
    from playwright.sync_api import expect

    page, errors = _page(browser_context)
    page.goto(site.url + "/")
    # No mail server on this site: the log-in page says reset is unavailable, up front.
    expect(page.locator("#reset-line")).to_contain_text("Password reset is unavailable")
    _sign_up(page, site, "pw@example.com")
    _open_settings(page)

    page.get_by_label("Current password").fill("not my password")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#settings-password .error")).to_contain_text(
        "current password is not right"
    )
    expect(page.get_by_label("Current password")).to_be_focused()

    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#password-changed")).to_contain_text("Password changed")
    _shot(page, "settings-password-changed")
    page.get_by_role("link", name="Topics", exact=True).click()  # still signed in
    expect(page.get_by_role("heading", name="Your topics")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    _log_in(page, site, "pw@example.com", PASSWORD)
    expect(page.locator(".error")).to_contain_text("Wrong email or password")
    _log_in(page, site, "pw@example.com", NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Your topics")).to_be_visible()
    assert errors == []


def test_sign_out_everywhere_ends_this_session_too(site, browser_context):
    from playwright.sync_api import expect

    page, errors = _page(browser_context)
    _sign_up(page, site, "everywhere@example.com")
    other = httpx.post(
        f"{site.url}/api/v1/auth/login",
        json={"email": "everywhere@example.com", "password": PASSWORD},
    ).json()["token"]
    _open_settings(page)
    page.get_by_role("button", name="Sign out everywhere").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.locator("#auth-notice")).to_contain_text("signed out on every device")
    page.goto(site.url + "/#/settings")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert (
        httpx.get(f"{site.url}/api/v1/me", headers={"Authorization": f"Bearer {other}"}).status_code
        == 401
    )
    assert errors == []


def test_download_my_data_then_delete_the_account(site, browser_context):
    from playwright.sync_api import expect

    page, errors = _page(browser_context)
    _sign_up(page, site, "gone@example.com")
    prompt = page.get_by_label("What do you want to learn?")
    prompt.fill("Birds of Europe")
    prompt.press("Enter")
    expect(page).to_have_url(re.compile(r"#/topics/\d+$"))
    _open_settings(page)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download all my data").click()
    download = download_info.value
    assert re.fullmatch(r"srs-export-\d{4}-\d{2}-\d{2}\.json", download.suggested_filename)
    data = json.loads(Path(download.path()).read_text())
    assert data["user"]["email"] == "gone@example.com"
    assert [t["prompt"] for t in data["topics"]] == ["Birds of Europe"]

    delete = page.locator("#settings-delete")
    delete.get_by_label("Your password, to confirm").fill("not my password")
    delete.get_by_role("button", name="Delete my account").click()
    expect(delete.locator(".error")).to_contain_text("nothing was deleted")
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()

    delete.get_by_label("Your password, to confirm").fill(PASSWORD)
    _shot(page, "settings-delete")
    delete.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.locator("#auth-notice")).to_contain_text(
        "Your account and all its data were deleted"
    )
    expect(page.locator("#nav")).to_be_hidden()

    _log_in(page, site, "gone@example.com", PASSWORD)
    expect(page.locator(".error")).to_contain_text("Wrong email or password")
    assert errors == []


def test_sign_up_with_a_zone_the_server_refuses_says_so_and_leads_to_settings(
    site, browser_context
):
    from playwright.sync_api import expect

    page, errors = _page(browser_context)
    # The browser reports a zone this server's tz database does not have.
    page.add_init_script(
        """
        const original = Intl.DateTimeFormat.prototype.resolvedOptions;
        Intl.DateTimeFormat.prototype.resolvedOptions = function () {
          return { ...original.call(this), timeZone: 'Mars/Olympus_Mons' };
        };
        """
    )
    page.goto(site.url + "/#/signup")
    page.get_by_label("Email").fill("mars@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")

    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    notice = page.locator("#settings-notice")
    expect(notice).to_contain_text("Mars/Olympus_Mons")
    expect(notice).to_contain_text("uses UTC")
    expect(page.get_by_label("Time zone")).to_have_value("UTC")
    expect(page.locator("#zone-proposal")).to_contain_text("does not know")
    _shot(page, "settings-zone-refused")

    page.get_by_label("Time zone").select_option("Europe/Lisbon")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#settings-saved")).to_contain_text("Saved")
    me = page.request.get(site.url + "/api/v1/me").json()
    assert me["timezone"] == "Europe/Lisbon"
    assert errors == []


def test_browser_zone_is_proposed_in_settings(database_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        missing(f"Chromium: {CHROMIUM} is missing (apt-get install chromium)")
    with _site(database_url) as site, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            timezone_id="Pacific/Auckland",
        )
        try:
            page = context.new_page()
            site.api("kiwi@example.com").patch("/me", json={"timezone": "UTC"})
            _log_in(page, site, "kiwi@example.com", PASSWORD)
            expect(page.get_by_role("heading", name="Your topics")).to_be_visible()
            _open_settings(page)
            expect(page.get_by_label("Time zone")).to_have_value("UTC")
            page.get_by_role("button", name="Use Pacific/Auckland").click()
            expect(page.get_by_label("Time zone")).to_have_value("Pacific/Auckland")
            page.get_by_role("button", name="Save settings").click()
            expect(page.locator("#settings-saved")).to_contain_text("Saved")
            assert (
                page.request.get(site.url + "/api/v1/me").json()["timezone"] == "Pacific/Auckland"
            )
        finally:
            context.close()


def test_password_reset_by_email_in_the_browser(database_url, browser_context):
    from playwright.sync_api import expect

    with SmtpServer() as smtp, _site(database_url, smtp_url=smtp.url) as site:
        # Links must point at this server, whose port is only known once it listens.
        site.settings.public_url = site.url
        site.api("forgot@example.com")
        page, errors = _page(browser_context)
        page.goto(site.url + "/#/login")
        page.get_by_role("link", name="Forgot your password?").click()
        page.get_by_label("Email of your account").fill("forgot@example.com")
        page.get_by_role("button", name="Send a reset link").click()
        expect(page.locator("#reset-sent")).to_contain_text("is on its way")

        link = reset_link(smtp.wait_for_message())
        assert link.startswith(site.url + "/#/reset/")
        page.goto(link)
        page.get_by_label("New password").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Set the new password").click()
        expect(page.locator("#auth-notice")).to_contain_text("Your password is changed")
        _log_in(page, site, "forgot@example.com", NEW_PASSWORD)
        expect(page.get_by_role("heading", name="Your topics")).to_be_visible()

        # The link works once.
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        page.goto(link)
        page.get_by_label("New password").fill("yet another password 9")
        page.get_by_role("button", name="Set the new password").click()
        expect(page.locator(".error")).to_contain_text("already used")
        expect(page.get_by_role("link", name="Ask for a new link")).to_be_visible()
        assert errors == []


# -- billing ---------------------------------------------------------------------------------


def test_upgrade_reaches_checkout_on_a_local_stripe_double(database_url, browser_context):
    from playwright.sync_api import expect

    with (
        StripeDouble() as stripe,
        _site(
            database_url,
            stripe_api_key="sk_test_double",
            stripe_price_pro="price_pro_test",
            stripe_api_base=stripe.base_url,
        ) as site,
    ):
        page, errors = _page(browser_context)
        _sign_up(page, site, "buyer@example.com")
        user_id = page.request.get(site.url + "/api/v1/me").json()["id"]
        page.get_by_role("link", name="Usage", exact=True).click()
        page.get_by_role("button", name="Upgrade to Pro").click()

        expect(page).to_have_url(f"{stripe.base_url}/checkout/cs_test_1")
        expect(page.get_by_role("heading")).to_contain_text("Checkout cs_test_1")
        created = [r for r in stripe.requests if r.path == "/v1/checkout/sessions"]
        assert len(created) == 1
        assert created[0].headers["authorization"] == "Bearer sk_test_double"
        assert created[0].form.get("client_reference_id") == str(user_id)
        assert "price_pro_test" in created[0].form.values()
        assert errors == []


def test_billing_buttons_say_billing_is_not_configured(site, browser_context):
    from playwright.sync_api import expect

    page, errors = _page(browser_context)
    _sign_up(page, site, "nobilling@example.com")
    page.get_by_role("link", name="Usage", exact=True).click()
    upgrade = page.locator("#upgrade")
    upgrade.click()
    expect(upgrade).to_be_disabled()
    expect(upgrade).to_contain_text("billing is not configured")
    expect(page.locator("#billing-not-configured")).to_contain_text("cannot take payments")
    expect(page.locator("#billing-not-configured")).to_contain_text(
        "srs plans set nobilling@example.com pro"
    )
    # The refund rule and this period's refunds, as /usage reports them.
    refunds = page.request.get(site.url + "/api/v1/usage").json()["refunds"]
    expect(page.locator("#usage-refunds")).to_have_text(
        f"{refunds['used']} of {refunds['limit']} refunds used this period."
    )
    expect(page.locator("#refunds")).to_contain_text(refunds["rule"])
    _shot(page, "usage-billing-not-configured")
    assert errors == []
