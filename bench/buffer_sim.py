"""Does the learner wait for cards? Today's fixed refill point against the adaptive one.

A simulated clock runs a scripted model at the embedded model's measured speed (first card
5-8 s after a batch starts, then one card every 4-6 s; one batch at a time per topic, as the
service does) and learners who take 3, 6 or 12 s a card. After each answer, and when a batch
finishes, the buffer decision is made the way `GenerationService.ensure_buffer` makes it: the
fixed policy asks for a batch of 10 below 5 unseen cards (SRS_REFILL_BELOW); the adaptive one
asks when and for as many as `refill.plan_from(...)` and `refill.wants_batch(...)` say, fed
with the finished batches and the answer times: the same functions the service calls
(srs/generation/pace.py), for the topic's first batch too (sized before any answer).

Reports, per learner and policy, the size of the topic's first batch, the seconds spent waiting
after the first card, and how many unseen cards were left when the session ended (cards
generated ahead, the cost of refilling early and in larger batches).

    .venv/bin/python bench/buffer_sim.py [--cards 60] [--seeds 50] [--held 0.3]

`--held` turns the answer check on: each written card also takes its check's time and is held
back (never shown) with that probability; the service times a batch by the cards it saved.
"""

from __future__ import annotations

import argparse
import random
import statistics
from dataclasses import dataclass, field

from srs.generation import refill

BATCH = 10
FLOOR = 5  # SRS_REFILL_BELOW
MAX_UNSEEN = 40  # SRS_MAX_UNSEEN
QUEUE_SECONDS = 0.5  # from the request to the worker claiming the job
PACES = (3.0, 6.0, 12.0)
# The answer check's second answer, beside the batch (bench/verify_graded.py, tests/llm).
CHECK_SECONDS = (0.3, 0.6)


@dataclass(frozen=True)
class Speed:
    """The model's: seconds from a batch's start to its first card, then between cards (each
    drawn uniformly from the range). The default is the issue's measurement on two cores."""

    first: tuple[float, float] = (5.0, 8.0)
    per_card: tuple[float, float] = (4.0, 6.0)


@dataclass
class Topic:
    rng: random.Random
    adaptive: bool
    held: float = 0.0  # the share of written cards the answer check holds back
    speed: Speed = field(default_factory=lambda: Speed())
    now: float = 0.0
    arrivals: list[float] = field(default_factory=list)  # times of cards not yet arrived
    ready: int = 0  # arrived, unseen
    batch_end: float | None = None
    batches: list[refill.BatchTiming] = field(default_factory=list)
    answers: list[float] = field(default_factory=list)
    speeds: list[float] = field(default_factory=list)  # each batch: seconds a card, start to last

    def start_batch(self, size: int) -> None:
        """`size` cards written; with the answer check on, each takes its check's time too
        and is held back (never arrives) with the measured probability."""
        started = self.now + QUEUE_SECONDS
        written = [started + self.rng.uniform(*self.speed.first) + self.check()]
        for _ in range(size - 1):
            written.append(written[-1] + self.rng.uniform(*self.speed.per_card) + self.check())
        times = [t for t in written if self.rng.random() >= self.held]
        self.arrivals = times
        self.batch_end = written[-1]
        self.speeds.append((written[-1] - started) / max(1, len(times)))
        if times:  # the service times a batch by its saved cards (pace.timings_of)
            per_card = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else None
            self._pending_timing = refill.BatchTiming(times[0] - started, per_card)
        else:
            self._pending_timing = None

    def check(self) -> float:
        return self.rng.uniform(*CHECK_SECONDS) if self.held else 0.0

    def advance(self, until: float) -> None:
        """Move the clock, delivering cards and finishing the batch on the way."""
        while self.arrivals and self.arrivals[0] <= until:
            self.arrivals.pop(0)
            self.ready += 1
        self.now = until
        if self.batch_end is not None and self.batch_end <= until:
            self.batch_end = None
            if self._pending_timing is not None:  # a batch with no card saved is not timed
                self.batches.append(self._pending_timing)
            self.ensure_buffer()  # the service decides again when a batch finishes

    def ensure_buffer(self) -> None:
        if self.batch_end is not None:
            return  # one batch at a time
        plan = self.plan()
        if refill.wants_batch(self.ready, plan, FLOOR):
            self.start_batch(plan.size)

    def plan(self) -> refill.Refill:
        """What `pace.refill_plan` computes in the service, from the same inputs (the newest
        10 finished batches, the newest 12 answers); today's fixed point for the baseline."""
        if not self.adaptive:
            return refill.Refill(below=FLOOR, size=BATCH)
        return refill.plan_from(
            self.batches[-10:],
            self.answers[-12:],
            batch_size=BATCH,
            floor=FLOOR,
            max_unseen=MAX_UNSEEN,
            quota_left=None,
            prior=refill.UNMEASURED,  # the embedded model (SRS_LLM_PROVIDER=local)
        )


