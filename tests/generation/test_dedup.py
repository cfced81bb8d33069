"""The pure dedup core, on hand-made vectors: fast, no model."""

import numpy as np
import pytest

from srs.generation.dedup import (
    ANSWER_THRESHOLD,
    CARD_THRESHOLD,
    CardText,
    CardVectors,
    DedupIndex,
    Thresholds,
    answer_contained,
    names,
    names_conflict,
    numbers,
    numbers_conflict,
    numerals,
    same_fact,
    same_name,
)


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def at_angle(cosine: float) -> np.ndarray:
    """A unit vector whose cosine with (1, 0) is `cosine`."""
    return unit(cosine, float(np.sqrt(1 - cosine**2)))


BASTILLE = CardText("What year was the Bastille stormed?", "1789")
BASTILLE_AGAIN = CardText("In what year was the storming of the Bastille?", "In 1789")
CLOSE = CardVectors(card=at_angle(0.95), answer=at_angle(0.95))
FAR = CardVectors(card=at_angle(0.30), answer=at_angle(0.30))
ORIGIN = CardVectors(card=unit(1, 0), answer=unit(1, 0))


def test_a_paraphrase_with_the_same_answer_is_the_same_fact() -> None:
    assert same_fact(BASTILLE_AGAIN, CLOSE, BASTILLE, ORIGIN)


def test_distant_cards_are_different_facts() -> None:
    assert not same_fact(BASTILLE_AGAIN, FAR, BASTILLE, ORIGIN)


def test_close_cards_with_different_answers_are_different_facts() -> None:
    austria = CardText("What is the capital of Austria?", "Vienna")
    australia = CardText("What is the capital of Australia?", "Canberra")
    close_card_far_answer = CardVectors(card=at_angle(0.95), answer=at_angle(0.2))
    assert not same_fact(australia, close_card_far_answer, austria, ORIGIN)


def test_an_answer_that_contains_the_other_agrees_even_when_its_vector_is_far() -> None:
    everest = CardText("What is the highest mountain on Earth?", "Mount Everest")
    again = CardText("Name the tallest mountain in the world.", "Everest")
    close_card_far_answer = CardVectors(card=at_angle(0.9), answer=at_angle(0.5))
    assert same_fact(again, close_card_far_answer, everest, ORIGIN)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (CardText("When did World War I begin?", "1914"), CardText("When did World War II begin?", "1939")),
        (CardText("Atomic number of carbon?", "6"), CardText("Atomic mass of carbon?", "About 12.011 u")),
        (CardText("What does HTTP 404 mean?", "Not Found"), CardText("What does HTTP 403 mean?", "Not allowed")),
    ],
)
def test_conflicting_numbers_make_different_facts_whatever_the_vectors(a, b) -> None:
    identical = CardVectors(card=unit(1, 0), answer=unit(1, 0))
    assert numbers_conflict(a, b)
    assert not same_fact(b, identical, a, ORIGIN)


def test_numbers_agree_when_one_card_has_more_of_them() -> None:
    assert not numbers_conflict(
        CardText("When did World War I begin?", "1914"),
        CardText("In which year did the First World War start?", "On 28 July 1914"),
    )
    assert numbers("About 300,000 km/s, or 3.0e8 m/s") == {"300000", "30", "8"}


def test_roman_numerals_and_ordinals_are_ranks() -> None:
    assert numerals("When did World War II begin?") == {2}
    assert numerals("Louis XIV, Henry VIII") == {14, 8}
    assert numerals("le président de la Ve République, au XXe siècle") == {5, 20}
    # Not numerals: a pronoun, a chemical symbol, an article.
    assert numerals("What do I call it? Xe, De Gaulle") == set()
    assert numbers_conflict(
        CardText("Which dynasty did Henry VII found?", "The Tudor dynasty"),
        CardText("Which dynasty did Henry VIII belong to?", "The Tudor dynasty"),
    )
    assert numerals("The First World War; la Cinquième République; el segundo rey") == {1, 5, 2}
    assert numbers_conflict(
        CardText("Who was the first President of the United States?", "George Washington"),
        CardText("Who was the second President of the United States?", "John Adams"),
    )
    # A rank counts against ranks only: "On 28 July 1914" holds none.
    assert not numbers_conflict(
        CardText("When did World War I begin?", "1914"),
        CardText("In which year did the First World War start?", "On 28 July 1914"),
    )


