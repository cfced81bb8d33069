import time

import pytest

from srs.generation.dedup import DEFAULT_THRESHOLD, DedupIndex, normalize, signature

DUPLICATES = [
    ("What year was the Bastille stormed?", "In what year was the storming of the Bastille?"),
    ("What is Python?", "What is Python? (beginner)"),
    ("What is Python?", "what is python"),
    ("What is Python?", "  WHAT   is Python?!  "),
    ("What is the capital of France?", "what's the capital of france"),
    ("What is the capital of France?", "What is France's capital?"),
    ("Define entropy.", "What is entropy?"),
    ("What does entropy mean?", "What is the meaning of entropy?"),
    ("Who wrote Hamlet?", "Who wrote 'Hamlet'?"),
    ("How many moons does Mars have?", "How many moons has Mars?"),
    ("Which planets have rings?", "Which planet has rings?"),
    ("What year did the Bastille fall?", "What year did the Bastille fall in Paris?"),
    ("日本の首都はどこですか？", "日本の首都はどこですか"),
    ("What is it?", "what is it"),
]

DISTINCT = [
    ("What is the capital of France?", "What is the capital of Germany?"),
    ("What is the population of France?", "What is the capital of France?"),
    ("What is Python?", "What is a Python list?"),
    ("When did the Bastille fall?", "Who stormed the Bastille?"),
    ("What does `len()` return?", "What does `print()` return?"),
    ("日本の首都はどこですか？", "フランスの首都はどこですか？"),
    ("What is C++?", "What is C#?"),
    ("What is f(x) when x = 0?", "What is f(y) when y = 0?"),
    ("What is the derivative of (x+1)^2?", "What is the derivative of (x+2)^2?"),
    ("Which is a mammal?", "Which is not a mammal?"),
    ("What is the speed of light?", "What is the speed of light in a vacuum?"),
    (
        "What is the worst-case time complexity of quicksort?",
        "What is the average time complexity of quicksort?",
    ),
    ("What is it?", "What is this?"),
]


@pytest.mark.parametrize(("existing", "new"), DUPLICATES)
def test_duplicates_are_caught(existing: str, new: str) -> None:
    assert DedupIndex([existing]).duplicate_of(new) == existing
    assert DedupIndex([new]).duplicate_of(existing) == new


@pytest.mark.parametrize(("existing", "new"), DISTINCT)
def test_distinct_fronts_sharing_words_are_kept(existing: str, new: str) -> None:
    assert DedupIndex([existing]).duplicate_of(new) is None
    assert DedupIndex([new]).duplicate_of(existing) is None


def test_normalize() -> None:
    assert normalize("  What is Python?  (Beginner) ") == "what is python"
    assert normalize("What is  C++ vs C#?") == "what is c++ vs c#"
    assert normalize("Why isn't f(x) defined?") == "why is not f x defined"
    assert normalize("ＡＢＣ") == "abc"


def test_signature_drops_stopwords_and_stems() -> None:
    assert signature("In what year was the storming of the Bastille?") == signature(
        "What year was the Bastille stormed?"
    )
    assert signature("Who stopped the running man?") == frozenset({"stop", "run", "man"})


def test_signature_falls_back_to_the_normalised_front() -> None:
    assert signature("What is it?") == frozenset({"what is it"})
    assert signature("日本の首都は？") == frozenset({"日本の首都は"})


def test_best_match_wins_and_ties_go_to_the_earliest() -> None:
    index = DedupIndex(
        ["What year did the Bastille fall in Paris?", "What year did the Bastille fall?"]
    )
    assert index.duplicate_of("In what year did the Bastille fall?") == (
        "What year did the Bastille fall?"
    )
    index = DedupIndex(["Capital of France today?", "France capital today?"])
    assert index.duplicate_of("today: capital of France") == "Capital of France today?"


def test_add_and_len_count_distinct_fronts() -> None:
    index = DedupIndex()
    assert len(index) == 0 and index.duplicate_of("What is Python?") is None
    index.add("What is Python?")
    index.add("what is python")
    index.add("What is a Python list?")
    assert len(index) == 2
    assert index.duplicate_of("What is Python") == "What is Python?"


def test_threshold_is_configurable_and_checked() -> None:
    assert DedupIndex(["What is Python?"], threshold=0.5).duplicate_of("What is a Python list?")
    assert 0.5 < DEFAULT_THRESHOLD <= 1
    with pytest.raises(ValueError):
        DedupIndex(threshold=0)


def test_a_deck_of_five_thousand_fronts_stays_fast() -> None:
    subjects = ["France", "Germany", "Python", "Rust", "the Bastille", "Mars", "entropy"]
    aspects = ["capital", "history", "population", "origin", "purpose", "syntax", "size"]
    fronts = [
        f"What is the {aspects[i % 7]} of {subjects[i // 7 % 7]} in case {i}?" for i in range(5000)
    ]
    started = time.perf_counter()
    index = DedupIndex(fronts)
    hits = sum(index.duplicate_of(f"In what {f[8:]}") is not None for f in fronts)
    misses = sum(index.duplicate_of(f"Who wrote the {f[12:]} twice") is None for f in fronts)
    elapsed = time.perf_counter() - started
    assert (len(index), hits, misses) == (5000, 5000, 5000)
    assert elapsed < 5
