from __future__ import annotations

from fastapi import APIRouter, Request

from srs.accounts.dependencies import BriefCaller, CurrentUser
from srs.kit.deps import DbSession, Limiter, RowId, in_transaction
from srs.kit.errors import ErrorOut
from srs.rewrites.dependencies import Rewrites
from srs.rewrites.models import CardRewrite, RewriteStatus
from srs.rewrites.schemas import DecisionOut, ProposedCard, RewriteOut
from srs.rewrites.service import REWRITES_PER_HOUR
from srs.topics import views

router = APIRouter(tags=["rewrites"])

_LLM_ERRORS = {
    502: {"model": ErrorOut, "description": "The model failed or wrote no usable proposal"},
    503: {"model": ErrorOut, "description": "No LLM provider configured, or it is overloaded"},
}


def rewrite_out(row: CardRewrite) -> RewriteOut:
    return RewriteOut(
        id=row.id,
        card_id=row.card_id,
        status=RewriteStatus(row.status),
        kind=row.kind,
        original=ProposedCard(front=row.original_front, back=row.original_back),
        cards=[ProposedCard(**card) for card in row.cards],
        model=row.model,
        created_at=row.created_at,
        decided_at=row.decided_at,
    )


@router.post(
    "/cards/{card_id}/rewrite", status_code=201, response_model=RewriteOut, responses=_LLM_ERRORS
)
async def propose_rewrite(
    card_id: RowId, request: Request, caller: BriefCaller, rewrites: Rewrites, limiter: Limiter
) -> RewriteOut:
    """Ask the model for a clearer version of a leech, or a split into two cards. Changes no
    card: accept or reject the proposal. 409 `not_a_leech` for a card that is not a leech."""
    limiter.hit("rewrites", str(caller.user.id), REWRITES_PER_HOUR, 3600)
    # No session is held while the model writes: read, ask, then write, each step on its own.
    ask = await in_transaction(request, rewrites.prepare, caller.user, card_id, write=False)
    answer = await rewrites.ask(ask)
    row = await in_transaction(request, rewrites.record, ask, answer)
    if row is None:
        raise rewrites.failure(answer)
    return rewrite_out(row)


@router.get("/rewrites/{rewrite_id}", response_model=RewriteOut)
def get_rewrite(
    rewrite_id: RowId, user: CurrentUser, db: DbSession, rewrites: Rewrites
) -> RewriteOut:
    return rewrite_out(rewrites.get(db, user, rewrite_id))


@router.post("/rewrites/{rewrite_id}/accept", response_model=DecisionOut)
def accept_rewrite(
    rewrite_id: RowId, user: CurrentUser, db: DbSession, rewrites: Rewrites
) -> DecisionOut:
    """One card: the same card reworded, its schedule and history kept. Two cards: the old
    card is retired (suspended, with the reason) and two new cards are added to its topic."""
    row, card, new_cards = rewrites.accept(db, user, rewrite_id)
    return DecisionOut(
        rewrite=rewrite_out(row),
        card=views.card_out(card),
        new_cards=[views.card_out(c) for c in new_cards],
    )


@router.post("/rewrites/{rewrite_id}/reject", response_model=DecisionOut)
def reject_rewrite(
    rewrite_id: RowId, user: CurrentUser, db: DbSession, rewrites: Rewrites
) -> DecisionOut:
    """Keep the card as it is; the proposal is marked rejected."""
    row, card = rewrites.reject(db, user, rewrite_id)
    return DecisionOut(rewrite=rewrite_out(row), card=views.card_out(card))
