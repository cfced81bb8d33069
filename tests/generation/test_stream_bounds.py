"""A model that never stops writing costs bounded memory, reading and tokens (issue 13):
the app's worker reads an endless scripted stream over real HTTP and gives up with a clear
error on the topic."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from tests.generation.conftest import wait_for
from tests.support.cards import batch_xml, capitals
from tests.support.llm_server import ReceivedRequest, Reply, is_outline_request, outline_xml

pytestmark = pytest.mark.slow

CHUNK = 4096
# Every attempt stops within one chunk of the parser's bound; each is retried twice.
ATTEMPTS = 3


def _rss_bytes() -> int:
    """This process's resident memory: the app and the scripted server run in its threads."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024


def _failed_topic(api, prompt: str) -> dict:
    topic = api.post("/topics", json={"prompt": prompt}).json()
    return wait_for(
        lambda: (
            (t := api.get(f"/topics/{topic['id']}").json())["generation"]["status"] == "failed"
            and t
        ),
        timeout=60,
    )


@pytest.mark.parametrize(
    ("opening", "endless", "reason", "bound"),
    [
        (
            "Let me think. ",
            "Hmm, maybe a <card> about that... ",
            "no <cards> or <card> in the first 16384 characters",
            16 * 1024,
        ),
        (
            "<cards><card><front>",
            "a front that never ends & never closes ",
            "no card ended within 65536 characters",
            64 * 1024,
        ),
    ],
    ids=["endless prose", "a front that never closes"],
)
def test_an_endless_reply_fails_with_a_clear_error_and_bounded_cost(
    api, llm, opening, endless, reason, bound
):
    llm.default = Reply(text=opening, endless=endless, chunk_chars=CHUNK, send_usage=False)
    rss_before = _rss_bytes()
    failed = _failed_topic(api, "European capitals")
    assert failed["generation"]["error"] == f"The model's reply was not usable card XML ({reason})"
    assert api.get(f"/topics/{failed['id']}/cards").json()["items"] == []
    # The provider sent no usage: the estimate covers what was read, one chunk past the bound.
    tokens_out = api.get("/usage").json()["tokens"]["output"]
    assert 0 < tokens_out <= ATTEMPTS * (bound + CHUNK) // 4
    assert len(llm.requests) == ATTEMPTS
    # The worker closed each connection: no scripted stream is still being written.
    wait_for(lambda: not llm._tasks, timeout=10)
    assert _rss_bytes() - rss_before < 50 * 1024 * 1024


def test_cards_before_an_endless_tail_are_kept(api, llm):
    three = batch_xml(capitals(3)).replace("</cards>", "")
    llm.script(
        [Reply(text=three + "<card><front>", endless="x", chunk_chars=CHUNK, send_usage=False)]
    )
    llm.default = Reply(text=batch_xml(capitals(7, start=3)))
    topic = api.post("/topics", json={"prompt": "European capitals"}).json()
    wait_for(lambda: len(api.get(f"/topics/{topic['id']}/cards").json()["items"]) == 10, timeout=30)
    fronts = [c["front"] for c in api.get(f"/topics/{topic['id']}/cards").json()["items"]]
    assert fronts == [f for f, _ in capitals(10)]


def test_a_provider_ignoring_max_tokens_is_cut_off(database_url, llm):
    from tests.conftest import Api
    from tests.generation.conftest import llm_settings
    from tests.support.server import running_app

    # Valid cards forever, all the same: dedup drops them, so only the length bound stops it.
    card = batch_xml(capitals(1), prose="").removeprefix("<cards>\n").removesuffix("</cards>\n")
    llm.default = Reply(text="<cards>", endless=card, chunk_chars=CHUNK, send_usage=False)
    outline_tokens = 100  # the topic's outline comes first, with its own (reported) usage
    llm.outline_default = Reply(text=llm.outline_default.text, output_tokens=outline_tokens)
    with running_app(llm_settings(database_url, llm, llm_max_tokens=1000)) as (base_url, _app):
        api = Api(base_url)
        api.signup("endless@example.com")
        failed = _failed_topic(api, "European capitals")
        assert "more than max_tokens=1000 allows" in failed["generation"]["error"]
        assert [c["front"] for c in api.get(f"/topics/{failed['id']}/cards").json()["items"]] == [
            capitals(1)[0][0]
        ]
        # The outline, a first batch (its one card saved) and a second one tried three times.
        assert api.get("/usage").json()["tokens"]["output"] <= outline_tokens + 4 * 1000


def test_two_endless_streams_at_once_leave_memory_flat_and_others_fast(api_factory, llm):
    """Two learners' topics get endless replies at the same time (prose with no <cards>, and
    a <front> that never closes): both fail, memory stays flat, and a third learner's
    PATCH /me is answered promptly meanwhile."""

    def answer(request: ReceivedRequest) -> Reply:
        if is_outline_request(request.json):
            return Reply(text=outline_xml())
        if "prose" in json.dumps(request.json):
            return Reply(text="Let me think. ", endless="Hmm, a <card>? ", chunk_chars=CHUNK,
                         send_usage=False)
        return Reply(text="<cards><card><front>", endless="never closes & ", chunk_chars=CHUNK,
                     send_usage=False)

    llm.responder = answer
    victim = api_factory("victim@example.com")
    attackers = [api_factory(f"endless{i}@example.com") for i in range(2)]
    victim.patch("/me", json={"timezone": "Europe/Paris"})
    rss_before = _rss_bytes()
    topics = [
        api.post("/topics", json={"prompt": prompt}).json()
        for api, prompt in zip(attackers, ("Endless prose", "Endless front"))
    ]
    seconds = []

    def both_failed() -> bool:
        started = time.monotonic()
        assert victim.patch("/me", json={"timezone": "Asia/Tokyo"}).status_code == 200
        seconds.append(time.monotonic() - started)
        return all(
            api.get(f"/topics/{t['id']}").json()["generation"]["status"] == "failed"
            for api, t in zip(attackers, topics)
        )

    wait_for(both_failed, timeout=60)
    assert len(llm.requests) == 2 * ATTEMPTS  # every attempt of both topics was read
    wait_for(lambda: not llm._tasks, timeout=10)
    assert _rss_bytes() - rss_before < 100 * 1024 * 1024
    assert max(seconds) < 1.0, seconds
