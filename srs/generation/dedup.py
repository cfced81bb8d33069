"""Semantic near-duplicate detection of cards. Pure: vectors and texts in, a decision out.

Models repeat facts across batches in new words ("What year was the Bastille stormed?" /
"In what year was the storming of the Bastille?") and write look-alikes that are different
facts (Austria / Australia, World War I / II). Fronts alone never tell them apart: the answer
does. A new card repeats a held card when

1. their embeddings of front and back together are close (`card_threshold`): same subject;
2. their answers agree: the answers' own embeddings are close (`answer_threshold`), or the
   words of one answer are all in the other ("Everest" / "Mount Everest"), or both answers
   hold the same numbers ("About 300,000 km per second" / "Roughly 300,000 km/s");
3. their numbers do not conflict: 1914 / 1939, 404 / 403, 6 / 12.011 or World War I / II
   are other facts;
4. their names do not conflict: when each card names something the other does not
   ("Austria" / "Australia", "Marpen" / "Marpene", the Battle of Markel / of Irzan), they are
   different facts, whatever their answers. An embedding sees near-twin names as nearly one
   word, and two answers of the same kind ("918" / "918") agree by chance.

The thresholds were chosen on tests/data/dedup_pairs.jsonl (bench/dedup_eval.py gives the
safe window of each and docs/benchmarks.md the figures), in the middle of the window.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

# all-MiniLM-L6-v2 on the labelled set: every look-alike is kept and at least 14 of each 15
# paraphrases merged for a card threshold in 0.73-0.81 and an answer threshold in
# 0.765-0.905 (each moved alone); these sit in the middle of both windows. The name and rank
# guards (added later) widened the card window to 0.645-0.81; the thresholds stayed.
CARD_THRESHOLD: Final = 0.77
ANSWER_THRESHOLD: Final = 0.84

Vector = npt.NDArray[np.float32]

_NUMBER: Final = re.compile(r"\d+(?:[.,]\d+)*")
_WORD: Final = re.compile(r"\w+")
_ROMAN: Final = re.compile(r"M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})")
_ROMAN_VALUES: Final = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
_ROMAN_ORDINAL: Final = re.compile(r"([IVXLCDM]+)(?:e|er|re|ème)")
# Small words inside a name: "United States of America", "Charles de Gaulle".
_CONNECTORS: Final = frozenset({"of", "the", "and", "de", "du", "des", "la", "le", "del", "y"})
_LONGEST_ACRONYM: Final = 6
# Ordinals in words (folded: no accents), which name a rank as a Roman numeral does: "the
# First World War" is "World War I", "la Cinquième République" "la Ve République".
_ORDINALS: Final = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10,
    "premier": 1, "premiere": 1, "deuxieme": 2, "seconde": 2, "troisieme": 3,
    "quatrieme": 4, "cinquieme": 5, "sixieme": 6, "septieme": 7, "huitieme": 8, "neuvieme": 9,
    "dixieme": 10,
    "primer": 1, "primero": 1, "primera": 1, "segundo": 2, "segunda": 2, "tercer": 3,
    "tercero": 3, "tercera": 3,
}  # fmt: skip
# Capitalised words that open a question or an answer and are not names, in the languages of
# the labelled set. Mid-sentence, a capitalised word is a name in English, French and Spanish
# (German capitalises every noun: a German deck is not served by this list).
_NOT_NAMES: Final = frozenset({
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "whats",
    "is", "are", "was", "were", "do", "does", "did", "can", "could", "should", "would", "will",
    "has", "have", "had", "name", "give", "list", "state", "define", "describe", "explain",
    "translate", "identify", "according", "during", "after", "before", "since", "about",
    "around", "roughly", "approximately", "nearly", "almost", "over", "under", "between",
    "yes", "no", "not", "true", "false", "it", "its", "this", "that", "these", "those", "there",
    "they", "he", "she", "we", "you", "his", "her", "their", "in", "on", "at", "by", "for",
    "from", "with", "of", "to", "as", "the", "an", "and", "or", "but", "if", "so", "each",
    "every", "some", "one", "both", "all", "many", "much", "most", "more", "less",
    "quel", "quelle", "quels", "quelles", "qui", "que", "quoi", "quand", "où", "comment",
    "combien", "pourquoi", "lequel", "laquelle", "est", "sont", "était", "ont", "le", "la",
    "les", "un", "une", "des", "du", "de", "en", "au", "aux", "dans", "sur", "par", "pour",
    "avec", "pendant", "avant", "après", "vers", "environ", "oui", "non", "si", "il", "elle",
    "ils", "elles", "ce", "cette", "ces", "donnez", "nommez", "traduisez", "citez", "qu",
    "cuál", "cuáles", "qué", "quién", "quiénes", "cuándo", "dónde", "cómo", "cuánto",
    "cuántos", "cuánta", "cuántas", "por", "el", "los", "las", "del", "lo", "es", "son", "fue",
    "sí", "unos", "unas", "con", "para", "según", "aproximadamente", "alrededor",
})  # fmt: skip
# Endings that keep a name: plurals, demonyms, doctrines. "Incas" is "Inca", "Australian"
# "Australia", "Germany" "German", "Marxist" and "Marxism" "Marx", "Northern" "North".
_NAME_ENDINGS: Final = ("s", "es", "n", "an", "ian", "ans", "ians", "ns", "y", "ese", "ish",
                        "ism", "ist", "ists", "ern", "ien", "ienne", "ais", "aise")  # fmt: skip
# Endings that replace a name's last vowel: "Rome" / "Roman", "Italy" / "Italian", "China" /
# "Chinese", "Autriche" / "Autrichien", "Espagne" / "Espagnol".
_VOWEL_ENDINGS: Final = ("an", "ian", "ans", "ians", "ese", "ien", "ienne", "ol", "ola", "ais")
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


def numerals(text: str) -> frozenset[int]:
    """Ranks: Roman numerals after a name ("World War II" holds 2, "Louis XIV" 14), French
    ordinals ("la Ve République" 5, "le XIXe siècle" 19) and ordinals in words ("the First
    World War" 1, "la Cinquième République" 5). Kept apart from `numbers`: "the First World
    War" is also "1914-1918"."""
    words = _WORD.findall(unicodedata.normalize("NFKC", text))
    found = {
        _roman_value(word)
        for before, word in itertools.pairwise(words)
        if word and _ROMAN.fullmatch(word) and _is_name(before)
    }
    found |= {_roman_value(m.group(1)) for w in words if (m := _roman_ordinal(w))}
    found |= {_ORDINALS[f] for w in words if (f := fold(w)) in _ORDINALS}
    return frozenset(found)


def _roman_ordinal(word: str) -> re.Match[str] | None:
    """ "Ve", "XIXe", "Ier": a French ordinal; not "De", "Ce", "Me" or "Xe" (xenon)."""
    match = _ROMAN_ORDINAL.fullmatch(word)
    if match is None or not _ROMAN.fullmatch(numeral := match.group(1)):
        return None
    return match if len(numeral) > 1 or numeral in ("I", "V") else None


def _roman_value(numeral: str) -> int:
    values = [_ROMAN_VALUES[c] for c in numeral]
    return sum(-v if v < after else v for v, after in zip(values, [*values[1:], 0]))


def _is_name(word: str) -> bool:
    """A capitalised word that is not a sentence opener nor a rank: "Marpen", "HTTP"."""
    return (
        len(word) > 1
        and word[0].isupper()
        and word.casefold() not in _NOT_NAMES
        and not _ROMAN.fullmatch(word)
        and not _roman_ordinal(word)
        and fold(word) not in _ORDINALS
    )


def names(text: str) -> frozenset[str]:
    """The names in a text, casefolded and without accents: capitalised words that are not
    question words, articles or ranks ("First", "XIV": see `numerals`). "Australia's" holds
    "australia"; "Quelle est la capitale de l'Autriche ?" holds "autriche"."""
    words = _WORD.findall(unicodedata.normalize("NFKC", text))
    return frozenset(fold(w) for w in words if _is_name(w))


def fold(word: str) -> str:
    """Casefolded, without accents: "Cuándo" is "cuando"."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def singular(word: str) -> str:
    """Without a plural -s: "molecules" is "molecule", "rivers" "river"."""
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def same_name(a: str, b: str) -> bool:
    """Two forms of one name (as `names` gives them): "inca" / "incas", "australia" /
    "australian", "rome" / "roman", "german" / "germany". Not "marpen" / "marpene", "niger" /
    "nigeria", "austria" / "australia", "maria" / "mario"."""
    return bool(_name_forms(a) & _stems(b) or _name_forms(b) & _stems(a))


def _stems(word: str) -> frozenset[str]:
    """A word and what is left of it without a name's ending: "incas" is also "inca"."""
    cut = (word[: -len(e)] for e in _NAME_ENDINGS if word.endswith(e) and len(word) > len(e) + 2)
    return frozenset({word, *cut})


def _name_forms(name: str) -> frozenset[str]:
    """What a name is looked up as in another card's `_stems`: its stems, and for a name
    ending in a vowel its forms with another ending ("rome" is also "roman"). One way only,
    so that "maria" and "mario" do not meet at "marian"."""
    if name[-1:] not in "aeiouy":
        return _stems(name)
    return _stems(name) | {name[:-1] + e for e in _VOWEL_ENDINGS}


@dataclass(frozen=True)
class _Names:
    """The names of a card, and what another card's names are looked up in."""

    names: dict[str, frozenset[str]]  # each name, with the forms it is looked up as
    forms: frozenset[str]  # the stems of every word of the card, in any case
    initials: frozenset[str]  # acronyms its names spell: "United States" spells "us"

    @classmethod
    def of(cls, text: str) -> _Names:
        words = _WORD.findall(unicodedata.normalize("NFKC", text))
        folded = [fold(w) for w in words]
        forms = frozenset(f for w in folded for f in _stems(w))
        names = {f: _name_forms(f) for w, f in zip(words, folded) if _is_name(w)}
        return cls(names, forms, _initials(words))

    def lacks(self, name: str, forms: frozenset[str]) -> bool:
        return forms.isdisjoint(self.forms) and name not in self.initials


def _initials(words: list[str]) -> frozenset[str]:
    """Acronyms that words from a name on spell, small words skipped: "United States of
    America" spells "us" and "usa", "Union européenne" "ue"."""
    out: set[str] = set()
    for i, word in enumerate(words):
        if not _is_name(word):
            continue
        letters = ""
        for after in words[i:]:
            if after.casefold() in _CONNECTORS and letters:
                continue
            letters += fold(after[0])
            if len(letters) >= 2:
                out.add(letters)
            if len(letters) == _LONGEST_ACRONYM:
                break
    return frozenset(out)


def names_conflict(a: CardText, b: CardText) -> bool:
    """Each card names something the other does not: "capital of Austria" / "capital of
    Australia", "the Marpen forest" / "the Marpene forest", "Battle of Markel: 918" / "Battle
    of Irzan: 918". A name in one card only ("Albert Einstein" / "Einstein"), or in another
    form ("Incas" / "Inca", "US" / "United States"), is no conflict."""
    return _names_conflict(_Facts.of(a).names, _Facts.of(b).names)


def _names_conflict(x: _Names, y: _Names) -> bool:
    names_only_x = any(y.lacks(n, x.names[n]) for n in x.names.keys() - y.names.keys())
    return names_only_x and any(x.lacks(n, y.names[n]) for n in y.names.keys() - x.names.keys())


def numbers_conflict(a: CardText, b: CardText) -> bool:
    """Neither card's numbers include the other's: "1914" / "It started in 1914" agree,
    "1914" / "1939", "HTTP 404" / "HTTP 403", "Henry VII" / "Henry VIII" and "the first
    President" / "the second President" do not."""
    return _numbers_conflict(_Facts.of(a), _Facts.of(b))


def _numbers_conflict(x: _Facts, y: _Facts) -> bool:
    if not (x.numbers <= y.numbers or y.numbers <= x.numbers):
        return True
    # Ranks count only against ranks: "the First World War" / "1914-1918" agree.
    return bool(x.numerals and y.numerals) and not (
        x.numerals <= y.numerals or y.numerals <= x.numerals
    )


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
    numerals: frozenset[int]  # in front and back
    answer_numbers: frozenset[str]
    answer_words: frozenset[str]
    names: _Names  # in front and back

    @classmethod
    def of(cls, text: CardText) -> _Facts:
        both = f"{text.front}\n{text.back}"
        return cls(
            numbers=numbers(both),
            numerals=numerals(both),
            answer_numbers=numbers(text.back),
            answer_words=answer_words(text.back),
            names=_Names.of(both),
        )


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
    if _numbers_conflict(new, held):
        return False  # conflicting numbers: 1914 / 1939, Henry VII / VIII
    if _names_conflict(new.names, held.names):
        return False  # other names: Austria / Australia, Marpen / Marpene
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
        # A model stuck on one card repeats its question word for word, with the same answer
        # or with another (a small model looping on "What is the most common element?" gave a
        # new element each time): one question is one card, and needs no embedding.
        self._questions: dict[str, int] = {}

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
        self._questions.setdefault(_question_key(text), card_id)

    def verbatim_copy_of(self, text: CardText) -> Match | None:
        """The held card that asks `text`'s question word for word (case and spacing aside),
        whatever its answer: two answers to one question are never two facts (one is wrong, or
        the question is ambiguous). Found without embedding it."""
        card_id = self._questions.get(_question_key(text))
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


# Quoting is not wording: the 1.5B model asked "the `pop()` method" in one batch and "the pop()
# method" in the next, and both reached the learner (bench/local_quality.py, 2026-12-02).
_QUOTING = str.maketrans("", "", "`'\"\u2018\u2019\u201c\u201d\u00ab\u00bb*")


def _question_key(text: CardText) -> str:
    front = unicodedata.normalize("NFKC", text.front).translate(_QUOTING)
    return " ".join(front.casefold().split())


def _grow(matrix: Vector, shape: tuple[int, int]) -> Vector:
    grown = np.zeros(shape, dtype=np.float32)
    if len(matrix):
        grown[: len(matrix)] = matrix
    return grown
