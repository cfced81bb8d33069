import itertools
import random
import time
from dataclasses import dataclass
from html.entities import html5
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srs.generation.xml_stream import CardStreamParser, ParsedCard


@dataclass
class Outcome:
    cards: list[ParsedCard]
    skipped: int
    complete: bool
    truncated: bool
    error: str | None


def run(chunks: list[str], **kwargs: int) -> Outcome:
    parser = CardStreamParser(**kwargs)
    cards = [card for chunk in chunks for card in parser.feed(chunk)]
    cards += parser.close()
    return Outcome(cards, parser.skipped, parser.complete, parser.truncated, parser.error)


def card_xml(front: str, back: str, more: str = "") -> str:
    return f"<card><front>{front}</front><back>{back}</back>{more}</card>"


def cards_xml(*cards: str) -> str:
    return "<cards>\n" + "\n".join(cards) + "\n</cards>"


def split_at(text: str, cuts: list[int]) -> list[str]:
    bounds = [0, *sorted(cuts), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


# --- the happy path -----------------------------------------------------------------------


def test_parses_cards_with_extra_elements() -> None:
    stream = cards_xml(
        card_xml("What is 2+2?", "4", "<difficulty>2</difficulty><explanation>sum</explanation>"),
        card_xml("Capital of France?", "Paris"),
    )
    outcome = run([stream])
    assert outcome.cards == [
        ParsedCard("What is 2+2?", "4", {"difficulty": "2", "explanation": "sum"}),
        ParsedCard("Capital of France?", "Paris", {}),
    ]
    assert outcome.skipped == 0 and outcome.complete
    assert not outcome.truncated and outcome.error is None


def test_card_is_returned_by_the_feed_that_completes_its_end_tag() -> None:
    parser = CardStreamParser()
    assert parser.feed("<cards><card><front>q</front><back>a</back></card") == []
    assert parser.feed(">") == [ParsedCard("q", "a", {})]
    assert parser.feed("<card><front>q2</front><back>a2</back></card>") == [
        ParsedCard("q2", "a2", {})
    ]


def test_cards_are_hashable_despite_the_extra_dict() -> None:
    card = ParsedCard("q", "a", {"difficulty": "3"})
    assert card in {card}


def test_first_occurrence_of_a_repeated_element_wins() -> None:
    stream = cards_xml(card_xml("q", "a", "<hint>one</hint><hint>two</hint><front>other</front>"))
    assert run([stream]).cards == [ParsedCard("q", "a", {"hint": "one"})]


def test_attributes_are_accepted_and_the_cards_own_are_kept() -> None:
    card = "<card id=\"1\" Type='cloze' x:y='z' id='2' note='a &amp; b &eacute; &lt;'><front lang='en'>"
    stream = '<cards topic="x">' + card + "q</front><back>a</back></card></cards>"
    outcome = run([stream])
    assert outcome.cards == [
        ParsedCard("q", "a", {}, {"id": "1", "type": "cloze", "note": "a & b é <"})
    ]
    assert outcome.error is None


def test_self_closing_cards_is_an_empty_complete_stream() -> None:
    outcome = run(["<cards/>"])
    assert (outcome.cards, outcome.complete, outcome.error) == ([], True, None)


# --- whitespace ---------------------------------------------------------------------------


def test_single_line_fields_have_whitespace_collapsed() -> None:
    stream = cards_xml(card_xml("\n    What  is\tPython?\n  ", "  A  language "))
    assert run([stream]).cards == [ParsedCard("What is Python?", "A language", {})]


def test_multi_line_fields_keep_lines_and_relative_indentation() -> None:
    front = """
        What does this print?
        for i in range(2):
            print(i)
    """
    back = """0
        1"""
    card = run([cards_xml(card_xml(front, back))]).cards[0]
    assert card.front == "What does this print?\nfor i in range(2):\n    print(i)"
    assert card.back == "0\n1"


# --- what comes before <cards> and after </cards> ------------------------------------------


@pytest.mark.parametrize(
    "prelude",
    [
        "",
        "Sure! Here are your cards:\n\n```xml\n",
        "<?xml version='1.0' encoding='latin-1'?>\n",
        "I will use <card> elements inside <cardset>; here: ",
        "<cardsx>not it</cardsx>",
    ],
)
def test_everything_before_the_first_cards_tag_is_skipped(prelude: str) -> None:
    outcome = run([prelude + cards_xml(card_xml("q", "a")) + "\n```"])
    assert outcome.cards == [ParsedCard("q", "a", {})]
    assert outcome.complete


def test_junk_after_cards_end_is_ignored() -> None:
    parser = CardStreamParser()
    assert parser.feed(cards_xml(card_xml("q", "a"))) == [ParsedCard("q", "a", {})]
    assert parser.complete
    assert (
        parser.feed("\n```\nHope this helps! <card><front>x</front><back>y</back></card> <<&") == []
    )
    assert parser.close() == []
    assert (parser.truncated, parser.error) == (False, None)


# --- the escaper: what the model forgets to escape -----------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("if (a < b && c) { x = a<b; }", "if (a < b && c) { x = a<b; }"),
        ("AT&T and x<y", "AT&T and x<y"),
        ("List<String> and Vec<T>", "List<String> and Vec<T>"),
        ("a<b>c</b>d", "a<b>c</b>d"),
        ("1 > 0 and a[b[0]]>1", "1 > 0 and a[b[0]]>1"),
        ("&unknown; &amp &#; &#xZZ; &#0; &#xD800; &#99999999;", None),
        ("What does <!-- start in HTML?", "What does <!-- start in HTML?"),
        ("<3 and <=", "<3 and <="),
    ],
)
def test_unescaped_ampersands_and_angle_brackets_stay_text(raw: str, expected: str | None) -> None:
    outcome = run([cards_xml(card_xml(raw, "answer"))])
    assert outcome.cards == [ParsedCard(expected or raw, "answer", {})]
    assert outcome.error is None


