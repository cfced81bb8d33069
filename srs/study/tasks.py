"""Scheduled study chores: fitting each learner's own FSRS parameters once they have enough
reviews (and again as their history grows by a quarter)."""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from srs.accounts.models import User
from srs.kit.db import Database, utcnow
from srs.kit.settings import Settings
from srs.study import repository
from srs.study.clock import day_start_offset
from srs.study.fitting import ReviewRecord, fit_parameters
from srs.study.models import ReviewLog

log = logging.getLogger(__name__)
REFIT_GROWTH = 1.25


def learners_due_for_fit(db: Database, min_reviews: int) -> list[int]:
    with db.transaction(write=False) as session:
        rows = session.execute(
            select(User.id, User.fsrs_fitted_reviews, func.count(ReviewLog.id))
            .join(ReviewLog, ReviewLog.user_id == User.id)
            .group_by(User.id, User.fsrs_fitted_reviews)
            .having(func.count(ReviewLog.id) >= min_reviews)
        ).all()
    return [uid for uid, fitted, count in rows if not fitted or count >= fitted * REFIT_GROWTH]


def fit_learner(db: Database, user_id: int) -> tuple[float, ...]:
    with db.transaction(write=False) as session:
        user = session.get(User, user_id)
        # Days end at the learner's own 4 am, as in Anki (which also keeps today's UTC offset
        # for the whole history).
        day_start = day_start_offset(user.timezone if user else "UTC", utcnow())
        reviews = [ReviewRecord(c, r, t) for c, r, t in repository.user_reviews(session, user_id)]
    parameters = fit_parameters(reviews, day_start)  # outside any transaction: it is CPU work
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is not None:
            user.fsrs_parameters = list(parameters)
            user.fsrs_fitted_at = utcnow()
            user.fsrs_fitted_reviews = len(reviews)
    log.info("fitted FSRS parameters for user %s on %d reviews", user_id, len(reviews))
    return parameters


def fit_due_learners(db: Database, settings: Settings) -> int:
    due = learners_due_for_fit(db, settings.fit_min_reviews)
    for user_id in due:
        fit_learner(db, user_id)
    return len(due)