def next_arrival(topic: Topic) -> float:
    return min([*topic.arrivals[:1], *([topic.batch_end] if topic.batch_end else [])])


@dataclass(frozen=True)
class Run:
    waited: float  # seconds waited for a card, after the first card
    left: int  # unseen cards (ready or being written) when the session ended
    slowest: float  # the slowest batch's seconds a card, from its start to its last card


def session(
    pace: float, adaptive: bool, cards: int, seed: int, held: float = 0.0, speed: Speed = Speed()
) -> Run:
    topic = Topic(random.Random(seed), adaptive, held, speed)
    topic.start_batch(topic.plan().size)  # creating the topic asks for the first batch
    waited = 0.0
    studied = 0
    while studied < cards:
        while topic.ready == 0:
            arrival = next_arrival(topic)
            if studied > 0:
                waited += arrival - topic.now
            topic.advance(arrival)
        topic.ready -= 1
        # Studying this card: the clock runs, cards arrive, batches finish.
        topic.advance(topic.now + pace)
        topic.answers.append(topic.now)
        studied += 1
        topic.ensure_buffer()
    return Run(waited, topic.ready + len(topic.arrivals), max(topic.speeds))


def low_high(text: str) -> tuple[float, float]:
    low, high = (float(x) for x in text.split(","))
    return low, high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=60, help="cards each learner studies")
    parser.add_argument("--seeds", type=int, default=50, help="simulated sessions per learner")
    parser.add_argument("--held", type=float, default=0.0,
                        help="share of written cards the answer check holds back (0: no check)")
    parser.add_argument("--first", default="5,8", help="seconds to a batch's first card: low,high")
    parser.add_argument("--per-card", default="4,6", help="seconds between cards: low,high")
    args = parser.parse_args()
    speed = Speed(low_high(args.first), low_high(args.per_card))
    print(f"model: first card {args.first} s after a batch starts, then {args.per_card} s a card")
    print(f"{args.cards} cards a session, {args.seeds} sessions per row, usual batch {BATCH}, "
          f"answer check: " + (f"{args.held:.0%} held back" if args.held else "off"))
    print(
        "| learner | policy | first batch | waited after the first card: mean | max "
        "| sessions that waited | unseen left at the end (mean) |"
    )
    print("|---|---|---|---|---|---|---|")
    slowest = 0.0
    for pace in PACES:
        for adaptive in (False, True):
            runs = [
                session(pace, adaptive, args.cards, seed, args.held, speed)
                for seed in range(args.seeds)
            ]
            waits = [run.waited for run in runs]
            left = statistics.mean(run.left for run in runs)
            slowest = max(slowest, *(run.slowest for run in runs))
            name = "adaptive" if adaptive else f"fixed (below {FLOOR})"
            first = Topic(random.Random(0), adaptive).plan().size
            print(
                f"| {pace:.0f} s a card | {name} | {first} | {statistics.mean(waits):.1f} s | "
                f"{max(waits):.1f} s | {sum(w > 0 for w in waits)} of {len(waits)} | {left:.1f} |"
            )
    print(
        f"Slowest batch simulated: {slowest:.2f} s a card from its start to its last card "
        f"({slowest * BATCH:.0f} s for {BATCH} cards)"
    )


if __name__ == "__main__":
    main()
