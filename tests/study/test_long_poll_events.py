"""Long-poll wake-up entries exist only for owned topics, and only while someone waits."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor


def test_polling_made_up_topics_leaves_no_wake_up_entries(api, app):
    def poll(topic_id: int) -> int:
        return api.get(f"/topics/{topic_id}/next", params={"wait": 5}).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = set(pool.map(poll, range(10_000, 12_000)))
    assert statuses == {404}
    assert len(app.state.events) == 0


def test_a_finished_long_poll_frees_its_entry(api, app):
    topic = api.post("/topics", json={"prompt": "European capitals"}).json()
    answer = api.get(f"/topics/{topic['id']}/next", params={"wait": 0.3})
    assert answer.status_code == 200 and answer.json()["card"] is None
    assert len(app.state.events) == 0