def test_entities_and_character_references_are_decoded() -> None:
    front = "caf&#233; &#x1F600; &amp; &lt;tag&gt; &quot;q&quot; &apos;s"
    card = run([cards_xml(card_xml(front, "a"))]).cards[0]
    assert card.front == 'café 😀 & <tag> "q" \'s'


def test_cdata_is_kept_verbatim() -> None:
    front = "<![CDATA[if a < b && c: print('<x>', '&amp;')]] ]]>"
    card = run([cards_xml(card_xml(front, "<![CDATA[]]]]><![CDATA[>]]>"))]).cards[0]
    assert card.front == "if a < b && c: print('<x>', '&amp;')]]"
    assert card.back == "]]>"


@pytest.mark.parametrize(
    "stream",
    [
        cards_xml(card_xml("AT&amp;T &#233; &#x1F600;", "a &lt; b")),
        cards_xml(card_xml("x <![CDATA[<b> & ]] ]>]]> y", "a")),
        cards_xml(card_xml("q", "a", "<!-- a comment -->"), "<!-- between -- cards -->"),
        '<cards><card id="7"><front>Vec<T> & x<y</front><back>b</back></card></cards>',
    ],
)
def test_tags_references_and_cdata_split_anywhere(stream: str) -> None:
    whole = run([stream])
    assert whole.cards and whole.error is None
    for cut in range(len(stream) + 1):
        assert run(split_at(stream, [cut])) == whole, cut
    assert run(list(stream)) == whole


def test_comments_between_elements_are_dropped() -> None:
    stream = cards_xml(
        "<!-- card 1 -- the easy one -->",
        card_xml("q", "a", "<!-- <card><front>x</front><back>y</back></card> -->"),
    )
    assert run([stream]).cards == [ParsedCard("q", "a", {})]


def test_unknown_and_nested_markup_in_extras_does_not_crash() -> None:
    more = "<meta><level>3</level><tags><t>a</t></tags></meta><explanation>Use <b>this</b></explanation>"
    outcome = run([cards_xml(card_xml("q", "a", more), card_xml("q2", "a2"))])
    assert [c.front for c in outcome.cards] == ["q", "q2"]
    assert outcome.cards[0].extra == {
        "meta": "<level>3</level><tags><t>a</t></tags>",
        "explanation": "Use <b>this</b>",
    }
    assert outcome.error is None


