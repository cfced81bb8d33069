"""Near-duplicate detection of card fronts. Pure: no I/O.

Models repeat themselves across batches ("What is Python?" three times, NOTES.md) and
rephrase ("What year was the Bastille stormed?" / "In what year was the storming of the
Bastille?"). Two fronts are duplicates when their normalised text is equal, or when the
Jaccard similarity of their content-word signatures reaches the threshold.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from typing import Final

# Jaccard |A & B| / |A | B| at or above which two signatures are duplicates. A paraphrase
# keeps the content words ({year, bastille, storm} both ways: 1.0). Distinct cards on one
# subject differ in one word of two or three ({capital, france} vs {capital, germany}: 0.33;
# {python} vs {python, list}: 0.5; {speed, light} vs {speed, light, vacuum}: 0.67), so the
# bar sits above 2/3: at 0.75 a front may add or change one word only among four or more.
DEFAULT_THRESHOLD: Final = 0.75

# fmt: off
_STOPWORDS: Final = frozenset({
    # question words: "When did X fall?" and "Who stormed X?" differ in content words too
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how",
    # auxiliaries
    "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "done",
    "doing", "has", "have", "had", "having", "can", "could", "would", "should", "will",
    "shall", "may", "might", "must",
    # articles, prepositions, conjunctions, pronouns ("not" stays: it changes the answer)
    "the", "a", "an", "of", "in", "on", "at", "to", "for", "from", "by", "with", "about",
    "as", "into", "onto", "than", "then", "and", "or", "but", "if", "so", "it", "its",
    "this", "that", "these", "those", "there", "here", "i", "me", "my", "we", "our", "you",
    "your", "he", "she", "they", "them", "their", "his", "her",
    # imperative openers: "Define entropy." asks what "What is entropy?" asks
    "name", "describe", "explain", "define", "give", "tell", "please",
})

# Light stemming, tried in order; the first that fits wins. Not linguistics: just enough
# that "stormed", "storming" and "storms" meet at "storm".
_SUFFIXES: Final = (
    ("ational", "ate"), ("ations", ""), ("ation", ""), ("ingly", ""), ("edly", ""),
    ("ies", "y"), ("ing", ""), ("ed", ""), ("ly", ""), ("es", ""), ("s", ""),
)
# fmt: on
_MIN_STEM: Final = 3

# A qualifier like "(beginner)" or "[easy]": words only, after a space or at the start.
# `f(x)` or `(x+1)^2` are content and stay.
_QUALIFIER: Final = re.compile(r"(?:^|(?<=\s))(?:\([\w\s,.'-]*\)|\[[\w\s,.'-]*\])")
_APOSTROPHE_S: Final = re.compile(r"['’]s\b")
_NOT: Final = re.compile(r"n['’]t\b")
# Punctuation goes, but `#` and `+` right after a word are part of names: C#, C++, F#.
_PUNCTUATION: Final = re.compile(r"(?<=\w)[#+]+|([^\w\s])")


def normalize(front: str) -> str:
    """Lowercased front without punctuation, qualifiers and extra whitespace."""
    text = unicodedata.normalize("NFKC", front).casefold()
    text = _QUALIFIER.sub(" ", text)
    # "what's" -> "what", "France's" -> "france": the `'s` is "is" or a possessive, and
    # neither tells two questions apart. "isn't" keeps its "not", which does.
    text = _NOT.sub(" not", _APOSTROPHE_S.sub("", text))
    text = _PUNCTUATION.sub(lambda m: " " if m.group(1) else m.group(), text)
    return " ".join(text.split())


def _stem(word: str) -> str:
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            if suffix == "s" and word.endswith("ss"):
                break  # "class", "process"
            word = word[: -len(suffix)] + replacement
            if suffix in ("ing", "ed") and _doubled_consonant(word):
                word = word[:-1]  # "stopped" -> "stop"
            break
    # A final "e" comes and goes with suffixes ("time"/"times", "store"/"stored").
    return word[:-1] if len(word) > 4 and word.endswith("e") else word


def _doubled_consonant(word: str) -> bool:
    return len(word) > _MIN_STEM and word[-1] == word[-2] and word[-1] not in "aeioulsz"


def signature(front: str) -> frozenset[str]:
    """Stemmed content words. Falls back to the whole normalised front when every word is
    a stopword or the script has no spaces (Japanese), so that an empty set never makes
    unrelated fronts look alike."""
    normal = normalize(front)
    words = frozenset(_stem(word) for word in normal.split() if word not in _STOPWORDS)
    return words or frozenset({normal})


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


class DedupIndex:
    """The fronts of a deck, asked whether a new front repeats one of them."""

    def __init__(self, fronts: Iterable[str] = (), threshold: float = DEFAULT_THRESHOLD) -> None:
        if not 0 < threshold <= 1:
            raise ValueError("threshold must be in (0, 1]")
        self._threshold = threshold
        self._by_normal: dict[str, str] = {}
        self._entries: list[tuple[str, frozenset[str]]] = []
        self._by_word: defaultdict[str, list[int]] = defaultdict(list)
        for front in fronts:
            self.add(front)

    def __len__(self) -> int:
        """Distinct fronts held (fronts equal after `normalize` count once)."""
        return len(self._entries)

    def add(self, front: str) -> None:
        normal = normalize(front)
        if normal in self._by_normal:
            return
        self._by_normal[normal] = front
        sig = signature(front)
        for word in sig:
            self._by_word[word].append(len(self._entries))
        self._entries.append((front, sig))

    def duplicate_of(self, front: str) -> str | None:
        """The held front that `front` repeats (the most similar, earliest on ties)."""
        if (same := self._by_normal.get(normalize(front))) is not None:
            return same
        sig = signature(front)
        # max of (score, -index): the highest score, and the earliest front among equals.
        score, neg_index = max(
            ((_jaccard(sig, self._entries[i][1]), -i) for i in self._candidates(sig)),
            default=(0.0, 0),
        )
        return self._entries[-neg_index][0] if score >= self._threshold else None

    def _candidates(self, sig: frozenset[str]) -> set[int]:
        """Prefix filtering: a front with Jaccard >= t shares at least ceil(t * |sig|)
        words of sig, so it holds one of any |sig| - that + 1 of them. Probing only the
        rarest keeps a query cheap when a deck shares a common word ("python")."""
        must_share = math.ceil(self._threshold * len(sig) - 1e-9)
        rarest = sorted(sig, key=lambda word: len(self._by_word.get(word, ())))
        probes = rarest[: len(sig) - must_share + 1]
        return {index for word in probes for index in self._by_word.get(word, ())}
