"""Leeches rewritten: the model proposes one clearer card, or a split into two, and the
learner accepts or rejects the proposal.

Asking never changes a card: the proposal is stored (`proposed`) and answered as is. On
accept, a one-card proposal rewords the same card (its id, FSRS state and review history
stay; its leech count starts again); a two-card proposal retires the old card (suspended,
with the reason in the card list) and adds two new cards in its topic and subtopic.

Metering: the tokens of every request that reached the model are recorded through the
metering service (a reply that is not a usable proposal included: the model was paid for).
No card is billed to the card quota, not even a split's two: they replace a card the learner
already has, and only a leech can be split, so this cannot be used to mint cards.

The model is reached outside any database transaction: the endpoint reads (`prepare`), waits
on the model (`ask`), then writes (`record`), each step in its own short transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from srs.accounts.models import User
from srs.generation import prompts
from srs.generation.xml_stream import CardStreamParser
from srs.kit import metrics
from srs.kit.db import utcnow
from srs.kit.errors import AppError, conflict, not_found
from srs.kit.settings import Settings
from srs.llm import build_provider
from srs.llm.base import LLMError, LLMProvider, LLMRequest, Reading, Usage, bounded_text
from srs.metering import service as metering
from srs.rewrites import repository
from srs.rewrites.models import CardRewrite, RewriteKind, RewriteStatus
from srs.sources import service as sources
from srs.topics import service as topics
from srs.topics.models import LEECH_LAPSES, Card

log = logging.getLogger(__name__)

# A proposal is one or two short cards: a reply needs little room, and a runaway one is cut.
REWRITE_MAX_TOKENS = 800
REWRITES_PER_HOUR = 30


@dataclass(frozen=True)
class RewriteAsk:
    """What the model is asked, read from the card in the first transaction."""

    user: User
    card_id: int
    front: str
    back: str
    request: LLMRequest


@dataclass(frozen=True)
class ModelAnswer:
    cards: list[tuple[str, str]] = field(default_factory=list)
    model: str | None = None
    tokens: tuple[int, int] = (0, 0)
    estimated: bool = False
    error: AppError | None = None  # set when there is no usable proposal


def not_a_leech(card: Card) -> AppError:
    lapses = card.lapses - card.rewritten_at_lapses
    return AppError(
        f"Only a leech can be rewritten: a card failed {LEECH_LAPSES} or more times "
        f"(lapses). This one has {lapses}.",
        code="not_a_leech",
        status_code=409,
    )


def _retired(card: Card) -> AppError:
    return conflict(f"This card was retired: {card.retired_reason}")


def _bad_output(reason: str) -> AppError:
    return AppError(
        f"The model's proposal was not usable ({reason}). Nothing was changed; try again.",
        code="llm_bad_output",
        status_code=502,
    )


def _provider_failed(provider: LLMProvider, error: LLMError) -> AppError:
    status = 503 if error.kind in ("not_configured", "overloaded", "rate_limited") else 502
    return AppError(
        f"The LLM provider ({provider.name}) failed: {error.message}. Nothing was changed.",
        code="llm_failed",
        status_code=status,
    )


def _unavailable(error: LLMError) -> AppError:
    return AppError(error.message, code="llm_not_configured", status_code=503)


def proposal_problem(
    parser: CardStreamParser, cards: list, original: tuple[str, str]
) -> str | None:
    """Pure: why the parsed reply is not a usable proposal, or None."""
    if len(cards) > prompts.REWRITE_MAX_CARDS:
        return f"more than {prompts.REWRITE_MAX_CARDS} cards"
    if parser.failed:
        return parser.error or "invalid XML"
    if not cards:
        return parser.skip_reason or parser.error or "the reply held no card"
    if not parser.complete:
        return parser.error or "the reply was cut short"
    if any(card.cloze is not None for card in cards):
        return "a cloze card; a rewrite is question and answer cards"
    if len(cards) == 1 and (cards[0].front, cards[0].back) == original:
        return "the same card again"
    return None


class RewriteService:
    """One instance, made by the app's lifespan. `provider` is the generation worker's own
    (one embedded model in memory, not two); without a worker in the process, the service
    builds the same configured provider once, and closes it in `aclose`."""

    def __init__(
        self, settings: Settings, provider: Callable[[], LLMProvider] | None = None
    ) -> None:
        self.settings = settings
        self._shared = provider
        self._own: LLMProvider | None = None

    def _provider(self) -> LLMProvider:
        if self._shared is not None:
            return self._shared()
        if self._own is None:
            self._own = build_provider(self.settings)
        return self._own

    async def aclose(self) -> None:
        if self._own is not None and hasattr(self._own, "aclose"):
            await self._own.aclose()

    # -- asking for a proposal ----------------------------------------------------------------

    def prepare(self, session: Session, user: User, card_id: int) -> RewriteAsk:
        """404 for a card that is not the learner's, 409 for one that is not a leech."""
        card = topics.get_card(session, user, card_id)
        if card.retired_reason is not None:
            raise _retired(card)
        if not card.leech:
            raise not_a_leech(card)
        topic = topics.get_topic(session, user, card.topic_id)
        request = prompts.build_rewrite_request(
            topic.prompt,
            card.front,
            card.back,
            card.lapses,
            max_tokens=min(self.settings.llm_max_tokens, REWRITE_MAX_TOKENS),
            temperature=self.settings.llm_temperature,
        )
        return RewriteAsk(
            user=user, card_id=card.id, front=card.front, back=card.back, request=request
        )

    async def ask(self, ask: RewriteAsk) -> ModelAnswer:
        """Stream the model's reply through the card parser; never raises."""
        try:
            provider = self._provider()
        except LLMError as error:
            return ModelAnswer(error=_unavailable(error))
        request = ask.request
        parser = CardStreamParser(max_field_chars=prompts.REWRITE_FIELD_CHARS)
        cards: list = []
        reading = Reading()
        failure: AppError | None = None
        try:
            async with aclosing(bounded_text(provider, request, reading)) as chunks:
                # Read on past a refused reply (the parser then takes nothing in): the
                # provider's token count comes at the end, and the cap bounds the wait.
                async for chunk in chunks:
                    cards += parser.feed(chunk)
            if reading.cut:
                failure = _bad_output(f"the reply ran past {reading.chars} characters")
            else:
                cards += parser.close()
        except LLMError as error:
            metrics.LLM_ERRORS.labels(error.kind).inc()
            failure = _provider_failed(provider, error)
        tokens, estimated = _tokens(request, reading.usage, reading.chars)
        metrics.LLM_TOKENS.labels("input").inc(tokens[0])
        metrics.LLM_TOKENS.labels("output").inc(tokens[1])
        if failure is None:
            problem = proposal_problem(parser, cards, (ask.front, ask.back))
            failure = _bad_output(problem) if problem else None
        if failure is not None:
            log.info("rewrite of card %s failed: %s", ask.card_id, failure.message)
            return ModelAnswer(
                model=provider.model, tokens=tokens, estimated=estimated, error=failure
            )
        texts = [(card.front, card.back) for card in cards]
        return ModelAnswer(texts, provider.model, tokens, estimated)

    def record(self, session: Session, ask: RewriteAsk, answer: ModelAnswer) -> CardRewrite | None:
        """Meter the tokens; store the proposal if there is one and the card is still as it
        was asked about (None otherwise: the caller reports why after this commits)."""
        metering.record_tokens(
            session, ask.user.id, metering.usage_key(), 0, utcnow(), answer.tokens, answer.estimated
        )
        if answer.error is not None:
            return None
        try:
            card = topics.get_card(session, ask.user, ask.card_id)
        except AppError:
            return None  # deleted while the model wrote: the tokens are metered all the same
        if (card.front, card.back) != (ask.front, ask.back) or card.retired_reason is not None:
            return None
        row = CardRewrite(
            card_id=card.id,
            user_id=ask.user.id,
            status=RewriteStatus.PROPOSED.value,
            original_front=card.front,
            original_back=card.back,
            cards=[{"front": front, "back": back} for front, back in answer.cards],
            model=answer.model,
        )
        repository.add(session, row)
        return row

    @staticmethod
    def failure(answer: ModelAnswer) -> AppError:
        """Why `record` stored nothing."""
        return answer.error or conflict(
            "The card was changed or deleted while the model was writing; nothing was "
            "changed. Ask again."
        )

    # -- the learner's decision ---------------------------------------------------------------

    def get(
        self, session: Session, user: User, rewrite_id: int, *, lock: bool = False
    ) -> CardRewrite:
        row = repository.get(session, user.id, rewrite_id, lock=lock)
        if row is None:
            raise not_found("Rewrite not found")
        return row

    def _open(self, session: Session, user: User, rewrite_id: int) -> tuple[CardRewrite, Card]:
        row = self.get(session, user, rewrite_id, lock=True)
        if row.status != RewriteStatus.PROPOSED:
            raise conflict(f"This rewrite was already {row.status}")
        card = topics.get_card(session, user, row.card_id, lock=True)
        return row, card

    def accept(
        self, session: Session, user: User, rewrite_id: int
    ) -> tuple[CardRewrite, Card, list[Card]]:
        """Reword the card (history kept), or retire it for a split's two new cards."""
        row, card = self._open(session, user, rewrite_id)
        if card.retired_reason is not None:
            raise _retired(card)
        if (card.front, card.back) != (row.original_front, row.original_back):
            raise conflict(
                "The card was changed since this rewrite was proposed; ask for a new one."
            )
        texts = [(c["front"], c["back"]) for c in row.cards]
        new_cards: list[Card] = []
        if row.kind == RewriteKind.REWORD:
            topics.reword_card(session, card, *texts[0])
        else:
            new_cards = topics.add_replacement_cards(session, card, texts, row.model)
            sources.carry_citation(session, card.id, [c.id for c in new_cards])
            ids = ", ".join(f"#{c.id}" for c in new_cards)
            topics.retire_card(session, card, f"split into two clearer cards ({ids}) by a rewrite")
            row.new_card_ids = [c.id for c in new_cards]
        row.status = RewriteStatus.ACCEPTED.value
        row.decided_at = utcnow()
        session.flush()
        return row, card, new_cards

    def reject(self, session: Session, user: User, rewrite_id: int) -> tuple[CardRewrite, Card]:
        row, card = self._open(session, user, rewrite_id)
        row.status = RewriteStatus.REJECTED.value
        row.decided_at = utcnow()
        session.flush()
        return row, card


def export_rows(session: Session, user_id: int) -> dict[str, list]:
    """The learner's rewrite proposals, decided or not (for GET /me/export)."""
    return {"card_rewrites": repository.user_rewrites(session, user_id)}


def _tokens(request: LLMRequest, usage: Usage | None, chars: int) -> tuple[tuple[int, int], bool]:
    """The provider's count; without one, an estimate (~4 characters a token) when the model
    wrote anything, and nothing when it never answered."""
    if usage is not None:
        return (usage.input_tokens, usage.output_tokens), usage.estimated
    if chars == 0:
        return (0, 0), False
    prompt_chars = len(request.system) + len(request.user)
    return (prompt_chars // 4, min(chars // 4, request.max_tokens)), True
