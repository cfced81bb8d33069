"""A learner may hold only so many long-polls open at once."""

from __future__ import annotations

import threading
import time

from tests.conftest import Api, make_settings
from tests.support.server import running_app


def hold_two_polls(api: Api, app, user_id: int, url: str, wait: float) -> list[threading.Thread]:
    """Two long-polls on `url`, returned once both are waiting (a long-poll takes its place
    once its first read found no card)."""
    held = [threading.Thread(target=api.get, args=(url,), kwargs={"params": {"wait": wait}}) for _ in range(2)]
    for thread in held:
        thread.start()
    deadline = time.monotonic() + 10
    while app.state.events.open_polls(user_id) < 2:
        assert time.monotonic() < deadline, "the two long-polls never both waited"
        time.sleep(0.02)
    return held


def test_long_polls_beyond_the_cap_are_refused_with_a_clear_message(database_url):
    settings = make_settings(database_url, long_polls_per_user=2, worker_enabled=False)
    with running_app(settings) as (base_url, app):
        api = Api(base_url)
        user_id = api.signup("polls@example.com")["user"]["id"]
        topic = api.post("/topics", json={"prompt": "European capitals"}).json()
        url = f"/topics/{topic['id']}/next"
        held = hold_two_polls(api, app, user_id, url, wait=2)
        refused = api.get(url, params={"wait": 2})
        plain = api.get(url)  # a request that does not wait is never refused
        for thread in held:
            thread.join()
        again = api.get(url, params={"wait": 0.1})
        api.http.close()
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert "at most 2" in refused.json()["error"]["message"]
    assert plain.status_code == 200
    assert again.status_code == 200
    assert len(app.state.events) == 0
