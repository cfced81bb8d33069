"""SRS_DELIVERY_TRACE (Settings.delivery_trace): each step of a card's way to the learner is
noted in the file, one line a step, for bench/stream_latency.py --trace; unset, nothing is."""

from __future__ import annotations

import pytest

from srs.kit import events
from tests.conftest import Api
from tests.generation.conftest import llm_settings, wait_for
from tests.support.cards import batch_xml, capitals
from tests.support.llm_server import Reply
from tests.support.server import running_app

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def no_trace_after():
    yield
    events.trace_to(None)  # the setting is process-wide: later tests in this process trace nothing


def test_a_cards_steps_are_noted_in_the_trace_file(database_url, llm, tmp_path) -> None:
    trace = tmp_path / "delivery.trace"
    llm.script([Reply(text=batch_xml(capitals(2)))])
    llm.default = Reply(status=500, error_message="no more batches in this test")
    with running_app(llm_settings(database_url, llm, delivery_trace=str(trace))) as (url, _):
        api = Api(url)
        api.signup("trace@example.com")
        topic = api.post("/topics", json={"prompt": "Capitals"}).json()
        card = api.get(f"/topics/{topic['id']}/next", params={"wait": 10}).json()["card"]
        assert card is not None
        wait_for(lambda: trace.exists() and trace.read_text().count(" saved ") == 2)
    steps = [line.split() for line in trace.read_text().splitlines()]
    assert {step for _, _, step, topic_id in steps if topic_id == str(topic["id"])} >= {
        "received", "checked", "saved"
    }


def test_without_the_setting_nothing_is_noted(database_url, llm, tmp_path) -> None:
    llm.script([Reply(text=batch_xml(capitals(1)))])
    with running_app(llm_settings(database_url, llm)) as (url, _):
        api = Api(url)
        api.signup("quiet@example.com")
        topic = api.post("/topics", json={"prompt": "Capitals"}).json()
        assert api.get(f"/topics/{topic['id']}/next", params={"wait": 10}).json()["card"]
    assert events.TRACE_FILE is None