def test_invalid_xml_characters_become_replacement_characters() -> None:
    card = run([cards_xml(card_xml("a\x00b\x1b\ud800c\ufffe", "<![CDATA[\x01]]>"))]).cards[0]
    assert card.front == "a\ufffdb\ufffd\ufffdc\ufffd"
    assert card.back == "\ufffd"


# --- rejected cards -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_card",
    [
        "<card><front>no back</front></card>",
        "<card><back>no front</back></card>",
        card_xml("   ", "empty front"),
        card_xml("empty back", "\n  \n"),
        "<card/>",
        card_xml("x" * 51, "front too long"),
        card_xml("q", "a", f"<explanation>{'y' * 51}</explanation>"),
    ],
)
def test_invalid_cards_are_skipped_and_counted(bad_card: str) -> None:
    stream = cards_xml(card_xml("good 1", "a"), bad_card, card_xml("good 2", "b"))
    outcome = run([stream], max_field_chars=50)
    assert [c.front for c in outcome.cards] == ["good 1", "good 2"]
    assert outcome.skipped == 1
    assert outcome.error is None


# --- streams that end early or break ------------------------------------------------------


def test_stream_cut_mid_card_keeps_finished_cards() -> None:
    parser = CardStreamParser()
    first = parser.feed("<cards>" + card_xml("q1", "a1") + "<card><front>q2</front><back>hal")
    assert first == [ParsedCard("q1", "a1", {})]
    assert parser.close() == []
    assert parser.truncated and not parser.complete
    assert parser.error == "the stream ended inside a card"


def test_stream_cut_between_cards() -> None:
    outcome = run(["<cards>" + card_xml("q1", "a1") + "\n  </car"])
    assert outcome.cards == [ParsedCard("q1", "a1", {})]
    assert outcome.truncated
    assert outcome.error == "the stream ended before </cards>"


@pytest.mark.parametrize(
    ("broken", "recovered"),
    [
        ("<card><front>a</back></card>", None),  # a swapped end tag, then no back
        ("<card><front>a</back><back>b</card>", ParsedCard("a", "b", {})),
        ("<card><front>q<back>a</back></card>", None),  # a forgotten </front>
        ("<card><front>q</front></card>", None),
    ],
)
def test_a_broken_card_costs_at_most_itself(broken: str, recovered: ParsedCard | None) -> None:
    stream = cards_xml(card_xml("q1", "a1"), broken, card_xml("q2", "a2"))
    middle = [recovered] if recovered else []
    for chunks in ([stream], list(stream)):
        outcome = run(chunks)
        assert outcome.cards == [ParsedCard("q1", "a1", {}), *middle, ParsedCard("q2", "a2", {})]
        assert (outcome.skipped, outcome.complete, outcome.error) == (len(middle) ^ 1, True, None)


def test_a_forgotten_card_end_tag_is_implied_by_the_next_card() -> None:
    stream = "<cards><card><front>q1</front><back>a1</back>\n<card><front>q2</front><back>a2</back></cards>"
    outcome = run([stream])
    assert outcome.cards == [ParsedCard("q1", "a1", {}), ParsedCard("q2", "a2", {})]
    assert outcome.complete and outcome.error is None


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "I'm sorry, I can't help with that.",
        "<<<>>>",
        "<cards",
        "<cards><<<>>>&&&;;;",
        "]]>--><!--<![CDATA[",
        "\x00\x01\x02\ud800\udfff\uffff",
        "".join(map(chr, random.Random(1).choices(range(0x110000), k=5000))),
        bytes(random.Random(2).randbytes(5000)).decode("latin-1"),
        "<cards>" + "<card>" * 400,
        "<cards><card><front>" + "&" * 3000,
    ],
)
def test_garbage_never_raises_and_yields_nothing(garbage: str) -> None:
    outcome = run([garbage])
    assert outcome.cards == []
    assert outcome.error is not None
    assert not outcome.complete
    assert run(list(garbage[:600])).error is not None


