"""The generation worker: claims jobs, streams the LLM, saves each card the moment it is parsed.

No database transaction is open while we wait on the LLM: each step (claim, save one card,
renew the lease, finish) is its own short transaction, run in a thread.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import timedelta

from srs.embeddings import Embedder, EmbeddingError, build_embedder, single_blas_thread
from srs.generation import answer_check, prompts
from srs.generation.card_rules import list_answer
from srs.generation.dedup import CardText, CardVectors, DedupIndex, Match
from srs.generation.models import JobKind
from srs.generation.outline_stream import OutlineStreamParser, ParsedSubtopic
from srs.generation.service import GenerationService, JobPlan, Outcome, OutcomeKind, embed_cards
from srs.generation.verdicts import Verdict, VerdictLabel, VerdictStreamParser
from srs.generation.xml_stream import CardStreamParser, ParsedCard
from srs.kit import events, metrics
from srs.kit.db import utcnow
from srs.kit.settings import Settings
from srs.llm import build_provider
from srs.llm.base import (
    MAX_CHARS_PER_TOKEN,
    LLMError,
    LLMProvider,
    LLMRequest,
    Reading,
    Usage,
    bounded_text,
)
from srs.sources.grounding import Citation, Ungrounded, cite

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 1.0
# Text read past the last wanted card, or past </cards>, while waiting for the usage report.
OVERFLOW_CHARS = 400
# Cards in a row that repeat what the topic has: the model is looping (the embedded one copies
# the cards listed in its prompt, or its own, over and over), and reading on only costs time
# and tokens. Fewer would cut short a batch that meets one or two repeats among new cards.
# A retry replaying what its own earlier attempt saved is not counted (JobPlan.saved_before).
REPEATS_TO_STOP = 3
# Multiples of settings.llm_retry_delay before retrying a job whose stream broke or whose XML
# was unusable (the provider adapters already retried what failed before any text arrived).
RETRY_FACTORS = (1.0, 5.0, 20.0)


class LeaseLost(Exception):
    """Another worker holds the job now (ours expired): stop writing to it."""


@dataclass(frozen=True)
class Pending:
    """A card (or a cloze note's cards) parsed and checked for repeats, waiting for its
    verdict before it is saved or held back."""

    note: ParsedCard
    cards: list[ParsedCard]  # what saving it adds: the note's cards, cut to the batch's room
    citation: Citation | None
    vectors: CardVectors | None
    note_guid: str | None


@dataclass
class Attempt:
    """What one attempt at a job has produced so far."""

    plan: JobPlan
    dedup: DedupIndex
    embedder: Embedder
    # Only a count of the reply's characters is kept (for the token estimate), not its text.
    chars_read: int = 0
    overflow_chars: int = 0  # read after the batch was done, waiting for the usage report
    stopped: str | None = None  # why reading stopped before the reply ended, if it did
    saved: int = 0
    duplicates: int = 0
    repeats_in_row: int = 0  # duplicates since the last card that was not one
    ungrounded: int = 0  # grounded cards whose citation did not check out
    started: float = field(default_factory=time.monotonic)
    usage: Usage | None = None
    # The verification pass: cards waiting for their verdict, cards held back, the checks'
    # tokens (its and the answer check's), and why it could not judge the batch (if it could not).
    pending: list[Pending] = field(default_factory=list)
    held: int = 0
    checked: int = 0  # cards the verification pass has dealt with (saved or held)
    check_tokens: tuple[int, int, bool] = (0, 0, False)
    verify_failed: str | None = None
    early: EarlyEmbedding = field(default_factory=lambda: EarlyEmbedding())
    # The provider that answers each card's question again (answer_check.py); None: no check.
    answer_check: LLMProvider | None = None

    @property
    def wanted(self) -> int:
        return self.plan.count - self.saved - sum(len(p.cards) for p in self.pending)


class Worker:
    def __init__(
        self,
        service: GenerationService,
        settings: Settings,
        provider_factory: Callable[[], LLMProvider],
        notify: Callable[[int], None],
        *,
        concurrency: int = 2,
        owner: str | None = None,
        embedder_factory: Callable[[], Embedder] | None = None,
    ) -> None:
        self.service = service
        self.settings = settings
        self._provider_factory = provider_factory
        self._embedder_factory = embedder_factory or (lambda: build_embedder(settings))
        self._embedder: Embedder | None = None
        self._provider: LLMProvider | None = None
        self._verifier: LLMProvider | None = None
        self._provider_error: LLMError | None = None
        self._notify = notify
        self._slots = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._tasks: set[asyncio.Task] = set()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._claims = itertools.count(1)

    # -- lifecycle -------------------------------------------------------------------------

    def wake(self) -> None:
        """Safe from any thread: request handlers call it from the threadpool, and an
        asyncio.Event may only be set on its own loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self._wake.set()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        log.info("generation worker %s started", self.owner)
        await self._load_embedder()
        while not self._stopping:
            await self._slots.acquire()
            try:
                lease = f"{self.owner}#{next(self._claims)}"
                job_id = await asyncio.to_thread(self._claim, lease)
            except Exception:
                self._slots.release()
                metrics.BACKGROUND_FAILURES.labels("claim").inc()
                log.exception("claiming a generation job failed; retrying shortly")
                await asyncio.sleep(IDLE_POLL_SECONDS)
                continue
            if job_id is None:
                self._slots.release()
                await self._idle()
                continue
            task = asyncio.create_task(self._run_job(job_id, lease))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _idle(self) -> None:
        self._wake.clear()
        try:
            async with asyncio.timeout(IDLE_POLL_SECONDS):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def stop(self) -> None:
        self._stopping = True
        self.wake()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._provider is not None and hasattr(self._provider, "aclose"):
            await self._provider.aclose()
        if self._verifier not in (None, self._provider) and hasattr(self._verifier, "aclose"):
            await self._verifier.aclose()
        if self._embedder is not None and hasattr(self._embedder, "close"):
            self._embedder.close()  # the provider's HTTP client; the local model is shared

    def _claim(self, lease: str) -> int | None:
        from srs.generation import repository

        length = timedelta(seconds=self.settings.lease_seconds)
        with self.service.db.transaction() as session:
            return repository.claim_next(session, lease, utcnow(), length)

    async def _load_embedder(self) -> None:
        """Before the first claim: loading takes a second or two, which must not eat into a
        job's lease. A failure here is logged; each job then fails with it, visibly."""
        try:
            await asyncio.to_thread(self.embedder)
        except EmbeddingError as error:
            log.error("the duplicate check's embedding model cannot run: %s", error.message)

    def embedder(self) -> Embedder:
        """Blocking on first use (the local model loads and checks its weights)."""
        if self._embedder is None:
            self._embedder = self._embedder_factory()
        return self._embedder

    def warm_up(self) -> None:
        """Let a provider that runs in-process (the embedded model) load and evaluate the
        card system prompt in the background now, so the first topic does not wait for it."""
        try:
            provider = self.provider()
        except LLMError as error:
            log.info("no LLM provider to warm up: %s", error.message)
            return
        if hasattr(provider, "warm_up"):
            beside = prompts.answer_again_system() if self.checks_answers(provider) else None
            provider.warm_up(prompts.system_prompt(), beside)

    def checks_answers(self, provider: LLMProvider) -> bool:
        """Whether each new card's question is asked again (SRS_ANSWER_CHECK; auto: where the
        provider says its own answers need it, the embedded chat model)."""
        setting = self.settings.answer_check
        return setting == "on" or (
            setting == "auto" and getattr(provider, "checks_own_answers", False)
        )

    def provider(self) -> LLMProvider:
        if self._provider is None:
            self._provider = self._provider_factory()
        return self._provider

    def verifier(self) -> LLMProvider:
        """The provider the verification pass asks: SRS_VERIFY_MODEL on the same provider, or
        the generating model itself (always so for the embedded provider: it has one model)."""
        if self._verifier is None:
            model = self.settings.verify_model
            if not model or self.settings.llm_provider == "local":
                self._verifier = self.provider()
            else:
                self._verifier = build_provider(
                    self.settings.model_copy(update={"llm_model": model})
                )
        return self._verifier

    # -- one job ---------------------------------------------------------------------------

    async def _run_job(self, job_id: int, lease: str) -> None:
        try:
            plan = await asyncio.to_thread(self.service.start_job, job_id, lease)
            if plan is None:
                return
            if plan.kind is JobKind.OUTLINE:
                outcome = await self._attempt_outline(plan)
            else:
                outcome = await self._attempt(plan)
            await asyncio.to_thread(self.service.finish_job, job_id, lease, outcome)
        except LeaseLost:
            log.warning("job %s: lease lost to another worker; leaving it", job_id)
        except asyncio.CancelledError:
            raise  # shutting down: the lease expires and the job is claimed again
        except Exception:
            metrics.BACKGROUND_FAILURES.labels("job").inc()
            log.exception("job %s crashed", job_id)
            await self._requeue_after_crash(job_id, lease)
        finally:
            self._slots.release()
            self.wake()

    async def _requeue_after_crash(self, job_id: int, lease: str) -> None:
        outcome = Outcome(
            kind=OutcomeKind.RETRY, error="Internal error while generating", retry_after=5
        )
        try:
            await asyncio.to_thread(self.service.finish_job, job_id, lease, outcome)
        except Exception:
            # Typically the database is down too: the lease runs out and the ticker requeues it.
            metrics.BACKGROUND_FAILURES.labels("requeue").inc()
            log.exception("job %s: could not requeue; its lease will expire", job_id)

    def _request(self, plan: JobPlan) -> LLMRequest:
        if plan.passages:
            return prompts.build_grounded_request(
                plan.prompt,
                plan.level,
                plan.count,
                plan.subtopic_cards,
                plan.passages,
                subtopic=plan.subtopic,
                card_style=plan.card_style,
                max_tokens=self.settings.llm_max_tokens,
                temperature=self.settings.llm_temperature,
            )
        return prompts.build_request(
            plan.prompt,
            plan.level,
            plan.count,
            plan.subtopic_cards,
            subtopic=plan.subtopic,
            card_style=plan.card_style,
            max_tokens=self.settings.llm_max_tokens,
            temperature=self.settings.llm_temperature,
        )

    async def _attempt(self, plan: JobPlan) -> Outcome:
        if plan.count <= 0:
            return Outcome(kind=OutcomeKind.DONE)
        try:
            provider = self.provider()
        except LLMError as error:
            metrics.LLM_ERRORS.labels(error.kind).inc()
            return Outcome(kind=OutcomeKind.FAILED, error=error.message)
        request = self._request(plan)
        # The lease is kept from here on: loading the embedder on first use and building the
        # duplicate index can outlast a lease on a loaded machine.
        heartbeat = asyncio.create_task(self._heartbeat(plan))
        try:
            return await self._stream_attempt(plan, provider, request)
        finally:
            heartbeat.cancel()

    async def _stream_attempt(
        self, plan: JobPlan, provider: LLMProvider, request: LLMRequest
    ) -> Outcome:
        parser = CardStreamParser()
        # A small base model (run as a few-shot completion) copies its examples.
        examples = prompts.example_cards() if getattr(provider, "few_shot", False) else []
        try:
            embedder = await asyncio.to_thread(self.embedder)
            index = await asyncio.to_thread(
                self.service.dedup_index, plan, plan.lease, embedder, examples
            )
        except EmbeddingError as error:
            return Outcome(kind=OutcomeKind.FAILED, error=_dedup_unavailable(error))
        if index is None:
            raise LeaseLost()
        attempt = Attempt(
            plan=plan,
            dedup=index,
            embedder=embedder,
            answer_check=provider if self.checks_answers(provider) else None,
        )
        try:
            error = await self._read_cards(attempt, parser, provider, request)
            await self._verify_pending(attempt, provider.model)
        except EmbeddingError as error:
            base = self._base(attempt, parser, attempt.usage, request, provider)
            return Outcome(kind=OutcomeKind.FAILED, error=_dedup_unavailable(error), **base)
        if error is not None:
            return self._outcome_after_error(
                attempt, parser, error, attempt.usage, request, provider
            )
        return self._outcome(attempt, parser, attempt.usage, request, provider)

    async def _read_cards(
        self, attempt: Attempt, parser: CardStreamParser, provider: LLMProvider, request: LLMRequest
    ) -> LLMError | None:
        """Stream the batch, saving (or, when verified, collecting) each card as it is parsed."""
        try:
            async with aclosing(provider.stream(request)) as stream:
                async for event in stream:
                    if isinstance(event, Usage):
                        attempt.usage = event
                        continue
                    attempt.chars_read += len(event.text)
                    arrived = time.monotonic()
                    cards = parser.feed(event.text)
                    if cards:
                        events.trace("received", attempt.plan.topic_id, arrived)
                    await self._accept(attempt, cards, provider.model)
                    self._embed_early(attempt, event.text)
                    if self._read_enough(attempt, parser, len(event.text), request):
                        break
                else:
                    await self._accept(attempt, parser.close(), provider.model)
        except LLMError as error:
            metrics.LLM_ERRORS.labels(error.kind).inc()
            return error
        finally:
            attempt.early.drop()
        return None

    @staticmethod
    def _embed_early(attempt: Attempt, text: str) -> None:
        """Start embedding the card being streamed once its front and back are closed, so its
        duplicate check is mostly done by the time `</card>` arrives (a few tokens later)."""
        card = attempt.early.feed(text)
        if card is None or attempt.wanted <= 0:
            return  # nothing new, or the batch is done
        if attempt.dedup.verbatim_copy_of(card) is not None:
            return  # a repeat, refused without embedding it
        task = asyncio.create_task(asyncio.to_thread(embed_cards, attempt.embedder, [card]))
        attempt.early.start(card, task)

    @staticmethod
    def _read_enough(
        attempt: Attempt, parser: CardStreamParser, chunk_chars: int, request: LLMRequest
    ) -> bool:
        """Whether to stop reading the reply after a chunk: the parser has failed (nothing
        more can be used, so not a character more is read), the reply outgrew max_tokens,
        or the batch is done and the little read on for the usage report is spent."""
        if parser.failed:
            return True
        if attempt.repeats_in_row >= REPEATS_TO_STOP:
            attempt.stopped = f"The model repeated {attempt.repeats_in_row} cards in a row"
            log.info("job %s: %s: batch stopped", attempt.plan.job_id, attempt.stopped)
            return True
        if attempt.chars_read > request.max_tokens * MAX_CHARS_PER_TOKEN:
            attempt.stopped = (
                f"The model's reply ran past {attempt.chars_read} characters, more than "
                f"max_tokens={request.max_tokens} allows: it was cut off"
            )
            return True
        if attempt.wanted <= 0 or parser.complete:
            attempt.overflow_chars += chunk_chars
        return attempt.overflow_chars > OVERFLOW_CHARS

    async def _accept(self, attempt: Attempt, cards: list[ParsedCard], model: str) -> None:
        for card in cards:
            if attempt.wanted <= 0:
                return
            citation = None
            if attempt.plan.passages:
                try:
                    citation = cite(attempt.plan.passages, card.extra)
                except Ungrounded as error:
                    # Untrusted input: a card that does not rest on its batch's passages.
                    attempt.ungrounded += 1
                    metrics.CARDS_REJECTED.labels("ungrounded").inc()
                    log.info("job %s: card rejected: %s", attempt.plan.job_id, error.reason)
                    continue
            text = CardText(card.front, card.back)
            vectors, match = None, attempt.dedup.verbatim_copy_of(text)
            if match is None:
                early = attempt.early.take(text)
                if early is None:
                    vectors, match = await asyncio.to_thread(_embed_and_check, attempt, text)
                else:
                    (vectors,) = await early
                    match = await asyncio.to_thread(_check, attempt, text, vectors)
            events.trace("checked", attempt.plan.topic_id)
            if match is not None:
                attempt.duplicates += 1
                if match.card_id not in attempt.plan.saved_before:
                    attempt.repeats_in_row += 1
                metrics.CARDS_REJECTED.labels("duplicate").inc()
                await asyncio.to_thread(self.service.record_duplicate, attempt.plan, card, match)
                continue
            attempt.repeats_in_row = 0
            # A cloze note is checked for repeats once, by its first card; its siblings share
            # its text by design. Each card is saved (and billed) on its own, while the batch
            # has room: a note cut short by the batch's end keeps the cards saved.
            note_guid = uuid.uuid4().hex if card.cloze is not None else None
            pending = Pending(card, card.cards()[: attempt.wanted], citation, vectors, note_guid)
            if (broken := list_answer(card)) is not None:
                # Kept as a repeat too, so the batch's later cards do not copy it.
                attempt.dedup.add(-200_000 - attempt.held, text, vectors)
                await self._hold(attempt, pending, model, VerdictLabel.NOT_ONE_FACT, broken, None)
                continue
            if attempt.answer_check is not None:
                held = await self._check_answer(attempt, card, attempt.answer_check)
                if held is not None:
                    attempt.dedup.add(-200_000 - attempt.held, text, vectors)
                    await self._hold(attempt, pending, model, *held)
                    continue
            if attempt.plan.verify:
                # Kept out of the batch's later cards as a repeat, under an id no card has.
                attempt.dedup.add(-100_000 - attempt.checked - len(attempt.pending), text, vectors)
                attempt.pending.append(pending)
                if attempt.plan.verify_first_alone and attempt.checked == 0:
                    await self._verify_pending(attempt, model)
                continue
            await self._save(attempt, pending, model)

    async def _save(self, attempt: Attempt, pending: Pending, model: str) -> None:
        for sibling in pending.cards:
            card_id = await asyncio.to_thread(
                self.service.save_card,
                attempt.plan,
                attempt.plan.lease,
                sibling,
                model,
                pending.vectors,
                attempt.embedder.model,
                note_guid=pending.note_guid,
                citation=pending.citation,
            )
            if card_id is None:
                raise LeaseLost()
            if attempt.saved == 0:
                metrics.TIME_TO_FIRST_CARD.observe(time.monotonic() - attempt.started)
            attempt.saved += 1
            attempt.dedup.add(card_id, CardText(sibling.front, sibling.back), pending.vectors)
            metrics.CARDS_SAVED.inc()
            events.trace("saved", attempt.plan.topic_id)
            self._notify(attempt.plan.topic_id)

    # -- the verification pass ---------------------------------------------------------------

    async def _verify_pending(self, attempt: Attempt, model: str) -> None:
        """One streamed request judges the batch's cards; each is saved or held back the
        moment its verdict is read. Cards left without a verdict (the request failed, the
        reply broke off) are held back as unchecked, with the reason, never shown unchecked."""
        if not attempt.pending:
            return
        judged: dict[int, Pending] = {}
        try:
            verifier = self.verifier()
            request = prompts.build_verify_request(
                attempt.plan.prompt, [_to_check(p) for p in attempt.pending], attempt.plan.passages
            )
            failure = await self._read_verdicts(attempt, verifier, request, judged, model)
        except LLMError as error:
            metrics.LLM_ERRORS.labels(error.kind).inc()
            failure = f"the LLM provider failed: {error.message}"
        for number, pending in enumerate(attempt.pending, start=1):
            if number not in judged:
                reason = f"Not checked: the verification pass failed ({failure or 'no verdict'})."
                await self._hold(attempt, pending, model, VerdictLabel.UNCHECKED, reason, None)
        attempt.verify_failed = attempt.verify_failed or failure
        attempt.checked += len(attempt.pending)
        attempt.pending.clear()

    async def _read_verdicts(
        self,
        attempt: Attempt,
        verifier: LLMProvider,
        request: LLMRequest,
        judged: dict[int, Pending],
        model: str,
    ) -> str | None:
        """Stream the verdicts, acting on each; the failure to report, if the reply was unusable."""
        parser = VerdictStreamParser()
        reading = Reading()
        try:
            async with aclosing(bounded_text(verifier, request, reading)) as chunks:
                async for chunk in chunks:
                    for verdict in parser.feed(chunk):
                        await self._act_on(attempt, verdict, judged, model, verifier.model)
                    if parser.failed:
                        break
                else:
                    if not reading.cut:
                        parser.close()
        finally:
            self._count_check_tokens(attempt, reading, request)
        if len(judged) == len(attempt.pending):
            return None
        return parser.error or "the verifier gave no verdict on some cards"

    def _count_check_tokens(self, attempt: Attempt, reading: Reading, request: LLMRequest) -> None:
        tokens_in, tokens_out, estimated = self._tokens(reading.chars, reading.usage, request)
        before = attempt.check_tokens
        attempt.check_tokens = (
            before[0] + tokens_in,
            before[1] + tokens_out,
            before[2] or estimated,
        )

    # -- the answer check --------------------------------------------------------------------

    async def _check_answer(
        self, attempt: Attempt, card: ParsedCard, provider: LLMProvider
    ) -> tuple[VerdictLabel, str, str | None] | None:
        """Ask each of the note's questions again on its own (beside the batch still
        streaming); (label, reason, checking model) to hold it back with, or None to keep it."""
        for question in answer_check.questions_of(card):
            request = prompts.build_answer_again_request(attempt.plan.prompt, question.text)
            try:
                again = await self._answer_again(attempt, provider, request)
            except LLMError as error:
                metrics.LLM_ERRORS.labels(error.kind).inc()
                reason = f"Not checked: the answer check failed ({error.message})."
                return VerdictLabel.UNCHECKED, reason, None
            cosine = None  # embedded only when the words do not decide
            if answer_check.agreed_by_words(question.answer, again) is None:
                cosine = await asyncio.to_thread(_cosine, attempt.embedder, question.answer, again)
            if not answer_check.answers_agree(question.answer, again, cosine):
                reason = answer_check.unsure_reason(question, again)
                return VerdictLabel.UNSURE, reason, provider.model
        return None

    async def _answer_again(
        self, attempt: Attempt, provider: LLMProvider, request: LLMRequest
    ) -> str:
        """The provider's answer, read up to what max_tokens allows; its tokens are the batch's."""
        reading = Reading()
        try:
            async with aclosing(bounded_text(provider, request, reading)) as chunks:
                text = [chunk async for chunk in chunks]
        finally:
            self._count_check_tokens(attempt, reading, request)
        return "".join(text).strip()

    async def _act_on(
        self,
        attempt: Attempt,
        verdict: Verdict,
        judged: dict[int, Pending],
        model: str,
        verifier_model: str,
    ) -> None:
        if not 1 <= verdict.card <= len(attempt.pending) or verdict.card in judged:
            return  # a number the batch does not have, or a second verdict: the first stands
        pending = judged[verdict.card] = attempt.pending[verdict.card - 1]
        if verdict.passes:
            await self._save(attempt, pending, model)
            return
        reason = verdict.reason or f"The verifier marked it {verdict.label.value}."
        await self._hold(attempt, pending, model, verdict.label, reason, verifier_model)

    async def _hold(
        self,
        attempt: Attempt,
        pending: Pending,
        model: str,
        label: VerdictLabel,
        reason: str,
        verifier_model: str | None,
    ) -> None:
        for card in pending.cards:
            held = await asyncio.to_thread(
                self.service.hold_card,
                attempt.plan,
                attempt.plan.lease,
                card,
                model,
                label,
                reason,
                verifier_model,
                note_guid=pending.note_guid,
                citation=pending.citation,
            )
            if held is None:
                raise LeaseLost()
            attempt.held += 1
            metrics.CARDS_REJECTED.labels(f"held_{label.value}").inc()
        self._notify(attempt.plan.topic_id)

    async def _heartbeat(self, plan: JobPlan) -> None:
        """Keep the lease while the model is slow between cards (saving a card renews it too)."""
        every = max(1.0, self.settings.lease_seconds / 3)
        while True:
            await asyncio.sleep(every)
            started = time.monotonic()
            renewed = await asyncio.to_thread(self.service.renew_lease, plan.job_id, plan.lease)
            took = time.monotonic() - started
            if took > every:
                log.warning("job %s: renewing its lease took %.1f s", plan.job_id, took)
            if not renewed:
                log.warning("job %s: its lease was gone when renewed", plan.job_id)
                return

    # -- deciding how an attempt ended -----------------------------------------------------

    def _tokens(
        self, chars_read: int, usage: Usage | None, request: LLMRequest
    ) -> tuple[int, int, bool]:
        """(input, output, estimated)."""
        if usage is not None:
            return usage.input_tokens, usage.output_tokens, usage.estimated
        # No usage from the provider (a cut stream): estimate at ~4 characters a token from
        # what was read, which the bounds on reading keep within what was asked for.
        prompt_chars = len(request.system) + len(request.user)
        return prompt_chars // 4, min(chars_read // 4, request.max_tokens), True

    def _usage_fields(
        self, chars_read: int, usage: Usage | None, request: LLMRequest, provider: LLMProvider
    ) -> dict:
        """What every attempt's Outcome says about its tokens (counted in the metrics too)."""
        tokens_in, tokens_out, estimated = self._tokens(chars_read, usage, request)
        metrics.LLM_TOKENS.labels("input").inc(tokens_in)
        metrics.LLM_TOKENS.labels("output").inc(tokens_out)
        return {
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
            "tokens_estimated": estimated,
            "model": provider.model,
        }

    def _base(self, attempt, parser, usage, request, provider) -> dict:
        if parser.skipped:
            metrics.CARDS_REJECTED.labels("invalid").inc(parser.skipped)
        fields = self._usage_fields(attempt.chars_read, usage, request, provider)
        # The verification pass's tokens are the batch's too: metered with them, once.
        check_in, check_out, check_estimated = attempt.check_tokens
        metrics.LLM_TOKENS.labels("input").inc(check_in)
        metrics.LLM_TOKENS.labels("output").inc(check_out)
        fields["tokens_in"] += check_in
        fields["tokens_out"] += check_out
        fields["tokens_estimated"] = fields["tokens_estimated"] or check_estimated
        return {
            **fields,
            "duplicates": attempt.duplicates,
            "invalid": parser.skipped + attempt.ungrounded,
        }

    def _retry_delay(self, plan: JobPlan, hint: float | None = None) -> float:
        factor = RETRY_FACTORS[min(max(plan.attempt, 1), len(RETRY_FACTORS)) - 1]
        return max(factor * self.settings.llm_retry_delay, hint or 0.0)

    def _outcome_after_error(self, attempt, parser, error, usage, request, provider) -> Outcome:
        base = self._base(attempt, parser, usage, request, provider)
        if attempt.wanted <= 0:
            return Outcome(
                kind=OutcomeKind.DONE, **base
            )  # the stream broke after the last card we needed
        message = f"The LLM provider ({provider.name}) failed: {error.message}"
        if not error.retryable:
            return Outcome(kind=OutcomeKind.FAILED, error=message, **base)
        delay = self._retry_delay(attempt.plan, error.retry_after)
        return Outcome(kind=OutcomeKind.RETRY, error=message, retry_after=delay, **base)

    def _outcome(self, attempt, parser, usage, request, provider) -> Outcome:
        base = self._base(attempt, parser, usage, request, provider)
        if attempt.verify_failed and attempt.saved == 0:
            # Nothing could be checked, so nothing was shown: retried, then failed, visibly.
            return Outcome(
                kind=OutcomeKind.RETRY,
                error=f"The verification pass could not check this batch "
                f"({attempt.verify_failed}); its cards are held back unchecked on the topic page",
                retry_after=self._retry_delay(attempt.plan),
                **base,
            )
        # A whole reply of duplicates is done (the topic counts fruitless batches), and so is
        # one stopped for repeating itself; one without a single well-formed card is retried
        # like a broken reply. A batch the verifier held back entirely is done too.
        parsed_any = attempt.saved > 0 or attempt.duplicates > 0 or attempt.held > 0
        looping = attempt.repeats_in_row >= REPEATS_TO_STOP
        if attempt.wanted <= 0 or looping or (parser.complete and parsed_any):
            return Outcome(kind=OutcomeKind.DONE, **base)
        if attempt.saved > 0:
            # A reply cut short (e.g. by max_tokens) still delivered cards: keep them and let
            # the buffer logic ask for more when needed.
            return Outcome(kind=OutcomeKind.DONE, **base)
        reason = parser.error or _no_card_reason(parser)
        if attempt.ungrounded and not parser.error:
            reason = "no card cited a passage of its batch with words the passage contains"
        return Outcome(
            kind=OutcomeKind.RETRY,
            error=attempt.stopped or f"The model's reply was not usable card XML ({reason})",
            retry_after=self._retry_delay(attempt.plan),
            **base,
        )

    # -- an outline job ----------------------------------------------------------------------

    async def _attempt_outline(self, plan: JobPlan) -> Outcome:
        """Stream the topic's outline (or an extension of it) and save it once complete: an
        outline cut short is asked for again rather than saved in part."""
        try:
            provider = self.provider()
        except LLMError as error:
            metrics.LLM_ERRORS.labels(error.kind).inc()
            return Outcome(kind=OutcomeKind.FAILED, error=_outline_error(error.message))
        request = prompts.build_outline_request(
            plan.prompt,
            plan.level,
            plan.outline,
            max_tokens=self.settings.llm_max_tokens,
            temperature=self.settings.llm_temperature,
        )
        parser = OutlineStreamParser()
        reading = Reading()
        found: list[ParsedSubtopic] = []
        heartbeat = asyncio.create_task(self._heartbeat(plan))
        try:
            async with aclosing(bounded_text(provider, request, reading)) as chunks:
                async for chunk in chunks:
                    found += parser.feed(chunk)
            if reading.cut:
                message = _outline_error(
                    f"the reply ran past {reading.chars} characters, more than "
                    f"max_tokens={request.max_tokens} allows"
                )
                return self._outline_outcome(plan, reading, request, provider, None, message)
            found += parser.close()
        except LLMError as error:
            metrics.LLM_ERRORS.labels(error.kind).inc()
            message = _outline_error(f"the LLM provider ({provider.name}) failed: {error.message}")
            return self._outline_outcome(plan, reading, request, provider, error, message)
        finally:
            heartbeat.cancel()
        if not parser.complete or not found:
            reason = parser.error or "the outline had no subtopic"
            message = _outline_error(f"the model's reply was not a usable outline ({reason})")
            return self._outline_outcome(plan, reading, request, provider, None, message)
        if await asyncio.to_thread(self.service.save_outline, plan, plan.lease, found) is None:
            raise LeaseLost()
        self._notify(plan.topic_id)
        return self._outline_outcome(plan, reading, request, provider, None, None)

    def _outline_outcome(
        self,
        plan: JobPlan,
        reading: Reading,
        request: LLMRequest,
        provider: LLMProvider,
        error: LLMError | None,
        message: str | None,
    ) -> Outcome:
        base = self._usage_fields(reading.chars, reading.usage, request, provider)
        if message is None:
            return Outcome(kind=OutcomeKind.DONE, **base)
        if error is not None and not error.retryable:
            return Outcome(kind=OutcomeKind.FAILED, error=message, **base)
        delay = self._retry_delay(plan, error.retry_after if error else None)
        return Outcome(kind=OutcomeKind.RETRY, error=message, retry_after=delay, **base)


def _outline_error(reason: str) -> str:
    return f"The topic's outline could not be written: {reason}. Press retry to try again."


def _no_card_reason(parser: CardStreamParser) -> str:
    if parser.skipped:
        return parser.skip_reason or "no card had both a front and a back"
    return "the reply held no card"


def _to_check(pending: Pending) -> prompts.CardToCheck:
    note = pending.note
    if note.cloze is not None:
        return prompts.CardToCheck(note.cloze.text, note.back, *_cited(pending.citation))
    return prompts.CardToCheck(note.front, note.back, *_cited(pending.citation))


def _cited(citation: Citation | None) -> tuple[int | None, str | None]:
    return (citation.passage_id, citation.quote) if citation else (None, None)


def _dedup_unavailable(error: EmbeddingError) -> str:
    return (
        "Generation stopped: the duplicate check needs the embedding model, which cannot run "
        f"({error.message})"
    )


def _embed_and_check(attempt: Attempt, text: CardText) -> tuple[CardVectors, Match | None]:
    """Blocking, in a worker thread: the card's vectors and the held card it repeats."""
    (vectors,) = embed_cards(attempt.embedder, [text])
    return vectors, _check(attempt, text, vectors)


def _check(attempt: Attempt, text: CardText, vectors: CardVectors) -> Match | None:
    """Blocking, in a worker thread: the held card `text` repeats."""
    with single_blas_thread():
        return attempt.dedup.duplicate_of(text, vectors)


def _cosine(embedder: Embedder, answer: str, again: str) -> float:
    """Blocking, in a worker thread: how close two answers are (unit vectors: their dot)."""
    if not again:
        return 0.0
    with single_blas_thread():
        first, second = embedder.embed([answer, again])
        return float(first @ second)


# A basic card's fields as the stream shows them before `</card>`: one line of plain text
# only (markup, entities, CDATA or several lines are left to the parser, and such a card is
# embedded once parsed, as before).
_OPEN_CARD = re.compile(r"<card[\s>]")
_FIELD = {name: re.compile(rf"<{name}>([^<&]*)</{name}>") for name in ("front", "back")}
_LAYOUT = re.compile(r"[ \t\r\n]+")
_MAX_CARD_CHARS = 8192  # watched of one card at most (a runaway field is left to the parser)


class EarlyEmbedding:
    """Watches the raw stream for the open card's front and back, and holds the embedding
    started for them. The parser stays the judge: the vectors are used only for a parsed
    card with exactly that text (`take`); anything else (a cloze card, a field with markup,
    a card the parser skips) is embedded once parsed, as before."""

    def __init__(self) -> None:
        # From the open card's `<card` while its fields are awaited; else a short tail, in
        # case the next `<card` is split across chunks.
        self._text = ""
        self._card: CardText | None = None
        self._task: asyncio.Task[list[CardVectors]] | None = None

    def feed(self, text: str) -> CardText | None:
        """The open card's text, once, when both its fields are closed."""
        self._text += text
        opened = None
        for opened in _OPEN_CARD.finditer(self._text, max(0, len(self._text) - len(text) - 5)):
            pass
        if opened is not None:
            self._text = self._text[opened.start() :]
        watching = self._text.startswith("<card")
        if not watching or "</card>" in self._text or len(self._text) > _MAX_CARD_CHARS:
            self._text = self._text[-5:]
            return None
        fields = [_FIELD[name].search(self._text) for name in ("front", "back")]
        if fields[0] is None or fields[1] is None:
            return None
        self._text = self._text[-5:]  # found: this card is not watched any more
        raw = [f.group(1) for f in fields]
        if any(sum(1 for line in r.split("\n") if line.strip(" \t\r")) > 1 for r in raw):
            return None  # several lines (code, a list): the parser keeps their layout
        front, back = (_LAYOUT.sub(" ", r).strip(" ") for r in raw)
        return CardText(front, back) if front and back else None

    def start(self, card: CardText, task: asyncio.Task[list[CardVectors]]) -> None:
        self.drop()
        self._card, self._task = card, task

    def take(self, card: CardText) -> asyncio.Task[list[CardVectors]] | None:
        """The embedding started for exactly this card's text, if any."""
        task, matches = self._task, self._card == card
        if task is None or not matches:
            return None
        self._card = self._task = None
        return task

    def drop(self) -> None:
        """Forget an embedding nobody will use (its thread finishes on its own)."""
        if self._task is not None:
            self._task.add_done_callback(_ignore_outcome)
            self._task.cancel()
        self._card = self._task = None


def _ignore_outcome(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: an unused embedding's failure is not news
