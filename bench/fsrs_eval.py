"""Replay a real Anki review log through srs.study.scheduling and score its recall predictions.

Each review made at least one day (24 hours, as py-fsrs counts elapsed days) after the card's
previous review is predicted just before it is applied: p = retrievability(), recalled =
rating > 1. Compared on the same second-half reviews: a constant (the first half's recall rate),
FSRS-6 with default parameters, and FSRS-6 with parameters fitted (srs.study.fitting) on the
first half.

Run from the repo root: .venv/bin/python bench/fsrs_eval.py [path/to/review_logs.csv]
The CSV has card_id, review_rating (1-4), review_time (ISO 8601 with offset), review_duration.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _machine import machine  # noqa: E402
from srs.study.fitting import ReviewRecord, fit_parameters
from srs.study.scheduling import (
    DEFAULT_PARAMETERS,
    MemoryState,
    Rating,
    make_scheduler,
    retrievability,
    review,
)

DEFAULT_CSV = Path("../shared/data/fsrs_review_logs_sample.csv")
EPSILON = 1e-6  # predictions are clipped to [EPSILON, 1 - EPSILON] for the log loss
CALIBRATION_BINS = 20
REFERENCE = (  # srs-benchmark, anki-revlogs-10k collections; NOT measured here
    ("FSRS-6 (srs-benchmark reference, not measured here)", 0.346, 0.065, 0.703),
    ("SM-2 (srs-benchmark reference, not measured here)", 0.722, 0.203, 0.603),
)


@dataclass(frozen=True)
class Prediction:
    index: int  # position of the review in time order
    p: float
    recalled: bool
    elapsed_days: int
    review_number: int  # 1 for the card's first review
    lapses: int  # earlier Again ratings given a day or more after the previous review


def load(path: Path) -> list[ReviewRecord]:
    with path.open(newline="") as file:
        rows = [
            ReviewRecord(
                card_id=int(row["card_id"]),
                rating=int(row["review_rating"]),
                reviewed_at=datetime.fromisoformat(row["review_time"]),
            )
            for row in csv.DictReader(file)
        ]
    return sorted(rows, key=lambda r: r.reviewed_at)  # stable: file order breaks ties


def replay(reviews: Sequence[ReviewRecord], parameters: Sequence[float]) -> list[Prediction]:
    """Feed every review, in time order, through review(); predict before each one made a day
    or more after the card's previous review. Fuzz only moves due dates, not predictions, but
    is off anyway so runs are identical."""
    scheduler = make_scheduler(parameters, fuzz=False)
    memories: dict[int, MemoryState] = defaultdict(MemoryState)
    counts: dict[int, int] = defaultdict(int)
    lapses: dict[int, int] = defaultdict(int)
    predictions = []
    for index, r in enumerate(reviews):
        memory = memories[r.card_id]
        counts[r.card_id] += 1
        if memory.last_review is not None:
            elapsed = (r.reviewed_at - memory.last_review) // timedelta(days=1)
            if elapsed >= 1:
                predictions.append(
                    Prediction(
                        index=index,
                        p=retrievability(scheduler, memory, r.reviewed_at),
                        recalled=r.rating > 1,
                        elapsed_days=elapsed,
                        review_number=counts[r.card_id],
                        lapses=lapses[r.card_id],
                    )
                )
                lapses[r.card_id] += r.rating == 1
        memories[r.card_id] = review(scheduler, memory, Rating(r.rating), r.reviewed_at, r.card_id)
    return predictions


def log_loss(predictions: Sequence[Prediction]) -> float:
    return -statistics.fmean(
        math.log(min(1 - EPSILON, max(EPSILON, x.p if x.recalled else 1 - x.p)))
        for x in predictions
    )


def _log_bin(value: int, scale: float, base: float, digits: int) -> float:
    return round(scale * base ** math.floor(math.log(value) / math.log(base)), digits)


def srs_benchmark_bin(x: Prediction) -> tuple[float, float, float]:
    """srs-benchmark's RMSE(bins) groups: interval, review number and lapse count, each on a
    log scale with its constants (interval 2.48·3.62^k, review number 1.99·1.89^k, lapses
    1.65·1.73^k or 0)."""
    lapses = _log_bin(x.lapses, 1.65, 1.73, 0) if x.lapses else 0.0
    return (
        _log_bin(x.elapsed_days, 2.48, 3.62, 2),
        _log_bin(x.review_number, 1.99, 1.89, 0),
        lapses,
    )


def calibration_bin(x: Prediction) -> int:
    return min(CALIBRATION_BINS - 1, int(x.p * CALIBRATION_BINS))


def rmse_bins(
    predictions: Sequence[Prediction],
    key: Callable[[Prediction], Hashable] = srs_benchmark_bin,
) -> float:
    """RMSE between mean prediction and mean outcome per bin, bins weighted by their size."""
    bins: dict[Hashable, list[Prediction]] = defaultdict(list)
    for x in predictions:
        bins[key(x)].append(x)
    squared = sum(
        len(group)
        * (statistics.fmean(x.p for x in group) - statistics.fmean(x.recalled for x in group)) ** 2
        for group in bins.values()
    )
    return math.sqrt(squared / len(predictions))


def auc(predictions: Sequence[Prediction]) -> float:
    """Probability that a recalled review got a higher prediction than a forgotten one
    (Mann-Whitney, ties count half)."""
    ordered = sorted(predictions, key=lambda x: x.p)
    rank_sum, start = 0.0, 0
    while start < len(ordered):  # average rank over each run of tied predictions
        end = start
        while end < len(ordered) and ordered[end].p == ordered[start].p:
            end += 1
        mean_rank = (start + 1 + end) / 2
        rank_sum += mean_rank * sum(x.recalled for x in ordered[start:end])
        start = end
    positives = sum(x.recalled for x in ordered)
    negatives = len(ordered) - positives
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def row(name: str, scored_on: str, predictions: Sequence[Prediction]) -> str:
    return (
        f"| {name} | {scored_on} | {len(predictions)} | {log_loss(predictions):.3f}"
        f" | {rmse_bins(predictions):.3f} | {rmse_bins(predictions, calibration_bin):.3f}"
        f" | {auc(predictions):.3f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Score FSRS recall predictions on a review log.")
    parser.add_argument("csv", nargs="?", type=Path, default=DEFAULT_CSV)
    path = parser.parse_args().csv
    reviews = load(path if path.is_absolute() else ROOT / path)
    half = len(reviews) // 2
    started = time.perf_counter()
    fitted = fit_parameters(reviews[:half])
    fit_seconds = time.perf_counter() - started
    default_all = replay(reviews, DEFAULT_PARAMETERS)
    fitted_later = [x for x in replay(reviews, fitted) if x.index >= half]
    in_sample = replay(reviews, fit_parameters(reviews))

    recall_rate = statistics.fmean(x.recalled for x in default_all if x.index < half)
    later = [x for x in default_all if x.index >= half]
    constant = [replace(x, p=recall_rate) for x in later]

    print(f"Machine: {machine()}")
    print(f"Command: .venv/bin/python bench/fsrs_eval.py {path}")
    print(
        f"Data: {len(reviews)} reviews of {len({r.card_id for r in reviews})} cards,"
        f" {reviews[0].reviewed_at:%Y-%m-%d} to {reviews[-1].reviewed_at:%Y-%m-%d};"
        f" second half from {reviews[half].reviewed_at:%Y-%m-%d %H:%M} UTC;"
        f" recall rate {recall_rate:.3f} in the first half,"
        f" {statistics.fmean(x.recalled for x in later):.3f} in the second;"
        f" fit took {fit_seconds:.2f} s"
    )
    print(f"Fitted on the first half: {list(fitted)}\n")
    print(
        "| model | scored on | reviews | log loss | RMSE (bins) | RMSE (calibration)"
        " | AUC |\n|---|---|---|---|---|---|---|"
    )
    print(row("constant: first-half recall rate", "second half", constant))
    print(row("FSRS-6, default parameters", "second half", later))
    print(row("FSRS-6, fitted on the first half", "second half", fitted_later))
    print(row("FSRS-6, default parameters", "all", default_all))
    print(row("FSRS-6, fitted on all (in-sample, optimistic)", "all", in_sample))
    for name, loss, rmse, area in REFERENCE:
        print(f"| {name} | 10k collections | — | {loss:.3f} | {rmse:.3f} | — | {area:.3f} |")


if __name__ == "__main__":
    main()
