"""The pure cores: splitting a document into passages, and checking a card's citation."""

from __future__ import annotations

import pytest

from srs.sources.extract import Block, read_html, read_markdown
from srs.sources.grounding import PassageRef, Ungrounded, cite
from srs.sources.passages import document_text, find_quote, split


def test_passages_keep_pages_apart_and_offsets_point_into_the_text():
    blocks = [
        Block("Cells are the unit of life.", "Chapter 1", 1),
        Block("Mitochondria make ATP.", "Chapter 1", 1),
        Block("Ribosomes make proteins.", "Chapter 2", 2),
    ]
    drafts = split(blocks, max_chars=500)
    text = document_text(blocks)
    assert [(d.label, d.page) for d in drafts] == [("Chapter 1, p. 1", 1), ("Chapter 2, p. 2", 2)]
    for draft in drafts:
        assert text[draft.start : draft.end] == draft.text
    assert "Mitochondria" in drafts[0].text and "Ribosomes" not in drafts[0].text


def test_a_long_block_is_cut_into_bounded_pieces_at_sentences():
    sentence = "The river carries silt down to the delta every spring. "
    blocks = [Block(sentence * 60, "Rivers", None)]
    drafts = split(blocks, max_chars=400)
    text = document_text(blocks)
    assert len(drafts) > 5
    assert all(len(d.text) <= 400 for d in drafts)
    assert all(d.text.endswith(".") for d in drafts[:-1])
    assert all(text[d.start : d.end] == d.text for d in drafts)
    assert [d.position for d in drafts] == list(range(len(drafts)))
    assert all(d.label == "Rivers" for d in drafts)


def test_markdown_and_html_headings_become_sections():
    md = read_markdown(
        "# Intro\n\nHello there.\n\n## Details\n\nMore text.\n\n```\n# not a heading\n```\n"
    )
    assert md.headings == ["Intro", "Details"]
    assert [b.section for b in md.blocks] == ["Intro", "Details", "Details"]
    page = read_html(
        "<html><head><title>T</title><script>alert(1)</script></head><body><nav>menu</nav>"
        "<h1>Rivers</h1><p>The Nile is long.</p><ul><li>Delta</li></ul>"
        "<h2>Lakes</h2><div><p>Baikal is deep.</p></div></body></html>"
    )
    assert page.title == "T" and page.headings == ["Rivers", "Lakes"]
    assert [(b.text, b.section) for b in page.blocks] == [
        ("The Nile is long.", "Rivers"),
        ("Delta", "Rivers"),
        ("Baikal is deep.", "Lakes"),
    ]


def test_quotes_are_found_whatever_their_spacing_and_case():
    passage = "Water boils at 100 degrees\nCelsius at sea level."
    assert find_quote(passage, "water boils at 100 degrees Celsius") == (0, 34)
    assert find_quote(passage, "Water freezes") is None
    assert find_quote(passage, "   ") is None


BATCH = [
    PassageRef(11, "p. 1", None, "Paris is the capital of France."),
    PassageRef(12, "p. 2", None, "Madrid is the capital of Spain."),
]


def test_a_good_citation_is_kept_with_the_passage_s_own_words():
    citation = cite(BATCH, {"passage": "12", "quote": "madrid is  the capital"})
    assert (citation.passage_id, citation.quote, citation.start) == (12, "Madrid is the capital", 0)


@pytest.mark.parametrize(
    "extra, reason",
    [
        ({"passage": "999", "quote": "Paris"}, "not in its batch"),
        ({"passage": "13", "quote": "Paris"}, "not in its batch"),
        ({"quote": "Paris"}, "cites no passage"),
        ({"passage": "eleven", "quote": "Paris"}, "cites no passage"),
        ({"passage": "11"}, "quotes nothing"),
        ({"passage": "11", "quote": "Berlin is the capital"}, "does not contain"),
    ],
)
def test_citations_that_do_not_check_out_are_rejected(extra, reason):
    with pytest.raises(Ungrounded, match=reason):
        cite(BATCH, extra)
