"""The answer check: a card's question asked again, on its own, of the model that wrote it.

A small model's wrong cards are mostly answers it does not hold firmly: written in the flow
of a batch ("What is the Spanish word for "tomorrow"?" -> "jueves" after a run of weekdays,
"capital of Austria" -> "Austria"), or invented. Asked the question again in a fresh context,
with nothing to copy from, it answers something else. A card whose two answers disagree is
held back as `unsure` (restorable); one whose answers agree is kept. Measured on 186
hand-graded cards of the embedded model (bench/verify_graded.py --method reanswer): 85 of the
112 kept are correct (76%, against 53% of all), 34 of the 39 wrong ones are held back, and 13
of the 98 correct ones; asking the same model for a verdict on its own cards instead (the
verification pass) approved 178 of the 186, right or wrong. Through the service, two graded
runs showed 106 correct cards of 127 (83%; docs/local_quality_grades.md).

Pure: the worker asks the question (prompts.build_answer_again_request) and embeds both
answers; this module says what to ask and whether the answers agree.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

from srs.generation.dedup import fold, singular
from srs.generation.xml_stream import ParsedCard

# Two answers longer than SHORT_WORDS agree when their MiniLM embeddings are at least this
# close. Measured over the graded cards (the whole rule, this threshold varied): 0.6 kept 122
# cards, 70% correct; 0.7 114, 75%; 0.75 112, 76%; 0.8 108, 76%; 0.9 104, 78%. Past 0.75 it
# mostly loses right answers given again in other words ("Use []" for "Use the list() function").
AGREE_COSINE: Final = 0.75
# Answers of at most this many words (after filler) are names or terms: compared by their words.
SHORT_WORDS: Final = 3
# Words that do not change an answer ("the capital", "a list").
_FILLER: Final = frozenset({"a", "an", "the", "el", "la", "los", "las", "un", "una", "le", "les"})


@dataclass(frozen=True)
class Question:
    """One card's question as asked again, and the answer the card gives."""

    ordinal: int | None  # the cloze deletion it asks for (None: a basic card)
    text: str
    answer: str


def questions_of(card: ParsedCard) -> list[Question]:
    """What to ask again for a parsed note: its front and back, or one question per cloze
    deletion (the sentence with that gap, the words that fill it)."""
    if card.cloze is None:
        return [Question(None, card.front, card.back)]
    return [
        Question(n, f"What fills the gap? {card.cloze.front(n)}", " … ".join(card.cloze.answers(n)))
        for n in card.cloze.ordinals
    ]


def normalise(answer: str) -> str:
    """Case, accents kept apart from letters, punctuation and filler words set aside."""
    folded = unicodedata.normalize("NFKC", answer).casefold()
    words = re.findall(r"\w+", folded)
    return " ".join(w for w in words if w not in _FILLER)


def _singular(words: str) -> str:
    """Each word without a plural -s ("Molecules" and "Molecule" are one answer)."""
    return " ".join(singular(w) for w in words.split())


def same_words(answer: str, again: str) -> bool:
    """Equal, or one holds the other's words in order ("Luxembourg" / "Luxembourg City"),
    plural -s aside."""
    a, b = _singular(normalise(answer)), _singular(normalise(again))
    if not a or not b:
        return False
    short, long = sorted((a, b), key=len)
    return re.search(rf"(^|\s){re.escape(short)}($|\s)", long) is not None


def agreed_by_words(answer: str, again: str) -> bool | None:
    """True for the same words; False for names or terms (up to SHORT_WORDS words) that
    differ, however close their embeddings ("Austria" and "Vienna": 0.81); None for longer
    answers, which the embeddings decide. A second answer that drops an accent the card has
    still confirms it ("Sí" / "Si"); a card that lacks one the second answer has is not
    confirmed ("adios" / "Adiós")."""
    if same_words(answer, again) or same_words(fold(answer), again):
        return True
    short = max(len(normalise(answer).split()), len(normalise(again).split())) <= SHORT_WORDS
    return False if short else None


def answers_agree(answer: str, again: str, cosine: float | None) -> bool:
    """Whether the answer given again confirms the card's answer: the words decide, or for
    longer answers the embeddings' `cosine` (needed only then: agreed_by_words is None)."""
    by_words = agreed_by_words(answer, again)
    if by_words is not None:
        return by_words
    if cosine is None:
        raise ValueError("longer answers are compared by their embeddings: cosine is needed")
    return cosine >= AGREE_COSINE


def unsure_reason(question: Question, again: str) -> str:
    """What the learner reads on a card held back for a disagreement."""
    again = " ".join(again.split())[:120] or "nothing"
    gap = f" (gap {question.ordinal})" if question.ordinal is not None else ""
    return (
        f"Asked this question again on its own{gap}, the model answered \u201c{again}\u201d: "
        "its two answers disagree, so the card may be wrong."
    )
