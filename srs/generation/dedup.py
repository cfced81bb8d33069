"""Semantic near-duplicate detection of cards. Pure: vectors and texts in, a decision out.

Models repeat facts across batches in new words ("What year was the Bastille stormed?" /
"In what year was the storming of the Bastille?") and write look-alikes that are different
facts (Austria / Australia, World War I / II). Fronts alone never tell them apart: the answer
does. A new card repeats a held card when

1. their embeddings of front and back together are close (`card_threshold`): same subject;
2. their answers agree: the answers' own embeddings are close (`answer_threshold`), or the
   words of one answer are all in the other ("Everest" / "Mount Everest"), or both answers
   hold the same numbers ("About 300,000 km per second" / "Roughly 300,000 km/s");
3. their numbers do not conflict: 1914 / 1939, 404 / 403 or 6 / 12.011 are other facts.

The thresholds were chosen on tests/data/dedup_pairs.jsonl (bench/dedup_eval.py gives the
safe window of each and docs/benchmarks.md the figures), in the middle of the window.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

# all-MiniLM-L6-v2 on the labelled set: every look-alike is kept and 33 of 35 paraphrases
# merged for a card threshold in 0.73-0.81 and an answer threshold in 0.765-0.905 (each
# moved alone); these sit in the middle of both windows.
CARD_THRESHOLD: Final = 0.77
ANSWER_THRESHOLD: Final = 0.84

Vector = npt.NDArray[np.float32]

_NUMBER: Final = re.compile(r"\d+(?:[.,]\d+)*")
_WORD: Final = re.compile(r"\w+")
# Words that do not change what an answer says ("The Nile" / "Nile"), in the languages of
# the labelled set; short on purpose: "not" and "no" stay, they flip an answer.
_FILLER: Final = frozenset({
    "a", "an", "the", "of", "in", "on", "at", "to", "is", "was", "it", "its", "and", "or",
    "le", "la", "les", "l", "un", "une", "de", "du", "des", "d", "en", "et", "est",
    "el", "los", "las", "del", "y", "es",
})  # fmt: skip


@dataclass(frozen=True)
class CardText:
    front: str
    back: str

    def embedding_text(self) -> str:
        """What is embedded for the card as a whole: the question and its answer together."""
        return f"{self.front}\n{self.back}"


@dataclass(frozen=True)
class CardVectors:
    """Unit-length embeddings of one card: the whole card, and its answer alone."""

    card: Vector
    answer: Vector


@dataclass(frozen=True)
class Match:
    card_id: int
    score: float  # cosine similarity of the two cards (front and back together)


def numbers(text: str) -> frozenset[str]:
    """The numbers in a text, with thousands separators dropped: "300,000" is "300000"."""
    return frozenset(re.sub(r"[.,]", "", n) for n in _NUMBER.findall(text))


def numbers_conflict(a: CardText, b: CardText) -> bool:
    """Neither card's numbers include the other's: "1914" / "It started in 1914" agree,
    "1914" / "1939" and "HTTP 404" / "HTTP 403" do not."""
    x, y = _Facts.of(a).numbers, _Facts.of(b).numbers
    return not (x <= y or y <= x)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def answer_words(answer: str) -> frozenset[str]:
    text = unicodedata.normalize("NFKC", answer).casefold()
    return frozenset(_stem(w) for w in _WORD.findall(text) if w not in _FILLER)


def answer_contained(a: str, b: str) -> bool:
    """One answer says the other and more: "Au" / "Au (from Latin aurum)", "6" / "6 protons"."""
    return _one_holds_the_other(answer_words(a), answer_words(b))


def _one_holds_the_other(x: frozenset[str], y: frozenset[str]) -> bool:
    return bool(x and y) and (x <= y or y <= x)


@dataclass(frozen=True)
class Thresholds:
    card: float = CARD_THRESHOLD
    answer: float = ANSWER_THRESHOLD

    def __post_init__(self) -> None:
        if not (0 < self.card <= 1 and 0 < self.answer <= 1):
            raise ValueError("thresholds must be in (0, 1]")


@dataclass(frozen=True)
class _Facts:
    """What the answer checks read from a card, computed once when it enters the index."""

    numbers: frozenset[str]  # in front and back
    answer_numbers: frozenset[str]
    answer_words: frozenset[str]

    @classmethod
    def of(cls, text: CardText) -> _Facts:
        return cls(numbers(f"{text.front} {text.back}"), numbers(text.back), answer_words(text.back))


def same_fact(
    new: CardText,
    new_vectors: CardVectors,
    held: CardText,
    held_vectors: CardVectors,
    thresholds: Thresholds = Thresholds(),
) -> bool:
    """The decision for one pair; `DedupIndex` applies it to a whole deck at once."""
    card_score = float(new_vectors.card @ held_vectors.card)
    answer_score = float(new_vectors.answer @ held_vectors.answer)
    return card_score >= thresholds.card and _answers_agree(
        _Facts.of(new), _Facts.of(held), answer_score, thresholds
    )


def _answers_agree(new: _Facts, held: _Facts, answer_score: float, t: Thresholds) -> bool:
    if not (new.numbers <= held.numbers or held.numbers <= new.numbers):
        return False  # conflicting numbers: 1914 / 1939
    if answer_score >= t.answer:
        return True
    if _one_holds_the_other(new.answer_words, held.answer_words):
        return True  # "Everest" / "Mount Everest"
    # "About 300,000 km per second" / "Roughly 300,000 km/s": a numeric answer is its number.
    return bool(new.answer_numbers) and new.answer_numbers == held.answer_numbers


class DedupIndex:
    """The cards of a topic, asked whether a new card repeats one of them.

    Vectors live in one growing matrix, so a check is one matrix-vector product over the
    deck, then set comparisons for the cards above the card threshold (many, in a deck of
    "What is the capital of X?", so their answer scores come from one product too).
    """

    def __init__(self, thresholds: Thresholds = Thresholds()) -> None:
        self.thresholds = thresholds
        # Sized on the first card: the model decides the dimensions; doubled when full.
        self._cards = np.zeros((0, 0), dtype=np.float32)
        self._answers = np.zeros((0, 0), dtype=np.float32)
        self._ids: list[int] = []
        self._facts: list[_Facts] = []
        # A model stuck on one card repeats it word for word: those need no embedding.
        self._verbatim: dict[tuple[str, str], int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, card_id: int, text: CardText, vectors: CardVectors) -> None:
        n = len(self._ids)
        if n and len(vectors.card) != self._cards.shape[1]:
            raise ValueError(
                f"vectors of {len(vectors.card)} dimensions added to an index of "
                f"{self._cards.shape[1]}: were they made by another model?"
            )
        if n == len(self._cards):
            grown = (max(64, 2 * n), len(vectors.card))
            self._cards = _grow(self._cards, grown)
            self._answers = _grow(self._answers, grown)
        self._cards[n] = vectors.card
        self._answers[n] = vectors.answer
        self._ids.append(card_id)
        self._facts.append(_Facts.of(text))
        self._verbatim.setdefault(_verbatim_key(text), card_id)

    def verbatim_copy_of(self, text: CardText) -> Match | None:
        """The held card `text` repeats word for word (case and spacing aside), found without
        embedding it."""
        card_id = self._verbatim.get(_verbatim_key(text))
        return None if card_id is None else Match(card_id=card_id, score=1.0)

    def duplicate_of(self, text: CardText, vectors: CardVectors) -> Match | None:
        """The held card that `text` repeats: the most similar one whose answer agrees."""
        n = len(self._ids)
        if n == 0:
            return None
        scores = self._cards[:n] @ vectors.card
        candidates = np.flatnonzero(scores >= self.thresholds.card)
        candidates = candidates[np.argsort(-scores[candidates], kind="stable")]
        answer_scores = self._answers[candidates] @ vectors.answer
        facts = _Facts.of(text)
        for i, answer_score in zip(candidates.tolist(), answer_scores.tolist()):
            if _answers_agree(facts, self._facts[i], answer_score, self.thresholds):
                return Match(card_id=self._ids[i], score=round(float(scores[i]), 4))
        return None


def _verbatim_key(text: CardText) -> tuple[str, str]:
    def fold(value: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", value).casefold().split())

    return fold(text.front), fold(text.back)


def _grow(matrix: Vector, shape: tuple[int, int]) -> Vector:
    grown = np.zeros(shape, dtype=np.float32)
    if len(matrix):
        grown[: len(matrix)] = matrix
    return grown