def test_no_cards_element_is_reported() -> None:
    assert run(["Here are your cards: none"]).error == "no <cards> or <card> element in the stream"


def test_close_twice_and_feed_after_close_are_harmless() -> None:
    parser = CardStreamParser()
    parser.feed("<cards>")
    assert parser.close() == []
    assert parser.close() == []
    assert parser.feed(card_xml("q", "a")) == []


# --- untrusted input ----------------------------------------------------------------------


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-CONTENT")
    return path


def _doctype(secret_uri: str) -> str:
    return (
        f'<!DOCTYPE cards [<!ENTITY xxe SYSTEM "{secret_uri}">'
        '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]>'
    )


def test_doctype_before_cards_is_dropped(secret_file: Path) -> None:
    stream = _doctype(secret_file.as_uri()) + cards_xml(card_xml("&xxe;", "&d;"))
    outcome = run([stream])
    assert outcome.cards == [ParsedCard("&xxe;", "&d;", {})]
    assert outcome.error is None


def test_doctype_inside_cards_is_inert_text(secret_file: Path) -> None:
    doctype = _doctype(secret_file.as_uri())
    stream = cards_xml(doctype, card_xml(f"{doctype} &xxe;", "&d;&c;"))
    outcome = run([stream])
    assert outcome.cards == [ParsedCard(f"{doctype} &xxe;", "&d;&c;", {})]
    for chunks in ([stream], list(stream)):
        assert "TOP-SECRET" not in repr(run(chunks))


# --- properties -----------------------------------------------------------------------------

_TEXT_CHARS = st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Zs", "Zl", "Zp"))
# fmt: off
# What a model writes raw: markup characters that must survive as text. No `;`, `/` or `!`
# in the random part, so raw text cannot form a reference, an end tag or a CDATA section.
_RAW_SNIPPETS = [
    "&", "&&", "AT&T", "&#", "&am", "<", "<<", "x<y", "a<b>c", "Vec<T>", "List<String>",
    ">", "->", "]]>", "]]", "'", '"', "<!--", "é", "日本語", "😀", "<T\n>",
]
# fmt: on
_RAW_TOKEN = st.one_of(
    st.sampled_from(_RAW_SNIPPETS),
    st.text(
        st.characters(
            codec="utf-8",
            blacklist_categories=("Cc", "Cs", "Cn", "Zs", "Zl", "Zp"),
            blacklist_characters=";/!",
        ),
        min_size=1,
        max_size=6,
    ),
)


