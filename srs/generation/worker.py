"""The generation worker: claims jobs, streams the LLM, saves each card the moment it is parsed.

No database transaction is open while we wait on the LLM: each step (claim, save one card,
renew the lease, finish) is its own short transaction, run in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import timedelta

from srs.generation import prompts
from srs.generation.dedup import DedupIndex
from srs.generation.service import GenerationService, JobPlan, Outcome
from srs.generation.xml_stream import CardStreamParser, ParsedCard
from srs.kit import metrics
from srs.kit.db import utcnow
from srs.kit.settings import Settings
from srs.llm.base import LLMError, LLMProvider, LLMRequest, Usage

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 1.0
# Text read past the last wanted card while waiting for </cards> and the usage report.
OVERFLOW_CHARS = 400
# Multiples of settings.llm_retry_delay before retrying a job whose stream broke or whose XML
# was unusable (the provider adapters already retried what failed before any text arrived).
RETRY_FACTORS = (1.0, 5.0, 20.0)


class LeaseLost(Exception):
    """Another worker holds the job now (ours expired): stop writing to it."""


@dataclass
class Attempt:
    """What one attempt at a job has produced so far."""

    plan: JobPlan
    dedup: DedupIndex
    text: list[str] = field(default_factory=list)
    saved: int = 0
    duplicates: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def wanted(self) -> int:
        return self.plan.count - self.saved


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
    ) -> None:
        self.service = service
        self.settings = settings
        self._provider_factory = provider_factory
        self._provider: LLMProvider | None = None
        self._provider_error: LLMError | None = None
        self._notify = notify
        self._slots = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: set[asyncio.Task] = set()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    # -- lifecycle -------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        log.info("generation worker %s started", self.owner)
        while not self._stopping:
            await self._slots.acquire()
            try:
                job_id = await asyncio.to_thread(self._claim)
            except Exception:
                self._slots.release()
                log.exception("claiming a generation job failed; retrying shortly")
                await asyncio.sleep(IDLE_POLL_SECONDS)
                continue
            if job_id is None:
                self._slots.release()
                await self._idle()
                continue
            task = asyncio.create_task(self._run_job(job_id))
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

    def _claim(self) -> int | None:
        from srs.generation import repository

        lease = timedelta(seconds=self.settings.lease_seconds)
        with self.service.db.transaction() as session:
            return repository.claim_next(session, self.owner, utcnow(), lease)

    def warm_up(self) -> None:
        """Let a provider that runs in-process (the embedded model) load and evaluate the
        card system prompt in the background now, so the first topic does not wait for it."""
        try:
            provider = self.provider()
        except LLMError as error:
            log.info("no LLM provider to warm up: %s", error.message)
            return
        if hasattr(provider, "warm_up"):
            provider.warm_up(prompts.system_prompt())

    def provider(self) -> LLMProvider:
        if self._provider is None:
            self._provider = self._provider_factory()
        return self._provider

    # -- one job ---------------------------------------------------------------------------

    async def _run_job(self, job_id: int) -> None:
        try:
            plan = await asyncio.to_thread(self.service.start_job, job_id, self.owner)
            if plan is None:
                return
            outcome = await self._attempt(plan)
            await asyncio.to_thread(self.service.finish_job, job_id, self.owner, outcome)
        except LeaseLost:
            log.warning("job %s: lease lost to another worker; leaving it", job_id)
        except asyncio.CancelledError:
            raise  # shutting down: the lease expires and the job is claimed again
        except Exception:
            log.exception("job %s crashed", job_id)
            await self._requeue_after_crash(job_id)
        finally:
            self._slots.release()
            self.wake()

    async def _requeue_after_crash(self, job_id: int) -> None:
        outcome = Outcome(kind="retry", error="Internal error while generating", retry_after=5)
        try:
            await asyncio.to_thread(self.service.finish_job, job_id, self.owner, outcome)
        except Exception:
            # Typically the database is down too: the lease runs out and the ticker requeues it.
            log.exception("job %s: could not requeue; its lease will expire", job_id)

    def _request(self, plan: JobPlan) -> LLMRequest:
        return prompts.build_request(
            plan.prompt,
            plan.level,
            plan.count,
            plan.existing_fronts,
            max_tokens=self.settings.llm_max_tokens,
            temperature=self.settings.llm_temperature,
        )

    async def _attempt(self, plan: JobPlan) -> Outcome:
        if plan.count <= 0:
            return Outcome(kind="done")
        try:
            provider = self.provider()
        except LLMError as error:
            metrics.LLM_ERRORS.labels(error.kind).inc()
            return Outcome(kind="failed", error=error.message)
        request = self._request(plan)
        known = list(plan.existing_fronts)
        parser = CardStreamParser()
        if getattr(provider, "few_shot", False):
            known += prompts.example_fronts()  # a small base model copies its examples
        attempt = Attempt(plan=plan, dedup=DedupIndex(known))
        usage: Usage | None = None
        overflow = 0
        heartbeat = asyncio.create_task(self._heartbeat(plan.job_id))
        try:
            async with aclosing(provider.stream(request)) as stream:
                async for event in stream:
                    if isinstance(event, Usage):
                        usage = event
                        continue
                    attempt.text.append(event.text)
                    await self._accept(attempt, parser.feed(event.text), provider.model)
                    if attempt.wanted <= 0 and not parser.complete:
                        # Read on to </cards> and the usage report, but not through a model
                        # that writes far more than it was asked for.
                        overflow += len(event.text)
                        if overflow > OVERFLOW_CHARS:
                            break
                else:
                    await self._accept(attempt, parser.close(), provider.model)
        except LLMError as error:
            metrics.LLM_ERRORS.labels(error.kind).inc()
            return self._outcome_after_error(attempt, parser, error, usage, request, provider)
        finally:
            heartbeat.cancel()
        return self._outcome(attempt, parser, usage, request, provider)

    async def _accept(self, attempt: Attempt, cards: list[ParsedCard], model: str) -> None:
        for card in cards:
            if attempt.wanted <= 0:
                return
            if attempt.dedup.duplicate_of(card.front) is not None:
                attempt.duplicates += 1
                metrics.CARDS_REJECTED.labels("duplicate").inc()
                continue
            card_id = await asyncio.to_thread(
                self.service.save_card, attempt.plan, self.owner, card, model
            )
            if card_id is None:
                raise LeaseLost()
            if attempt.saved == 0:
                metrics.TIME_TO_FIRST_CARD.observe(time.monotonic() - attempt.started)
            attempt.saved += 1
            attempt.dedup.add(card.front)
            metrics.CARDS_SAVED.inc()
            self._notify(attempt.plan.topic_id)

    async def _heartbeat(self, job_id: int) -> None:
        """Keep the lease while the model is slow between cards (saving a card renews it too)."""
        while True:
            await asyncio.sleep(max(1.0, self.settings.lease_seconds / 3))
            if not await asyncio.to_thread(self.service.renew_lease, job_id, self.owner):
                return

    # -- deciding how an attempt ended -----------------------------------------------------

    def _tokens(
        self, attempt: Attempt, usage: Usage | None, request: LLMRequest
    ) -> tuple[int, int, bool]:
        """(input, output, estimated)."""
        if usage is not None:
            return usage.input_tokens, usage.output_tokens, usage.estimated
        # No usage from the provider (a cut stream): estimate at ~4 characters a token.
        prompt_chars = len(request.system) + len(request.user)
        return prompt_chars // 4, len("".join(attempt.text)) // 4, True

    def _base(self, attempt, parser, usage, request, provider) -> dict:
        tokens_in, tokens_out, estimated = self._tokens(attempt, usage, request)
        metrics.LLM_TOKENS.labels("input").inc(tokens_in)
        metrics.LLM_TOKENS.labels("output").inc(tokens_out)
        if parser.skipped:
            metrics.CARDS_REJECTED.labels("invalid").inc(parser.skipped)
        return {
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
            "tokens_estimated": estimated,
            "duplicates": attempt.duplicates,
            "invalid": parser.skipped,
            "model": provider.model,
        }

    def _retry_delay(self, plan: JobPlan, hint: float | None = None) -> float:
        factor = RETRY_FACTORS[min(max(plan.attempt, 1), len(RETRY_FACTORS)) - 1]
        return max(factor * self.settings.llm_retry_delay, hint or 0.0)

    def _outcome_after_error(self, attempt, parser, error, usage, request, provider) -> Outcome:
        base = self._base(attempt, parser, usage, request, provider)
        if attempt.wanted <= 0:
            return Outcome(kind="done", **base)  # the stream broke after the last card we needed
        message = f"The LLM provider ({provider.name}) failed: {error.message}"
        if not error.retryable:
            return Outcome(kind="failed", error=message, **base)
        delay = self._retry_delay(attempt.plan, error.retry_after)
        return Outcome(kind="retry", error=message, retry_after=delay, **base)

    def _outcome(self, attempt, parser, usage, request, provider) -> Outcome:
        base = self._base(attempt, parser, usage, request, provider)
        if attempt.wanted <= 0 or parser.complete:
            return Outcome(kind="done", **base)
        if attempt.saved > 0:
            # A reply cut short (e.g. by max_tokens) still delivered cards: keep them and let
            # the buffer logic ask for more when needed.
            return Outcome(kind="done", **base)
        reason = parser.error or "the reply held no complete card"
        return Outcome(
            kind="retry",
            error=f"The model's reply was not usable card XML ({reason})",
            retry_after=self._retry_delay(attempt.plan),
            **base,
        )
