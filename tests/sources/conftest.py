from __future__ import annotations

import re
import threading

import pytest

from tests.generation.conftest import llm, llm_settings  # noqa: F401  (fixtures)
from tests.support.llm_server import ReceivedRequest, Reply
from tests.support.server import running_app

PASSAGE = re.compile(r"Passage (\d+) \(([^)\n]*)\):\n~~~\n(.*?)\n~~~", re.DOTALL)
FACT = re.compile(r"The capital of (\w+) is (\w+)\.")


def prompt_of(request: ReceivedRequest) -> str:
    return "".join(str(m.get("content")) for m in request.json.get("messages") or [])


def batch_passages(request: ReceivedRequest) -> list[tuple[int, str, str]]:
    """(id, label, text) of the passages a grounded card request carries, in prompt order."""
    return [(int(i), label, text) for i, label, text in PASSAGE.findall(prompt_of(request))]


def card(front: str, back: str, passage: int | str, quote: str) -> str:
    return (
        f"<card><front>{front}</front><back>{back}</back>"
        f"<passage>{passage}</passage><quote>{quote}</quote></card>\n"
    )


def faithful_reply(request: ReceivedRequest) -> Reply:
    """A model that writes one card per passage, in order, citing each with its own words."""
    cards = []
    for passage_id, _label, text in batch_passages(request):
        found = FACT.search(text)
        if found:
            cards.append(
                card(f"What is the capital of {found[1]}?", found[2], passage_id, found[0])
            )
    return Reply(
        text="<cards>\n" + "".join(cards) + "</cards>\n", chunk_chars=16, tokens_per_second=300
    )


@pytest.fixture
def gen_settings(database_url, llm):  # noqa: F811  (the fixture imported above)
    return llm_settings(
        database_url,
        llm,
        source_batch_chars=1000,
        refill_below=100,
        source_fetch_allow_hosts=["localhost"],
    )


@pytest.fixture
def server(gen_settings):
    with running_app(gen_settings) as (base_url, app):
        yield base_url, app


class HeldPages(dict):
    """Pages the test web server serves only once `release` is set (a slow site)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = threading.Event()
        self.release = threading.Event()

    def get(self, key, default=None):
        self.asked.set()
        self.release.wait(20)
        return super().get(key, default)