def _field(token: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Text that field normalisation leaves unchanged: unindented, non-blank lines."""
    line = st.lists(token, min_size=1, max_size=4).map(" ".join)
    return st.lists(line, min_size=1, max_size=3).map("\n".join)


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@st.composite
def _card(draw: st.DrawFn) -> tuple[ParsedCard, str]:
    style = draw(st.sampled_from(["escaped", "cdata", "raw"]))
    if style == "raw":
        front, back = draw(_field(_RAW_TOKEN)), draw(_field(_RAW_TOKEN))
        front_xml, back_xml = front, back
    else:
        token = st.text(_TEXT_CHARS, min_size=1, max_size=6)
        front, back = draw(_field(token)), draw(_field(token))
        encode = escape if style == "escaped" else _cdata
        front_xml, back_xml = encode(front), encode(back)
    extra = draw(st.sampled_from([{}, {"difficulty": "3"}]))
    more = "".join(f"<{k}>{v}</{k}>" for k, v in extra.items())
    return ParsedCard(front, back, extra), card_xml(front_xml, back_xml, more)


@st.composite
def _stream(draw: st.DrawFn) -> tuple[list[ParsedCard], str]:
    cards = draw(st.lists(_card(), max_size=5))
    prelude = draw(st.sampled_from(["", "Here:\n```xml\n", "<?xml version='1.0'?>"]))
    tail = draw(st.sampled_from(["", "\n```", "\n```\nMore? <card>&"]))
    body = "\n  ".join(xml for _, xml in cards)
    return [card for card, _ in cards], f"{prelude}<cards>\n  {body}\n</cards>{tail}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_stream(), st.data())
def test_any_split_gives_the_same_cards(
    generated: tuple[list[ParsedCard], str], data: st.DataObject
) -> None:
    expected, stream = generated
    whole = run([stream])
    assert whole == Outcome(expected, 0, True, False, None)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=30))
    assert run(split_at(stream, cuts)) == whole


# fmt: off
_NOISE = st.one_of(
    st.sampled_from([
        "<cards>", "</cards>", "<card>", "</card>", "<front>", "</front>", "<back>",
        "</back>", "<x>", "</x>", "<x/>", "&", "&amp;", "&#", "&#x41;", ";", "<", ">",
        "<![CDATA[", "]]>", "<!--", "-->", "--", "text", " ", "\n", "é", "\x00",
        "<!DOCTYPE x [<!ENTITY e 'v'>]>", "&e;", "<card id='1'>", "<?pi?>",
    ]),
    st.text(max_size=5),
)
# fmt: on
_NOISY_TEXT = st.lists(_NOISE, max_size=4).map("".join)
_NOISY_CARD = st.builds(card_xml, _NOISY_TEXT, _NOISY_TEXT, _NOISY_TEXT)
# Mostly-shaped streams with noise everywhere: cards, half cards, stray markup.
_SOUP = st.builds(
    lambda start, parts: start + "".join(parts),
    st.sampled_from(["", "<cards>", "prose <cards>"]),
    st.lists(st.one_of(_NOISE, _NOISY_CARD), max_size=12),
)


@settings(max_examples=500, deadline=None)
@given(_SOUP, st.data())
def test_feed_never_raises_and_is_split_invariant_on_any_text(
    text: str, data: st.DataObject
) -> None:
    whole = run([text])
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=20))
    chunked = run(split_at(text, cuts))
    assert (chunked.cards, chunked.skipped, chunked.complete, chunked.truncated) == (
        whole.cards,
        whole.skipped,
        whole.complete,
        whole.truncated,
    )
    assert (chunked.error is None) == (whole.error is None)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), max_size=10))
def test_feed_never_raises_on_arbitrary_chunks(chunks: list[str]) -> None:
    parser = CardStreamParser()
    for chunk in chunks:
        parser.feed(chunk)
    parser.close()


# --- the three cases that must cost no card (issue 10) ---------------------------------------

_WORD = st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=5)
# fmt: off
_TAG_MENTIONS = [
    "<front>", "</front>", "<back>", "</back>", "<card>", "</card>", "<cards>", "</cards>",
    "<Card>", "</CARD>", "<br>", "<b>", "</b>", "<p>", "<card/>", "<!--", "List<T>", "a<b",
]
# fmt: on


@st.composite
def _mentioning_field(draw: st.DrawFn) -> str:
    """A line that mentions tags of the format, as a card about XML or HTML would. Each end
    tag is followed by a word or by the field's end: `</front> <back>` is indistinguishable
    from structure, and is read as structure."""
    parts = draw(st.lists(st.tuples(_WORD, st.sampled_from(_TAG_MENTIONS)), min_size=1, max_size=4))
    text = " ".join(f"{word} {tag}" for word, tag in parts)
    return text + draw(st.sampled_from(["", " " + draw(_WORD)]))


def _split_anywhere(stream: str, data: st.DataObject) -> list[str]:
    return split_at(stream, data.draw(st.lists(st.integers(0, len(stream)), max_size=30)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(_mentioning_field(), _mentioning_field()), min_size=1, max_size=5), st.data()
)
def test_cards_that_mention_tags_keep_their_text_and_the_later_cards(
    fields: list[tuple[str, str]], data: st.DataObject
) -> None:
    stream = cards_xml(*(card_xml(front, back) for front, back in fields))
    outcome = run(_split_anywhere(stream, data))
    assert outcome == Outcome([ParsedCard(f, b, {}) for f, b in fields], 0, True, False, None)


def test_the_examples_from_the_issue() -> None:
    stream = cards_xml(
        card_xml("What does the <back> tag hold?", "The answer"),
        card_xml("How do you break a line in HTML?", "Use <br> for a line break"),
        card_xml("What ends a card?", "</card>, after the <back>"),
        card_xml("Which is the root, <cards> or <card>?", "<cards>"),
        card_xml("last", "card"),
    )
    outcome = run([stream])
    assert [c.back for c in outcome.cards] == [
        "The answer",
        "Use <br> for a line break",
        "</card>, after the <back>",
        "<cards>",
        "card",
    ]
    assert outcome.error is None


def test_without_the_wrapper_the_list_starts_on_a_line_of_its_own() -> None:
    # A card quoted in a sentence (perhaps the learner's own text, echoed) is not the list.
    quoted = "You asked: <card><front>x</front><back>y</back></card>, so:\n"
    outcome = run([quoted + "  " + card_xml("q", "a")])
    assert outcome.cards == [ParsedCard("q", "a", {})]
    assert outcome.complete and outcome.error is None


def _cased(name: str, style: str) -> str:
    return {"lower": name, "title": name.title(), "upper": name.upper()}[style]


@st.composite
def _loose_reply(draw: st.DrawFn) -> tuple[list[ParsedCard], str]:
    """A reply as models write it: any tag case, with or without the <cards> wrapper,
    behind a markdown fence or prose (which may name the tags), with attributes."""
    token = st.text(_TEXT_CHARS, min_size=1, max_size=6)
    cards = draw(st.lists(st.tuples(_field(token), _field(token)), min_size=1, max_size=5))
    style = st.sampled_from(["lower", "title", "upper"])
    parts = []
    for front, back in cards:
        card, f, b = (_cased(name, draw(style)) for name in ("card", "front", "back"))
        attributes = draw(st.sampled_from(["", ' type="basic"', " ID='7'"]))
        parts.append(
            f"<{card}{attributes}>\n  <{f}>{escape(front)}</{f}>"
            f"<{b}>{escape(back)}</{b}>\n</{card}>"
        )
    wrapper = draw(st.sampled_from([None, "cards", "Cards", "CARDS"]))
    body = "\n".join(parts)
    if wrapper:
        body = f"<{wrapper}>\n{body}\n</{wrapper}>"
    prelude = draw(
        st.sampled_from(
            [
                "",
                "```xml\n",
                "Sure! Here are your cards:\n\n```xml\n",
                "Each <card> holds a <front> and a <back>:\n",
                "<?xml version='1.0'?>\n",
            ]
        )
    )
    tail = draw(st.sampled_from(["", "\n```", "\n```\nEach <card> above stands alone."]))
    expected = [ParsedCard(front, back, {}) for front, back in cards]
    return expected, prelude + body + tail


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_loose_reply(), st.data())
def test_replies_without_the_wrapper_or_in_capitals_give_every_card(
    generated: tuple[list[ParsedCard], str], data: st.DataObject
) -> None:
    expected, stream = generated
    outcome = run(_split_anywhere(stream, data))
    assert [(c.front, c.back) for c in outcome.cards] == [(c.front, c.back) for c in expected]
    assert (outcome.skipped, outcome.complete, outcome.error) == (0, True, None)


# Named references whose text is not blank: layout blanks are normalised away.
_HTML_ENTITIES = sorted(
    name
    for name, text in html5.items()
    if name.endswith(";") and not text.isspace() and not set(text) & set(" \t\r\n")
)
_ENTITY_OR_TEXT = st.one_of(
    st.sampled_from(_HTML_ENTITIES).map(lambda name: ("&" + name, html5[name])),
    st.sampled_from(["&#233;", "&#x1F600;", "AT&T", "&", "&foo;", "x"]).map(
        lambda raw: (raw, {"&#233;": "é", "&#x1F600;": "😀"}.get(raw, raw))
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(_ENTITY_OR_TEXT, min_size=1, max_size=6), min_size=1, max_size=4), st.data()
)
def test_html_named_entities_become_their_characters(
    fronts: list[list[tuple[str, str]]], data: st.DataObject
) -> None:
    raw = [" ".join(written for written, _ in parts) for parts in fronts]
    stream = cards_xml(*(card_xml(front, "a") for front in raw))
    outcome = run(_split_anywhere(stream, data))
    expected = [" ".join(text for _, text in parts) for parts in fronts]
    assert [c.front for c in outcome.cards] == expected
    assert outcome.error is None


def test_entities_from_a_doctype_stay_inert_even_with_html_names() -> None:
    doctype = (
        '<!DOCTYPE cards [<!ENTITY nbsp "pwned"><!ENTITY eacute SYSTEM "file:///etc/passwd">]>'
    )
    outcome = run([doctype + cards_xml(card_xml("caf&eacute;&nbsp;!", doctype + "&nbsp;"))])
    assert (outcome.cards[0].front, outcome.cards[0].back) == ("café\xa0!", doctype + "\xa0")
    assert "root:" not in repr(outcome)


def test_a_cloze_card_beside_a_basic_card_does_not_break_the_stream() -> None:
    cloze = '<card type="cloze"><text>The {{c1::Bastille}} fell in 1789</text></card>'
    outcome = run([cards_xml(cloze, card_xml("q", "a"))])
    assert [(c.front, c.back) for c in outcome.cards] == [
        ("The [...] fell in 1789", "The Bastille fell in 1789"),
        ("q", "a"),
    ]
    assert (outcome.skipped, outcome.error) == (0, None)


# --- bounds -----------------------------------------------------------------------------------


def _feed_until_failed(parser: CardStreamParser, chunks) -> int:
    """Feed chunks until the parser gives up; return how many characters it took."""
    fed = 0
    for chunk in chunks:
        parser.feed(chunk)
        fed += len(chunk)
        if parser.failed:
            return fed
    raise AssertionError("the parser never gave up")


def test_endless_prose_fails_after_the_prose_cap() -> None:
    parser = CardStreamParser()
    fed = _feed_until_failed(parser, itertools.repeat("Let me think about <cards> some more. "))
    assert 16 * 1024 < fed < 17 * 1024
    assert parser.error == "no <cards> or <card> in the first 16384 characters"
    assert parser.feed(cards_xml(card_xml("q", "a"))) == [] and parser.close() == []


def test_a_front_that_never_closes_fails_after_the_card_cap() -> None:
    parser = CardStreamParser()
    assert parser.feed("<cards>" + card_xml("q1", "a1")) == [ParsedCard("q1", "a1", {})]
    fed = _feed_until_failed(parser, itertools.chain(["<card><front>"], itertools.repeat("x")))
    assert 64 * 1024 < fed < 65 * 1024
    assert parser.error == "no card ended within 65536 characters"


def test_one_huge_chunk_is_cut_at_the_bound_not_parsed_whole() -> None:
    parser = CardStreamParser()
    started = time.perf_counter()
    assert parser.feed("<cards><card><front>" + "a<b & " * 2_000_000) == []
    assert parser.failed and time.perf_counter() - started < 1


def test_long_replies_within_the_bounds_parse_whole() -> None:
    cards = [card_xml(f"q{i}", "a" * 1500) for i in range(100)]  # 150 KB, ~1.5 KB a card
    stream = "x" * 15_000 + cards_xml(*cards)
    outcome = run(split_at(stream, list(range(0, len(stream), 4096))))
    assert len(outcome.cards) == 100 and outcome.complete and outcome.error is None


# --- performance ----------------------------------------------------------------------------


def test_character_by_character_feeding_stays_linear() -> None:
    cards = [
        card_xml(f"Question {i}: is a < b && c > d in x<y?", f"Answer {i} " + "x" * 100)
        for i in range(200)
    ]
    stream = "Here you go:\n```xml\n" + cards_xml(*cards) + "\n```"
    parser = CardStreamParser()
    started = time.perf_counter()
    got = [card for char in stream for card in parser.feed(char)]
    elapsed = time.perf_counter() - started
    assert len(got) == 200 and parser.complete
    assert elapsed < 5
