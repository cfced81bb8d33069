"""The cloze text itself: which cards a note gives, what each shows, what is refused."""

from __future__ import annotations

import pytest

from srs.topics import cloze
from srs.topics.cloze import ClozeError


def test_each_deletion_number_is_a_card_that_hides_only_its_own_deletions() -> None:
    note = cloze.parse("The {{c1::mitochondrion}} makes {{c2::ATP}}; {{c1::it}} has DNA")
    assert note.ordinals == (1, 2)
    assert note.front(1) == "The [...] makes ATP; [...] has DNA"
    assert note.front(2) == "The mitochondrion makes [...]; it has DNA"
    assert note.back() == "The mitochondrion makes ATP; it has DNA"
    assert note.answers(1) == ("mitochondrion", "it")


def test_a_hint_shows_in_the_gap_and_numbers_may_skip() -> None:
    note = cloze.parse("{{c3::Paris::a city}} is the capital of {{c7::France}}")
    assert note.ordinals == (3, 7)
    assert note.front(3) == "[a city] is the capital of France"
    assert note.back() == "Paris is the capital of France"
    with pytest.raises(ClozeError):
        note.front(1)


def test_answers_may_hold_single_braces_and_colons() -> None:
    note = cloze.parse("In Python {{c1::{} }} is an empty {{c2::dict: a mapping}}")
    assert note.front(1) == "In Python [...] is an empty dict: a mapping"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("No deletion at all", "no deletion"),
        ("Unclosed {{c1::answer", "unbalanced"),
        ("Stray }} here {{c1::x}}", "unbalanced"),
        ("An empty {{c1::}} answer", "no answer"),
        ("An empty {{c1:: ::hint}} answer", "no answer"),
        ("Nested {{c1::outer {{c2::inner}} }} text", "inside a deletion"),
        ("Number zero {{c0::x}}", "c1 to c99"),
        ("{{c1::only}}", "only deletions"),
        ("x" * 2001 + "{{c1::y}}", "longer than"),
        (" ".join(f"{{{{c{n}::w{n}}}}}" for n in range(1, 22)) + " end", "at most 20"),
    ],
)
def test_bad_cloze_texts_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ClozeError, match=reason):
        cloze.parse(text)
