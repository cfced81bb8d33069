"""Simulated learners against the adaptive difficulty controller (srs.generation.difficulty).

Model: a card generated at level L has difficulty d = L + N(0, 0.5); a learner of ability a
recalls it on the first attempt with probability sigmoid(a - d) (rated Good, else Again). Cards
come in batches of 10 and the level is read once per batch request, as the service does.
Baseline in the same run: a fixed level 3 (no adaptation).

Run from the repo root: .venv/bin/python bench/difficulty_sim.py [--seeds 200]
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _machine import machine  # noqa: E402
from srs.generation.difficulty import (
    DifficultyState,
    level_for_batch,
    record_first_attempt,
)

TARGET = 0.85
BAND = 0.05
CARDS = 100
BATCH = 10
NOISE_SD = 0.5
SCORED = slice(40, 100)  # cards 41-100, after the controller had four batches to find the level
SETTLE_WINDOW = 20
# Ideal levels 1.2, 2.7, 4.2, 5.7, 7.2 and 9.7 lie inside 1..10, with two fractional parts (how
# closely whole levels can hit 85% depends on it); 1 and 14 lie past either end (clamped).
ABILITIES = (1.0, 3.0, 4.5, 6.0, 7.5, 9.0, 11.5, 14.0)
EDGE_ABILITIES = (1.0, 14.0)

# Expectation over the card-difficulty noise by a fixed quadrature grid (deterministic, exact
# enough at 1e-4): ±4 sd in 81 steps with normal weights.
_GRID = [(-4 + 0.1 * i) * NOISE_SD for i in range(81)]
_WEIGHTS = [math.exp(-0.5 * (x / NOISE_SD) ** 2) for x in _GRID]


@dataclass(frozen=True)
class Run:
    levels: list[int]  # the batch level each card was generated at
    estimates: list[float]  # the controller's continuous level after each card
    expected: list[float]  # probability of success of each card at its level, before the coin
    outcomes: list[float]


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def expected_success(ability: float, level: float) -> float:
    total = sum(w * sigmoid(ability - level - x) for x, w in zip(_GRID, _WEIGHTS))
    return total / sum(_WEIGHTS)


def ideal_level(ability: float) -> float:
    """Level whose expected success is TARGET (bisection; success falls as level rises)."""
    low, high = -10.0, 30.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if expected_success(ability, mid) > TARGET else (low, mid)
    return (low + high) / 2


def simulate(ability: float, seed: int, adaptive: bool) -> Run:
    rng = random.Random(seed)
    state = DifficultyState()
    run = Run([], [], [], [])
    for _ in range(CARDS // BATCH):
        level = level_for_batch(state) if adaptive else 3
        for _ in range(BATCH):
            success = rng.random() < sigmoid(ability - level - rng.gauss(0, NOISE_SD))
            if adaptive:
                state = record_first_attempt(state, 3 if success else 1, TARGET)
            run.levels.append(level)
            run.estimates.append(state.level if adaptive else 3.0)
            run.expected.append(expected_success(ability, level))
            run.outcomes.append(1.0 if success else 0.0)
    return run


def settled_at(run: Run) -> int | None:
    """First card n whose last SETTLE_WINDOW cards had a mean expected success within BAND of
    TARGET. Expected success (not the coin flips) so the measure is the controller's, not luck."""
    for end in range(SETTLE_WINDOW, CARDS + 1):
        window = run.expected[end - SETTLE_WINDOW : end]
        if abs(statistics.fmean(window) - TARGET) <= BAND:
            return end
    return None


def reversals(levels: list[int]) -> int:
    """Direction changes of the batch level (up then down, or down then up)."""
    moves = [b - a for a, b in itertools.pairwise(levels) if b != a]
    return sum(1 for a, b in itertools.pairwise(moves) if (a > 0) != (b > 0))


def percentile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarize(runs: list[Run]) -> dict[str, str]:
    scored = [statistics.fmean(r.outcomes[SCORED]) for r in runs]
    in_band = [abs(statistics.fmean(r.expected[SCORED]) - TARGET) <= BAND for r in runs]
    settled = [s for s in map(settled_at, runs) if s is not None]
    batch_levels = [r.levels[SCORED][::BATCH] for r in runs]
    return {
        "success": f"{statistics.fmean(scored):.3f}",
        "in_band": f"{100 * sum(in_band) / len(runs):.0f}%",
        "settled": (
            f"{statistics.median(settled):.0f} / {percentile(settled, 0.9)}"
            f" ({100 * len(settled) / len(runs):.0f}%)"
            if settled
            else "never"
        ),
        "level": f"{statistics.fmean(statistics.fmean(b) for b in batch_levels):.2f}",
        "sd": f"{statistics.fmean(statistics.pstdev(r.estimates[SCORED]) for r in runs):.2f}",
        "reversals": f"{statistics.fmean(reversals(b) for b in batch_levels):.2f}",
    }


def table(seeds: int) -> str:
    head = (
        "| ability | ideal level | controller | success, cards 41-100 | runs in ±5 pts"
        " | settled at card: median / p90 (% of runs) | mean batch level 41-100"
        " | sd of level 41-100 | level reversals 41-100 |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for ability in ABILITIES:
        ideal = ideal_level(ability)
        note = " (clamped)" if ability in EDGE_ABILITIES else ""
        for name, adaptive in (("adaptive", True), ("fixed 3", False)):
            s = summarize([simulate(ability, seed, adaptive) for seed in range(seeds)])
            rows.append(
                f"| {ability:g} | {ideal:.2f}{note} | {name} | {s['success']} | {s['in_band']}"
                f" | {s['settled']} | {s['level']} | {s['sd']} | {s['reversals']} |"
            )
    return head + "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description="Simulated learners vs adaptive difficulty.")
    parser.add_argument("--seeds", type=int, default=200, help="runs per ability and controller")
    seeds = parser.parse_args().seeds
    print(f"Machine: {machine()}")
    print(f"Command: .venv/bin/python bench/difficulty_sim.py --seeds {seeds}\n")
    print(table(seeds))


if __name__ == "__main__":
    main()
