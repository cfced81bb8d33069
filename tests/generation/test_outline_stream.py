"""The outline parser: strict lxml underneath, nothing valid lost, whatever the chunking."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from srs.generation.outline_stream import OutlineStreamParser, ParsedSubtopic

OUTLINE = (
    "Here is the outline:\n<outline>\n"
    "<subtopic><name>Causes</name><scope>Debt, famine &amp; the Estates-General</scope></subtopic>\n"
    "<subtopic><name>The Terror</name><scope>Robespierre &eacute;t&eacute; 1793&nbsp;-&nbsp;94"
    "</scope></subtopic>\n"
    "<subtopic><name>Templates <T> & generics</name><scope>List<String>, a<b>c</scope></subtopic>\n"
    "</outline>\nHope this helps! <outline><subtopic><name>ignored</name></subtopic></outline>"
)
EXPECTED = [
    ParsedSubtopic("Causes", "Debt, famine & the Estates-General"),
    ParsedSubtopic("The Terror", "Robespierre été 1793 - 94"),  # nbsp: one line, plain spaces
    ParsedSubtopic("Templates <T> & generics", "List<String>, a<b>c"),
]


def parse(chunks: list[str]) -> tuple[list[ParsedSubtopic], OutlineStreamParser]:
    parser = OutlineStreamParser()
    found = []
    for chunk in chunks:
        found += parser.feed(chunk)
    return found + parser.close(), parser


def test_prose_entities_and_mentioned_tags_are_kept_and_the_rest_ignored():
    found, parser = parse([OUTLINE])
    assert found == EXPECTED
    assert parser.complete and parser.error is None


@given(st.lists(st.integers(min_value=0, max_value=len(OUTLINE)), max_size=30))
def test_any_chunking_gives_the_same_subtopics(cuts):
    points = sorted(set(cuts))
    chunks = [OUTLINE[a:b] for a, b in zip([0, *points], [*points, len(OUTLINE)])]
    assert parse(chunks)[0] == EXPECTED


_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FF, blacklist_characters="<&"))


@given(st.lists(st.tuples(_TEXT.filter(str.strip), _TEXT), max_size=6))
def test_any_text_in_names_and_scopes_round_trips(items):
    xml = (
        "<outline>"
        + "".join(f"<subtopic><name>{n}</name><scope>{s}</scope></subtopic>" for n, s in items)
        + "</outline>"
    )
    wanted = [
        ParsedSubtopic(" ".join(n.split())[:120], " ".join(s.split())[:300]) for n, s in items
    ]
    assert parse([xml])[0] == wanted


def test_each_subtopic_is_reported_as_soon_as_it_ends():
    parser = OutlineStreamParser()
    assert parser.feed("<outline><subtopic><name>One</name><scope>first</scope>") == []
    assert parser.feed("</subtopic><subtopic><name>Tw") == [ParsedSubtopic("One", "first")]
    assert parser.feed("o</name></subtopic>") == [ParsedSubtopic("Two", "")]


def test_a_reply_without_the_wrapper_or_in_capitals_still_counts():
    found, parser = parse(["<SUBTOPIC><Name>Dates</Name><Scope>When</Scope></SUBTOPIC></OUTLINE>"])
    assert found == [ParsedSubtopic("Dates", "When")] and parser.complete


def test_a_cut_stream_keeps_what_finished_and_says_it_was_cut():
    found, parser = parse(["<outline><subtopic><name>A</name></subtopic><subtopic><name>B"])
    assert found == [ParsedSubtopic("A", "")]
    assert not parser.complete and "ended before </outline>" in parser.error


def test_no_outline_at_all_is_an_error_not_an_empty_outline():
    found, parser = parse(["Sorry, I cannot help with that."])
    assert found == [] and "no <outline>" in parser.error


def test_a_doctype_with_entities_is_inert():
    hostile = (
        '<!DOCTYPE outline [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        "<outline><subtopic><name>&xxe;</name><scope>x</scope></subtopic></outline>"
    )
    found, _ = parse([hostile])
    assert found == [ParsedSubtopic("&xxe;", "x")]


def test_nameless_subtopics_are_skipped_and_counted():
    reply = (
        "<outline><subtopic><scope>no name</scope></subtopic>"
        "<subtopic><name>Named</name></subtopic></outline>"
    )
    found, parser = parse([reply])
    assert found == [ParsedSubtopic("Named", "")] and parser.skipped == 1