def test_names_are_capitalised_words_that_do_not_open_a_question() -> None:
    assert names("What is the capital of Australia's neighbour?") == {"australia"}
    assert names("Quelle est la capitale de l'Autriche ? Vienne") == {"autriche", "vienne"}
    assert names("¿Cuál es la capital de Níger?") == {"niger"}
    assert names("When did World War I begin? In 1914") == {"world", "war"}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("inca", "incas"),
        ("australia", "australian"),
        ("rome", "roman"),
        ("german", "germany"),
        ("italy", "italian"),
        ("autriche", "autrichien"),
    ],
)
def test_one_name_in_two_forms_is_the_same_name(a, b) -> None:
    assert same_name(a, b) and same_name(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("marpen", "marpene"),
        ("marpena", "marpene"),
        ("niger", "nigeria"),
        ("austria", "australia"),
        ("iran", "iraq"),
        ("maria", "mario"),
    ],
)
def test_near_twin_names_are_different_names(a, b) -> None:
    assert not same_name(a, b) and not same_name(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # Near twins, with answers of the same kind: the vectors cannot tell them apart.
        (CardText("How large is the Marpen forest?", "2310 hectares"),
         CardText("What area does Marpene forest cover?", "2310 hectares")),
        (CardText("What is the capital of Austria?", "Vienna"),
         CardText("What is the capital of Australia?", "Canberra")),
        (CardText("In which year did Niger gain independence?", "1960"),
         CardText("In which year did Nigeria gain independence?", "1960")),
        # Different names, the same number by chance.
        (CardText("In what year was the Battle of Markel fought?", "918"),
         CardText("When did the Battle of Irzan take place?", "918")),
        (CardText("En quelle année la Slovaquie a-t-elle rejoint l'Union européenne ?", "2004"),
         CardText("En quelle année la Slovénie a-t-elle rejoint l'Union européenne ?", "2004")),
    ],
)  # fmt: skip
def test_cards_that_name_different_things_are_different_facts_whatever_the_vectors(a, b) -> None:
    identical = CardVectors(card=unit(1, 0), answer=unit(1, 0))
    assert names_conflict(a, b) and names_conflict(b, a)
    assert not same_fact(b, identical, a, ORIGIN)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # Case, possessives, articles and word order.
        (CardText("What is the capital of Iraq?", "Baghdad"),
         CardText("Iraq's capital city is?", "baghdad")),
        (CardText("How large is the Marpen forest?", "2310 hectares"),
         CardText("The forest of Marpen spans how many hectares?", "2,310 hectares")),
        # A name on one side only, or in another form.
        (CardText("Who proposed the theory of general relativity?", "Albert Einstein"),
         CardText("General relativity was developed by which physicist?", "Einstein")),
        (CardText("Which empire built Machu Picchu?", "The Inca Empire"),
         CardText("Machu Picchu was built by which civilisation?", "The Incas")),
        (CardText("Who was the first President of the United States?", "George Washington"),
         CardText("Who served as the first US president?", "George Washington")),
        (CardText("Quand la Slovénie a-t-elle rejoint l'Union européenne ?", "En 2004"),
         CardText("La Slovénie est entrée dans l'UE en quelle année ?", "2004")),
        (CardText("Qui a été le premier président de la Ve République ?", "Charles de Gaulle"),
         CardText("Quel fut le premier président de la Cinquième République ?",
                  "Le général de Gaulle")),
        (CardText("When did World War I begin?", "1914"),
         CardText("In which year did the First World War start?", "It started in 1914")),
    ],
)  # fmt: skip
def test_paraphrases_keep_their_names_and_numbers_and_still_merge(a, b) -> None:
    assert not names_conflict(a, b) and not numbers_conflict(a, b)
    assert same_fact(b, CLOSE, a, ORIGIN)


def test_the_index_skips_a_near_twin_for_the_card_it_repeats() -> None:
    index = DedupIndex()
    twin = CardText("How large is the Marpene forest?", "2310 hectares")
    fact = CardText("How large is the Marpen forest?", "2310 hectares")
    index.add(1, twin, CardVectors(at_angle(0.99), unit(1, 0)))
    index.add(2, fact, CardVectors(at_angle(0.90), unit(1, 0)))
    again = CardText("What area does Marpen forest cover?", "2310 hectares")
    match = index.duplicate_of(again, ORIGIN)
    assert match is not None and match.card_id == 2
    other_twin = CardText("What area does Marpena forest cover?", "2310 hectares")
    assert index.duplicate_of(other_twin, ORIGIN) is None


