"""Worker slots are shared between learners, and a stalled provider gives its slot back within
the chunk timeout (issue 13): another learner's new topic gets its first card quickly while
streams that never finish are open. Over real HTTP against a scripted LLM server."""

from __future__ import annotations

import json
import time

from tests.conftest import Api
from tests.generation.conftest import llm_settings, wait_for
from tests.support.cards import batch_xml, capitals
from tests.support.llm_server import ReceivedRequest, Reply, is_outline_request, outline_xml
from tests.support.server import running_app


def _responder(stalls: dict[str, Reply]):
    """A model that stalls on the prompts named in `stalls` and answers the others at once."""

    def answer(request: ReceivedRequest) -> Reply:
        prompt = json.dumps(request.json)
        for marker, reply in stalls.items():
            if marker in prompt:
                return reply
        if is_outline_request(request.json):
            return Reply(text=outline_xml())
        return Reply(text=batch_xml(capitals(5)))

    return answer


def _asked(llm, marker: str) -> int:
    return sum(marker in json.dumps(r.json) for r in llm.requests + llm.outline_requests)


def _first_card_seconds(api: Api, prompt: str) -> float:
    started = time.monotonic()
    topic = api.post("/topics", json={"prompt": prompt}).json()
    answer = api.get(f"/topics/{topic['id']}/next", params={"wait": 30}).json()
    assert answer["card"] is not None, answer["generation"]
    return time.monotonic() - started


def _signed_up(base_url: str, email: str) -> Api:
    api = Api(base_url)
    api.signup(email)
    return api


def test_one_learners_stalled_streams_hold_one_slot_and_others_go_first(database_url, llm):
    llm.responder = _responder({"Stalling": Reply(hang=True)})
    chunk_timeout = 5.0
    settings = llm_settings(
        database_url, llm, llm_chunk_timeout=chunk_timeout, worker_concurrency=2
    )
    with running_app(settings) as (base_url, _app):
        attacker = _signed_up(base_url, "stalls@example.com")
        for name in ("one", "two"):
            attacker.post("/topics", json={"prompt": f"Stalling topic {name}"})
        wait_for(lambda: _asked(llm, "Stalling") == 1)
        victim = _signed_up(base_url, "learner@example.com")
        seconds = _first_card_seconds(victim, "European capitals")
        # Only one of the attacker's two topics is being streamed: the other waits its turn.
        assert _asked(llm, "Stalling") == 1
    # Without the per-learner limit both slots were stalled: the card came after the timeout.
    assert seconds < 2.5 < chunk_timeout


def test_stalled_streams_give_their_slots_back_within_the_chunk_timeout(database_url, llm):
    llm.responder = _responder(
        {
            "Silent after headers": Reply(hang=True),
            "Silent mid-stream": Reply(text=outline_xml(), stall_after_chars=40),
        }
    )
    chunk_timeout = 1.5
    settings = llm_settings(
        database_url, llm, llm_chunk_timeout=chunk_timeout, worker_concurrency=2
    )
    with running_app(settings) as (base_url, _app):
        # Two learners, one stalled stream each: both worker slots are held.
        silent = _signed_up(base_url, "silent@example.com")
        stopped = _signed_up(base_url, "stopped@example.com")
        hung = silent.post("/topics", json={"prompt": "Silent after headers"}).json()
        cut = stopped.post("/topics", json={"prompt": "Silent mid-stream"}).json()
        wait_for(lambda: _asked(llm, "Silent") == 2)
        victim = _signed_up(base_url, "learner@example.com")
        seconds = _first_card_seconds(victim, "European capitals")
        failed = [
            wait_for(
                lambda api=api, topic=topic: (
                    (t := api.get(f"/topics/{topic['id']}").json())["generation"]["status"]
                    == "failed"
                    and t
                ),
                timeout=30,
            )
            for api, topic in ((silent, hung), (stopped, cut))
        ]
    assert seconds < chunk_timeout + 2.5
    for topic in failed:
        error = topic["generation"]["error"]
        assert "stalled: nothing came for 1.5s (SRS_LLM_CHUNK_TIMEOUT)" in error, error
    # Each stall was tried as a job (three attempts), not retried inside the stream.
    assert _asked(llm, "Silent after headers") == 3
    assert _asked(llm, "Silent mid-stream") == 3
