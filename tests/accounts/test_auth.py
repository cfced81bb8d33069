from __future__ import annotations

import httpx


def test_signup_login_logout_and_revocation(base_url, api_factory):
    client = api_factory()
    body = client.signup("Grace@Example.com")
    assert body["user"]["email"] == "grace@example.com"
    assert client.get("/me").status_code == 200

    other = api_factory()
    login = other.post("/auth/login", json={"email": "grace@example.com", "password": "correct horse battery"})
    assert login.status_code == 200
    second_token = login.json()["token"]
    assert second_token != client.token

    assert client.post("/auth/logout").status_code == 204
    revoked = client.get("/me")
    assert revoked.status_code == 401
    assert revoked.json()["error"]["code"] == "unauthorized"
    # Logging out one token leaves the other session alive.
    assert httpx.get(f"{base_url}/api/v1/me", headers={"Authorization": f"Bearer {second_token}"}).status_code == 200


def test_logout_everywhere_revokes_every_token(api_factory):
    first = api_factory("lin@example.com")
    second = api_factory()
    second.post("/auth/login", json={"email": "lin@example.com", "password": "correct horse battery"})
    second.http.headers["Authorization"] = "Bearer " + second.http.post(
        "/auth/login", json={"email": "lin@example.com", "password": "correct horse battery"}
    ).json()["token"]
    assert first.post("/auth/logout-all").status_code == 204
    assert second.get("/me").status_code == 401


def test_wrong_password_and_duplicate_email(api_factory):
    client = api_factory("dup@example.com")
    wrong = client.post("/auth/login", json={"email": "dup@example.com", "password": "nope-nope-nope"})
    assert wrong.status_code == 401
    unknown = client.post("/auth/login", json={"email": "nobody@example.com", "password": "whatever1"})
    assert unknown.status_code == 401
    again = client.post("/auth/signup", json={"email": "DUP@example.com", "password": "another password"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"


def test_password_and_email_rules(api_factory):
    client = api_factory()
    for body in (
        {"email": "x@example.com", "password": "short"},
        {"email": "x@example.com", "password": "aaaaaaaaaaaa"},
        {"email": "not-an-email", "password": "long enough pass"},
        {"email": "x@example.com", "password": "p" * 300},
        {"email": "x@example.com", "password": "long enough pass", "timezone": "Mars/Olympus"},
    ):
        response = client.post("/auth/signup", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid"


def test_cookie_session_needs_csrf_header_for_writes(base_url):
    with httpx.Client(base_url=base_url + "/api/v1") as browser:
        signup = browser.post("/auth/signup", json={"email": "web@example.com", "password": "correct horse battery"})
        assert signup.status_code == 201
        set_cookie = signup.headers.get_list("set-cookie")
        session_cookie = next(c for c in set_cookie if c.startswith("srs_session="))
        assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie
        assert browser.get("/topics").status_code == 200  # reads need no CSRF token
        forged = browser.post("/topics", json={"prompt": "French verbs"})
        assert forged.status_code == 403
        assert forged.json()["error"]["code"] == "csrf_failed"
        assert browser.get("/topics").json()["items"] == []  # nothing was created
        csrf = browser.cookies["srs_csrf"]
        ok = browser.post("/topics", json={"prompt": "French verbs"}, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 201
