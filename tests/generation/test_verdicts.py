"""The verifier's verdict parser (pure): verdicts come out as their end tags are fed, whatever
the chunking; a broken reply keeps the verdicts read before it and says why it stopped."""

from __future__ import annotations

import pytest

from srs.generation import prompts
from srs.generation.service import WEAK_CHECK_NOTICE, check_notice
from srs.generation.verdicts import Verdict, VerdictLabel, VerdictStreamParser
from tests.conftest import make_settings

REPLY = (
    "Here are my verdicts.\n<verdicts>\n"
    '<verdict card="1"><label>ok</label><reason>Stated by the passage.</reason></verdict>\n'
    '<verdict card="2"><label>Not one fact</label><reason>Asks for A &amp; B.</reason></verdict>\n'
    '<verdict card="3"><label>unsupported</label><reason>Not in it.</reason></verdict>\n'
    "</verdicts>\nDone."
)
EXPECTED = [
    Verdict(1, VerdictLabel.OK, "Stated by the passage."),
    Verdict(2, VerdictLabel.NOT_ONE_FACT, "Asks for A & B."),
    Verdict(3, VerdictLabel.UNSUPPORTED, "Not in it."),
]


@pytest.mark.parametrize("size", [1, 3, 7, 64, len(REPLY)])
def test_verdicts_arrive_whatever_the_chunking(size):
    parser = VerdictStreamParser()
    found = []
    for start in range(0, len(REPLY), size):
        found += parser.feed(REPLY[start : start + size])
    found += parser.close()
    assert found == EXPECTED and parser.complete and parser.error is None


def test_each_verdict_is_out_as_soon_as_its_end_tag_is_read():
    parser = VerdictStreamParser()
    first_end = REPLY.index("</verdict>") + len("</verdict>")
    assert parser.feed(REPLY[:first_end]) == EXPECTED[:1]


def test_a_broken_reply_keeps_what_came_before_and_says_why():
    parser = VerdictStreamParser()
    broken = REPLY.split('<verdict card="2"')[0] + '<verdict card="2"><label>ok</lab></verdict>'
    assert parser.feed(broken) == EXPECTED[:1]
    parser.close()
    assert parser.failed and "invalid XML" in parser.error and not parser.complete


def test_a_cut_reply_and_a_reply_without_verdicts_are_failures():
    cut = VerdictStreamParser()
    cut.feed(REPLY[: REPLY.index("</verdicts>")])
    cut.close()
    assert cut.failed and cut.error == "the reply ended before </verdicts>"
    prose = VerdictStreamParser()
    prose.feed("I think the cards are fine. " * 1000)
    assert prose.failed and "no <verdicts>" in prose.error


def test_unknown_labels_and_numbers_are_skipped_not_guessed():
    parser = VerdictStreamParser()
    found = parser.feed(
        '<verdicts><verdict card="1"><label>probably</label></verdict>'
        '<verdict card="x"><label>ok</label></verdict>'
        '<verdict card="2"><label>unchecked</label></verdict></verdicts>'
    )
    assert found == [] and parser.skipped == 3 and parser.complete


def test_the_verify_request_numbers_the_cards_and_sends_the_passage_for_a_grounded_batch():
    cards = [prompts.CardToCheck("Q <b>one</b>?", "A", 7, "the quote"), prompts.CardToCheck("Q2?", "B")]
    passage = prompts.PassageRef(7, "p. 3", None, "The passage text.")
    request = prompts.build_verify_request("Topic", cards, [passage])
    assert "Card 1\nFront: Q  b one /b ?\nBack: A\nCites passage 7: the quote" in request.user
    assert "Card 2\nFront: Q2?" in request.user and "unsupported:" in request.user
    assert "Passage 7 (p. 3):\n~~~\nThe passage text.\n~~~" in request.user
    assert "<verdicts>" in request.user and "<cards>" not in request.user
    ungrounded = prompts.build_verify_request("Topic", cards[1:])
    assert "unsupported" not in ungrounded.user and "Passage" not in ungrounded.user


def test_the_embedded_model_check_is_called_weak(tmp_path):
    url = f"sqlite:///{tmp_path}/x.db"
    assert check_notice(make_settings(url, llm_provider="local")) == WEAK_CHECK_NOTICE
    assert "weak" in WEAK_CHECK_NOTICE
    assert check_notice(make_settings(url, llm_provider="openai")) is None