def test_answer_containment_ignores_articles_case_and_plurals() -> None:
    assert answer_contained("The Nile", "nile river")
    assert answer_contained("Thanks", "Thank you")
    assert answer_contained("6", "6 protons")
    assert not answer_contained("Yes", "No, it is a mammal")
    assert not answer_contained("went", "gone")
    assert not answer_contained("", "anything")


def test_the_index_returns_the_most_similar_card_whose_answer_agrees() -> None:
    index = DedupIndex()
    index.add(1, CardText("Capital of Austria?", "Vienna"), CardVectors(at_angle(0.99), unit(0, 1)))
    index.add(2, BASTILLE, CardVectors(at_angle(0.90), unit(1, 0)))
    index.add(3, CardText("Bastille year?", "1789"), CardVectors(at_angle(0.85), unit(1, 0)))
    match = index.duplicate_of(BASTILLE_AGAIN, ORIGIN)
    # Card 1 is closer but its answer disagrees; card 2 is the closest that agrees.
    assert match is not None and match.card_id == 2
    assert match.score == pytest.approx(0.90, abs=1e-3)


def test_an_empty_index_holds_no_duplicate_and_grows_past_its_first_block() -> None:
    index = DedupIndex()
    assert index.duplicate_of(BASTILLE, ORIGIN) is None
    for card_id in range(200):
        index.add(card_id, CardText(f"Q{card_id}", f"A{card_id}"), FAR)
    index.add(999, BASTILLE, ORIGIN)
    assert len(index) == 201
    assert index.duplicate_of(BASTILLE_AGAIN, CLOSE).card_id == 999


def test_vectors_of_another_size_are_refused() -> None:
    index = DedupIndex()
    index.add(1, BASTILLE, ORIGIN)
    with pytest.raises(ValueError):
        index.add(2, BASTILLE, CardVectors(card=unit(1, 0, 0), answer=unit(1, 0, 0)))


def test_thresholds_are_checked_and_the_defaults_sit_in_range() -> None:
    assert 0 < CARD_THRESHOLD < 1 and 0 < ANSWER_THRESHOLD < 1
    with pytest.raises(ValueError):
        Thresholds(card=0)
    strict = DedupIndex(Thresholds(card=0.99, answer=0.99))
    strict.add(1, BASTILLE, ORIGIN)
    assert strict.duplicate_of(BASTILLE_AGAIN, CLOSE) is None


def test_a_deck_of_five_thousand_cards_finds_the_one_repeated() -> None:
    # The time per check is measured in bench/dedup_eval.py, not here.
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((5000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = DedupIndex()
    for i, v in enumerate(vectors):
        index.add(i, CardText(f"Question {i}?", f"Answer {i}"), CardVectors(v, v))
    probe = CardVectors(vectors[4321], vectors[4321])
    match = index.duplicate_of(CardText("Question 4321 again?", "Answer 4321"), probe)
    assert match is not None and match.card_id == 4321


def test_a_word_for_word_repeat_is_found_without_vectors() -> None:
    index = DedupIndex()
    index.add(7, BASTILLE, ORIGIN)
    copy = CardText("  what YEAR was the Bastille   stormed? ", "1789")
    assert index.verbatim_copy_of(copy) == index.verbatim_copy_of(BASTILLE)
    assert index.verbatim_copy_of(copy).card_id == 7
    assert index.verbatim_copy_of(BASTILLE_AGAIN) is None  # a paraphrase needs the vectors


def test_the_same_question_with_another_answer_is_not_a_new_card() -> None:
    # A small model looping on one question gave a new answer each time (bench/local_quality.py):
    # the learner would get "What is the most common element?" fourteen times, thirteen wrong.
    index = DedupIndex()
    index.add(3, CardText("What is the most common element?", "Hydrogen"), ORIGIN)
    again = CardText("What is the most  common element?", "Carbon")
    assert index.verbatim_copy_of(again).card_id == 3
    # A question that differs by a name is another question.
    assert index.verbatim_copy_of(CardText("What is the most common element on Mars?", "Fe")) is None


def test_the_same_question_quoted_otherwise_is_a_repeat() -> None:
    index = DedupIndex()
    index.add(5, CardText("What is the purpose of the `pop()` method in Python?", "Removes"), ORIGIN)
    again = CardText("What is the purpose of the pop() method in Python?", "To remove and return")
    assert index.verbatim_copy_of(again).card_id == 5
    assert index.verbatim_copy_of(CardText("What does the 'pop()' method return?", "x")) is None
