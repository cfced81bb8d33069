"""A model that never stops writing costs bounded memory, reading and tokens (issue 13):
the app's worker reads an endless scripted stream over real HTTP and gives up with a clear
error on the topic."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.generation.conftest import wait_for
from tests.support.cards import batch_xml, capitals, card_xml
from tests.support.llm_server import Reply

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

    # One card, then a front that never closes (shorter than the parser's own bound): only
    # the length bound stops it. Later batches repeat the card first, so they save nothing.
    card = card_xml(*capitals(1)[0])
    llm.default = Reply(
        text="<cards>\n" + card + "<card><front>",
        endless="and on and on ",
        chunk_chars=CHUNK,
        send_usage=False,
    )
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


def test_a_model_repeating_its_cards_is_stopped_at_the_third_repeat(api, llm, database_url):
    from sqlalchemy import select

    from srs.generation.models import GenerationJob
    from srs.kit.db import Database

    # The embedded model's failure: two new cards, then the first one over and over.
    first, second = capitals(2)
    llm.script(
        [
            Reply(
                text="<cards>\n" + card_xml(*first) + card_xml(*second),
                endless=card_xml(*first),
                chunk_chars=16,
                send_usage=False,
            )
        ]
    )
    llm.default = Reply(text=batch_xml(capitals(8, start=2)))
    topic = api.post("/topics", json={"prompt": "European capitals"}).json()
    # The looping batch ends as done with its two cards, and the next batch fills the topic.
    wait_for(lambda: len(api.get(f"/topics/{topic['id']}/cards").json()["items"]) == 10, timeout=30)
    db = Database(database_url)
    with db.transaction(write=False) as s:
        looping = s.scalars(
            select(GenerationJob).where(GenerationJob.kind == "cards").order_by(GenerationJob.id)
        ).first()
        assert (looping.status, looping.saved, looping.duplicates, looping.attempts) == (
            "done",
            2,
            3,
            1,
        )
        # Billed for what was read: the two cards and three repeats, not a max_tokens' worth.
        assert looping.tokens_out <= 5 * len(card_xml(*first)) // 4 + 50
    db.dispose()


def test_a_retry_replaying_what_its_broken_attempt_saved_is_not_stopped(api, llm, database_url):
    from sqlalchemy import select

    from srs.generation.models import GenerationJob
    from srs.generation.worker import REPEATS_TO_STOP
    from srs.kit.db import Database

    # The stream breaks after four cards; the retry starts the same answer over (a provider
    # answering the same prompt the same way): four repeats of its own cards, then six new.
    text = batch_xml(capitals(10))
    cut = text.index("</card>", text.index("Germany")) + len("</card>")
    llm.script([Reply(text=text, disconnect_after_chars=cut)])
    llm.default = Reply(text=text)
    topic = api.post("/topics", json={"prompt": "European capitals"}).json()
    wait_for(lambda: len(api.get(f"/topics/{topic['id']}/cards").json()["items"]) == 10, timeout=60)
    # The job is marked done just after its last card is saved.
    wait_for(lambda: api.get(f"/topics/{topic['id']}").json()["generation"]["status"] == "idle")
    db = Database(database_url)
    with db.transaction(write=False) as s:
        job = s.scalars(
            select(GenerationJob).where(GenerationJob.kind == "cards").order_by(GenerationJob.id)
        ).first()
        assert (job.status, job.saved, job.attempts) == ("done", 10, 2)
        # The retry replayed at least as many of its own cards as would stop a looping batch
        # (how many the broken attempt saved depends on where the cut fell in its last chunk).
        assert job.duplicates >= REPEATS_TO_STOP
    db.dispose()
