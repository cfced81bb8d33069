"""Password reset by email against a real SMTP server (aiosmtpd on 127.0.0.1): the mail
arrives, its link resets the password once, a second use and an expired link fail, nobody
learns which emails have accounts, and without a mail server the service says so."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import create_engine, update

from srs.accounts.mail import SmtpServer as SmtpConfig
from srs.accounts.mail import parse_smtp_url
from srs.accounts.models import PasswordResetToken
from srs.kit.db import normalize_url, utcnow
from tests.conftest import make_settings
from tests.support.server import free_port, running_app
from tests.support.smtp_server import SmtpServer, reset_link, reset_token

PASSWORD = "correct horse battery"
NEW_PASSWORD = "staple gun 42 orbit"
PUBLIC_URL = "https://srs.example.org"


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def settings(database_url, smtp):
    return make_settings(
        database_url,
        smtp_url=smtp.url,
        smtp_from="srs <help@srs.example.org>",
        public_url=PUBLIC_URL,
    )


def _login(api_factory, password: str) -> int:
    return (
        api_factory()
        .post("/auth/login", json={"email": "ada@example.com", "password": password})
        .status_code
    )


def _confirm(client, token: str, password: str = NEW_PASSWORD) -> httpx.Response:
    return client.post(
        "/auth/password-reset/confirm", json={"token": token, "new_password": password}
    )


def test_the_emailed_link_resets_the_password_once(api, api_factory, smtp):
    anonymous = api_factory()
    assert anonymous.get("/auth/password-reset").json() == {"available": True}
    asked = anonymous.post("/auth/password-reset", json={"email": "ADA@example.com "})
    assert asked.status_code == 202, asked.text

    message = smtp.wait_for_message()
    assert message["To"] == "ada@example.com"
    assert message["From"] == "srs <help@srs.example.org>"
    assert "Reset your srs password" in message["Subject"]
    assert reset_link(message).startswith(f"{PUBLIC_URL}/#/reset/rst_")
    assert "60 minutes" in message.get_content()
    token = reset_token(message)

    assert _confirm(anonymous, token, "short").status_code == 422  # a weak one is refused...
    assert _login(api_factory, PASSWORD) == 200  # ...and leaves everything as it was
    assert _confirm(anonymous, token).status_code == 204
    assert _login(api_factory, NEW_PASSWORD) == 200
    assert _login(api_factory, PASSWORD) == 401
    assert api.get("/me").status_code == 401  # every session was signed out

    again = _confirm(anonymous, token, "yet another password 9")
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "reset_token_invalid"
    assert "already used" in again.json()["error"]["message"]
    assert _login(api_factory, NEW_PASSWORD) == 200


def test_an_expired_or_made_up_link_fails(api, api_factory, smtp, database_url):
    api_factory().post("/auth/password-reset", json={"email": "ada@example.com"})
    token = reset_token(smtp.wait_for_message())
    engine = create_engine(normalize_url(database_url))
    with engine.begin() as conn:
        conn.execute(update(PasswordResetToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    engine.dispose()
    expired = _confirm(api_factory(), token)
    assert expired.status_code == 400 and "expired" in expired.json()["error"]["message"]
    made_up = _confirm(api_factory(), "rst_" + "A" * 43)
    assert made_up.status_code == 400 and "not valid" in made_up.json()["error"]["message"]
    assert _login(api_factory, PASSWORD) == 200


def test_a_newer_link_or_a_password_change_retires_older_links(api, api_factory, smtp):
    anonymous = api_factory()
    anonymous.post("/auth/password-reset", json={"email": "ada@example.com"})
    anonymous.post("/auth/password-reset", json={"email": "ada@example.com"})
    first, second = reset_token(smtp.wait_for_message(1)), reset_token(smtp.wait_for_message(2))
    assert first != second
    assert _confirm(anonymous, second).status_code == 204
    assert _confirm(anonymous, first, "yet another password 9").status_code == 400


def test_unknown_email_gets_the_same_answer_and_no_mail(api, api_factory, smtp):
    anonymous = api_factory()
    known = anonymous.post("/auth/password-reset", json={"email": "ada@example.com"})
    unknown = anonymous.post("/auth/password-reset", json={"email": "nobody@example.com"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    smtp.wait_for_message(1)
    assert len(smtp.messages) == 1
    assert anonymous.post("/auth/password-reset", json={"email": "not an email"}).status_code == 422


def test_reset_requests_are_rate_limited_per_email(api, api_factory, smtp):
    anonymous = api_factory()
    answers = [
        anonymous.post("/auth/password-reset", json={"email": "ada@example.com"}).status_code
        for _ in range(6)
    ]
    assert answers == [202] * 5 + [429]
    smtp.wait_for_message(5)
    assert len(smtp.messages) == 5


def test_without_a_mail_server_reset_says_it_is_unavailable(database_url, api_factory):
    settings = make_settings(database_url)
    assert settings.smtp_url is None
    with (
        running_app(settings) as (base_url, _app),
        httpx.Client(base_url=base_url + "/api/v1") as client,
    ):
        assert client.get("/auth/password-reset").json() == {"available": False}
        answer = client.post("/auth/password-reset", json={"email": "ada@example.com"})
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "reset_unavailable"
        assert "SRS_SMTP_URL" in answer.json()["error"]["message"]


def test_a_mail_server_that_is_down_is_logged_and_counted(database_url, caplog):
    from srs.kit import metrics

    settings = make_settings(database_url, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    failures = metrics.MAIL_FAILURES._value.get()
    with (
        running_app(settings) as (base_url, _app),
        httpx.Client(base_url=base_url + "/api/v1") as client,
    ):
        client.post("/auth/signup", json={"email": "ada@example.com", "password": PASSWORD})
        with caplog.at_level(logging.ERROR, logger="srs.accounts.mail"):
            answer = client.post("/auth/password-reset", json={"email": "ada@example.com"})
            assert answer.status_code == 202  # the same answer: no account enumeration
            deadline = time.monotonic() + 10
            while metrics.MAIL_FAILURES._value.get() == failures:
                assert time.monotonic() < deadline, "the failure was not counted"
                time.sleep(0.05)
    assert metrics.MAIL_FAILURES._value.get() == failures + 1
    assert "password reset mail was not sent: ConnectionRefusedError" in caplog.text


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_login_from_the_url(database_url, api_factory):
    with SmtpServer(login=("mailer", "p@ss word")) as smtp:
        url = f"smtp://mailer:p%40ss%20word@127.0.0.1:{smtp.port}"
        settings = make_settings(database_url, smtp_url=url)
        with (
            running_app(settings) as (base_url, _app),
            httpx.Client(base_url=base_url + "/api/v1") as client,
        ):
            client.post("/auth/signup", json={"email": "ada@example.com", "password": PASSWORD})
            client.post("/auth/password-reset", json={"email": "ada@example.com"})
            message = smtp.wait_for_message()
        # Without PUBLIC_URL the link points at the configured host and port, not the Host header.
        assert reset_link(message).startswith(f"http://{settings.host}:{settings.port}/#/reset/")


def test_smtp_urls():
    assert parse_smtp_url("smtp://mail.example.org") == SmtpConfig("mail.example.org", 25, "none")
    assert parse_smtp_url("smtp://u:p%2Fw@mail.example.org:2525?starttls=true") == SmtpConfig(
        "mail.example.org", 2525, "starttls", "u", "p/w"
    )
    assert parse_smtp_url("smtp://u@h?starttls=1").port == 587
    assert parse_smtp_url("smtps://h").port == 465 and parse_smtp_url("smtps://h").security == "tls"
    with pytest.raises(ValueError):
        parse_smtp_url("http://mail.example.org")
    with pytest.raises(ValueError, match="SRS_SMTP_URL"):
        make_settings("sqlite://", smtp_url="mail.example.org:25")
    assert make_settings("sqlite://", smtp_url="").smtp_url is None
