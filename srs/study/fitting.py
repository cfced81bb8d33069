"""Fit a learner's own FSRS-6 parameters from their review log, with fsrs-rs-python. No I/O.

fsrs-rs trains on `FSRSItem`s: one per review to be predicted, holding the card's whole
history up to and including that review, each step as (rating, whole days since the previous
review). It needs no torch, and takes well under a second for thousands of reviews.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from fsrs.scheduler import LOWER_BOUNDS_PARAMETERS, UPPER_BOUNDS_PARAMETERS
from fsrs_rs_python import DEFAULT_PARAMETERS, FSRS, FSRSItem, FSRSReview

from srs.study.scheduling import utc

# Anki starts the next day at 4 am local time; for a learner on UTC that is 04:00 UTC.
# Pass the learner's own: 4 am in UTC-7 is timedelta(hours=11).
ANKI_DAY_START = timedelta(hours=4)


@dataclass(frozen=True)
class ReviewRecord:
    card_id: int
    rating: int  # 1 Again, 2 Hard, 3 Good, 4 Easy
    reviewed_at: datetime  # UTC


def elapsed_days(earlier: datetime, later: datetime, day_start: timedelta = ANKI_DAY_START) -> int:
    """Calendar days between two reviews, for a learner whose day begins at `day_start` (a
    time of day in UTC): reviews the same evening and the next morning are one day apart.

    Not py-fsrs's completed 24-hour periods: on a real log (bench/fsrs_eval.py) fitting with
    calendar days predicted better even when scored by py-fsrs, because next-day reviews less
    than 24 hours later become targets instead of same-day noise.
    """
    earlier, later = utc(earlier), utc(later)
    return ((later - day_start).date() - (earlier - day_start).date()).days


def build_items(
    reviews: Iterable[ReviewRecord], day_start: timedelta = ANKI_DAY_START
) -> list[FSRSItem]:
    """One FSRSItem per review made at least a day after the card's previous review.

    Same-day reviews stay in the history (delta 0, FSRS's short-term memory terms) but are not
    targets, as in fsrs-rs's own examples: a review minutes later says little about memory.
    """
    by_card: dict[int, list[ReviewRecord]] = defaultdict(list)
    for review in reviews:
        by_card[review.card_id].append(review)
    items: list[FSRSItem] = []
    for history in by_card.values():
        history.sort(key=lambda r: utc(r.reviewed_at))
        steps: list[FSRSReview] = []
        previous = history[0].reviewed_at
        for review in history:
            delta = elapsed_days(previous, review.reviewed_at, day_start)
            steps.append(FSRSReview(review.rating, delta))
            if delta > 0:
                items.append(FSRSItem(list(steps)))
            previous = review.reviewed_at
    return [item for item in items if item.long_term_review_cnt() > 0]


def fit_parameters(
    reviews: Sequence[ReviewRecord], day_start: timedelta = ANKI_DAY_START
) -> tuple[float, ...]:
    """21 FSRS-6 parameters for srs.study.scheduling.make_scheduler.

    fsrs-rs returns its defaults when there is too little data to fit.
    """
    fitted = FSRS(list(DEFAULT_PARAMETERS)).compute_parameters(build_items(reviews, day_start))
    return tuple(_within_bounds(fitted))


def _within_bounds(parameters: Sequence[float]) -> list[float]:
    # fsrs-rs computes in float32 and clips to nearly the same ranges as py-fsrs; a value a
    # hair outside py-fsrs's range would make its Scheduler refuse the whole set.
    return [
        min(high, max(low, round(value, 4)))
        for value, low, high in zip(
            parameters, LOWER_BOUNDS_PARAMETERS, UPPER_BOUNDS_PARAMETERS, strict=True
        )
    ]
