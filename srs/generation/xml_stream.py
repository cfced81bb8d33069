"""Incremental parser for the card XML an LLM streams (see CONTRACT.md, "What the LLM is
asked to write").

Pure: text in, `ParsedCard`s out, no I/O. Two stages:

1. `_Escaper` turns what the model actually writes into well-formed XML. It skips prose
   before the first `<cards>` (or `<card>`: the wrapper is optional), reads tag names
   case-insensitively, decodes HTML named entities (`&eacute;`), escapes stray `&`, `<`
   and `>`, drops comments, removes characters XML forbids, and stops at `</cards>`.
   A tag is markup only where the format expects it; anywhere else, notably inside a
   front or a back that talks about `<card>` or `</back>`, it is text. It holds back only
   a short undecided tail (`&ea`, `<fr`, a `</front>` whose next tag is unseen) until the
   next chunk decides it, so output never depends on where the chunks were cut. Where
   text and structure cannot be told apart (`</front>` followed by a tag, inside a front),
   structure wins: a misread costs that card's text, never the cards after it.
2. lxml's strict, network-free `XMLPullParser` builds each `<card>` and reports it the
   moment its end tag is fed. Strict, not `recover=True`: recovery delays and mangles cards
   (NOTES.md). The escaper only ever emits balanced markup, so recovery is not needed.

Bounded: a card (or the prose before the first one) that runs past its cap fails the parse
with a clear reason, so a model that never closes a tag costs a fixed amount of memory.
"""

from __future__ import annotations

import enum
import re
import textwrap
from dataclasses import dataclass, field, replace
from html.entities import html5
from typing import Final, Literal, NamedTuple

from lxml import etree

from srs.topics import cloze
from srs.topics.cloze import ClozeError, ClozeNote

_CONTAINERS: Final = frozenset({"cards", "card"})
# Card fields whose end tag a model may swap (`<front>q</back>`): read as the field's end.
_FIELDS: Final = frozenset({"front", "back"})
_CARD_PARTS: Final = _CONTAINERS | _FIELDS

# A tag longer than this is taken for text; it bounds how much `<...` is ever held back.
_MAX_TAG_CHARS: Final = 256
# Blank space looked through to see which tag follows a tag (see `_look_ahead`).
_MAX_LOOKAHEAD_BLANKS: Final = 1024
# Tags a field's text opens (`<b>`, `<br>`), tracked so that their end tags stay text.
_MAX_MENTIONS: Final = 16
_CDATA_OPEN: Final = "<![CDATA["
_COMMENT_OPEN: Final = "<!--"

_OPEN_TAG: Final = re.compile(
    r"<([A-Za-z_][A-Za-z0-9_-]*)"
    # No `>` inside attribute values, so a tag always ends at the first `>`: that is what
    # lets us decide a tag without seeing further.
    r"((?:\s+[A-Za-z_:][A-Za-z0-9_.:-]*\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'))*)"
    r"\s*(/?)>"
)
_ATTRIBUTE: Final = re.compile(r"([A-Za-z_:][A-Za-z0-9_.:-]*)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_CLOSE_TAG: Final = re.compile(r"</([A-Za-z_][A-Za-z0-9_-]*)\s*>")
_TAG_SECOND_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_/!")
_CARD_START: Final = re.compile(r"<card", re.IGNORECASE)
_BLANKS: Final = re.compile(r"[ \t\r\n]*")

_XML_REFS: Final = frozenset({"amp", "lt", "gt", "quot", "apos"})
_NAMED_REF: Final = re.compile(r"&([A-Za-z][A-Za-z0-9]{0,31});")
_CHAR_REF: Final = re.compile(r"&#(?:([0-9]{1,7})|x([0-9a-fA-F]{1,6}));")
_REF_PREFIX: Final = re.compile(
    r"&(?:[A-Za-z][A-Za-z0-9]{0,31}|#(?:[0-9]{0,7}|x[0-9a-fA-F]{0,6}))?"
)
_MAX_REF_CHARS: Final = 34  # "&CounterClockwiseContourIntegral;" is 33

# Characters XML 1.0 forbids even escaped (controls, lone surrogates, U+FFFE/U+FFFF):
# lxml fails on them, so they become U+FFFD.
_INVALID_XML_CHAR: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MARKUP_STOP: Final = re.compile("[<&]|[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# lxml's positions count in the escaped text, not the model's: they would mislead.
_POSITIONS: Final = re.compile(r",? (?:line|column) \d+")


class _Mode(enum.Enum):
    PRELUDE = enum.auto()  # before the first <cards> or <card>
    MARKUP = enum.auto()
    CDATA = enum.auto()
    COMMENT = enum.auto()
    DONE = enum.auto()  # the root is closed: ignore the rest


class _Tag(NamedTuple):  # a tuple: made for every `<`, so cheap to make
    kind: Literal["open", "empty", "close", "cdata", "comment"]
    name: str  # lower case: `<Card>` is `<card>`
    start: int
    end: int


# What follows a tag: the next tag, text, the end of the stream, or not known yet.
_Next = _Tag | Literal["text", "end", "wait"]
# How a tag is taken: emitted as markup, escaped as text, or undecided until more input.
_Verdict = Literal["markup", "text", "wait"]


def _is_xml_char(code: int) -> bool:
    return code <= 0x10FFFF and _INVALID_XML_CHAR.match(chr(code)) is None


def _escape_text(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _INVALID_XML_CHAR.sub("\ufffd", text)


def _scan_tag(buf: str, i: int, final: bool) -> _Tag | None | bool:
    """What the `<` at buf[i] starts: a `_Tag`, None (text), or False (need more input)."""
    if i + 1 == len(buf):
        return None if final else False
    if buf[i + 1] not in _TAG_SECOND_CHARS:
        return None
    if buf[i + 1] == "!":
        head = buf[i : i + len(_CDATA_OPEN)]
        for literal, kind in ((_CDATA_OPEN, "cdata"), (_COMMENT_OPEN, "comment")):
            if head.startswith(literal):
                return _Tag(kind, "", i, i + len(literal))
        is_prefix = any(lit.startswith(head) for lit in (_CDATA_OPEN, _COMMENT_OPEN))
        return False if is_prefix and not final else None
    gt = buf.find(">", i, i + _MAX_TAG_CHARS)
    if gt < 0:
        undecided = not final and len(buf) - i < _MAX_TAG_CHARS
        return False if undecided else None
    if buf[i + 1] == "/":
        match = _CLOSE_TAG.fullmatch(buf, i, gt + 1)
        return _Tag("close", match.group(1).lower(), i, gt + 1) if match else None
    if match := _OPEN_TAG.fullmatch(buf, i, gt + 1):
        kind = "empty" if match.group(3) else "open"
        return _Tag(kind, match.group(1).lower(), i, gt + 1)
    return None


def _look_ahead(buf: str, i: int, final: bool) -> _Next:
    """The tag after buf[i:], past blank space: structure is followed by structure, while a
    tag that a sentence mentions is followed by more of the sentence."""
    blank_end = _BLANKS.match(buf, i, i + _MAX_LOOKAHEAD_BLANKS).end()
    if blank_end - i == _MAX_LOOKAHEAD_BLANKS:
        return "text"
    if blank_end == len(buf):
        return "end" if final else "wait"
    if buf[blank_end] != "<":
        return "text"
    tag = _scan_tag(buf, blank_end, final)
    if tag is False:
        return "wait"
    return tag or "text"


def _attributes(tag_text: str) -> str:
    """The tag's attributes re-serialised as well-formed XML; the first of a name wins, and
    names with a namespace prefix are dropped (the prefix would be undeclared)."""
    if "=" not in tag_text:
        return ""
    seen: dict[str, str] = {}
    for name, double, single in _ATTRIBUTE.findall(tag_text):
        name = name.lower()
        if ":" not in name and name not in seen:
            seen[name] = _decode_references(double or single)
    return "".join(
        f' {name}="{_escape_text(value).replace(chr(34), "&quot;")}"'
        for name, value in seen.items()
    )


def _decode_references(text: str) -> str:
    return _REFERENCE_IN_TEXT.sub(lambda m: _reference_text(m.group()) or m.group(), text)


_REFERENCE_IN_TEXT: Final = re.compile(
    r"&(?:[A-Za-z][A-Za-z0-9]{0,31}|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});"
)


def _reference_text(ref: str) -> str | None:
    """The characters a complete reference (`&eacute;`, `&#233;`) stands for, or None."""
    if match := _CHAR_REF.fullmatch(ref):
        code = int(match.group(1)) if match.group(1) else int(match.group(2), 16)
        return chr(code) if _is_xml_char(code) else None
    return html5.get(ref[1:])


def _scan_reference(buf: str, i: int, final: bool) -> tuple[str, int] | None | bool:
    """For the `&` at buf[i]: (the XML to emit, characters consumed) for a valid reference,
    None if there is none, or False when the buffer ends too early to tell."""
    head = buf[i : i + _MAX_REF_CHARS]
    if match := _NAMED_REF.match(head):
        if match.group(1) in _XML_REFS:
            return match.group(), match.end()
        text = html5.get(match.group(1) + ";")
        return (_escape_text(text), match.end()) if text is not None else None
    if match := _CHAR_REF.match(head):
        code = int(match.group(1)) if match.group(1) else int(match.group(2), 16)
        return (match.group(), match.end()) if _is_xml_char(code) else None
    reaches_end = i + len(head) == len(buf)
    could_grow = bool(_REF_PREFIX.fullmatch(head))
    return False if reaches_end and could_grow and not final else None


class _Escaper:
    """Stateful text -> well-formed XML fragment converter; see the module docstring.

    `stack` mirrors the elements opened so far (`cards`, `card`, then one field). It decides
    what a tag is: in the prelude and between cards only `<cards>`/`<card>` followed by
    more markup starts something; in a card any element opens a field; inside a field only
    its own end tag followed by markup (or a swapped `</back>`, `</card>` in that position)
    ends it. `mentions` holds the tags the field's text opened, so `<b>x</b>` stays text.
    """

    def __init__(self) -> None:
        self.mode = _Mode.PRELUDE
        self.stack: list[str] = []
        self.mentions: list[str] = []
        self.implicit_root = False  # the reply had no <cards> wrapper: we opened one
        self._at_line_start = True  # the prelude so far ends a line (or is empty)
        self._pending = ""

    def feed(self, text: str, final: bool = False) -> str:
        buf = self._pending + text
        out: list[str] = []
        pos = 0
        while pos < len(buf) and self.mode is not _Mode.DONE:
            step = self._step(buf, pos, out, final)
            if step == pos:  # undecided: keep the tail for the next feed
                break
            pos = step
        self._pending = "" if self.mode is _Mode.DONE else buf[pos:]
        if final and self.implicit_root and self.stack == ["cards"]:
            # Without a wrapper the reply ends where the model stops, between cards.
            self._close_to("cards", out)
        return "".join(out)

    def _step(self, buf: str, pos: int, out: list[str], final: bool) -> int:
        """Consume from buf[pos]; return the new position (== pos: wait for more input)."""
        match self.mode:
            case _Mode.PRELUDE:
                return self._prelude(buf, pos, out, final)
            case _Mode.CDATA:
                return self._cdata(buf, pos, out, final)
            case _Mode.COMMENT:
                return self._comment(buf, pos, out, final)
            case _:
                return self._markup(buf, pos, out, final)

    def _prelude(self, buf: str, pos: int, out: list[str], final: bool) -> int:
        step = self._prelude_step(buf, pos, out, final)
        if self.mode is _Mode.PRELUDE:
            self._note_prose(buf[pos:step])
        return step

    def _note_prose(self, skipped: str) -> None:
        """Track whether the prose skipped so far ends at the start of a line."""
        line_break = skipped.rfind("\n")
        if line_break >= 0:
            self._at_line_start = not skipped[line_break + 1 :].strip(" \t")
        elif skipped.strip(" \t"):
            self._at_line_start = False

    def _prelude_step(self, buf: str, pos: int, out: list[str], final: bool) -> int:
        match = _CARD_START.search(buf, pos)
        if match is None:
            keep = 0 if final else len("<card") - 1
            return max(pos, len(buf) - keep)
        start = match.start()
        if start > pos:
            return start  # the prose before it first, for `_note_prose`
        tag = _scan_tag(buf, start, final)
        if tag is False:
            return start
        if not isinstance(tag, _Tag) or tag.name not in _CONTAINERS or tag.kind == "close":
            return start + 1
        if tag.kind == "empty":
            if tag.name == "card":
                return start + 1
            out.append("<cards/>")
            self.mode = _Mode.DONE
            return tag.end
        if tag.name == "card" and not self._at_line_start:
            # Without the wrapper, a list starts on a line of its own: a `<card>` inside a
            # sentence is the model quoting (perhaps the learner's own text), not writing.
            return start + 1
        follows = _look_ahead(buf, tag.end, final)
        if follows == "wait":
            return start
        if not isinstance(follows, _Tag):
            return start + 1  # prose that names the tag: "each <card> has a front"
        self.mode = _Mode.MARKUP
        if tag.name == "card":
            self.implicit_root = True
            out.append("<cards>")
            self.stack.append("cards")
        self._open(buf, tag, out)
        return tag.end

    def _markup(self, buf: str, pos: int, out: list[str], final: bool) -> int:
        """Consume text and tags from buf[pos] for as long as the mode stays MARKUP."""
        while self.mode is _Mode.MARKUP:
            match = _MARKUP_STOP.search(buf, pos)
            end = len(buf) if match is None else match.start()
            if end > pos:
                # `>` is always legal escaped, and `]]>` in text would be a syntax error.
                out.append(buf[pos:end].replace(">", "&gt;"))
                pos = end
            if match is None:
                break
            if buf[pos] == "&":
                step = self._reference(buf, pos, out, final)
            elif buf[pos] == "<":
                step = self._tag(buf, pos, out, final)
            else:
                out.append("\ufffd")
                step = pos + 1
            if step == pos:
                break
            pos = step
        return pos

    def _reference(self, buf: str, i: int, out: list[str], final: bool) -> int:
        ref = _scan_reference(buf, i, final)
        if ref is False:
            return i
        if ref is None:
            out.append("&amp;")
            return i + 1
        out.append(ref[0])
        return i + ref[1]

    def _tag(self, buf: str, i: int, out: list[str], final: bool) -> int:
        tag = _scan_tag(buf, i, final)
        if tag is False:
            return i
        verdict = self._verdict(buf, tag, out, final) if isinstance(tag, _Tag) else "text"
        if verdict == "wait":
            return i
        if verdict == "text":
            out.append("&lt;")
            return i + 1
        return tag.end  # type: ignore[union-attr]  # only a tag can be markup

    def _verdict(self, buf: str, tag: _Tag, out: list[str], final: bool) -> _Verdict:
        top = self.stack[-1]
        if top == "cards":
            return self._between_cards(buf, tag, out, final)
        if top == "card":
            return self._in_card(buf, tag, out, final)
        return self._in_field(buf, tag, top, out, final)

    def _between_cards(self, buf: str, tag: _Tag, out: list[str], final: bool) -> _Verdict:
        if tag.kind in ("cdata", "comment"):
            return self._special_section(tag, out)
        if tag.name == "cards" and tag.kind == "close":
            self._close_to("cards", out)
            return "markup"
        if tag.name == "card" and tag.kind == "empty":
            out.append("<card/>")
            return "markup"
        if tag.name == "card" and tag.kind == "open":
            return self._open_if_markup_follows(buf, tag, out, final)
        return "text"

    def _in_card(self, buf: str, tag: _Tag, out: list[str], final: bool) -> _Verdict:
        if tag.kind in ("cdata", "comment"):
            return self._special_section(tag, out)
        if tag.kind == "close":
            if tag.name not in _CONTAINERS:
                return "text"  # a stray end tag, e.g. a second </front>
            self._close_to(tag.name, out)  # </cards> also ends a card missing its </card>
            return "markup"
        if tag.name == "card" and tag.kind == "open":
            # A new card while one is open: the previous one forgot its </card>.
            return self._open_if_markup_follows(buf, tag, out, final, close_first=True)
        if tag.name in _CONTAINERS:
            return "text"
        if tag.kind == "empty":
            out.append(f"<{tag.name}/>")
        else:
            self._open(buf, tag, out)
        return "markup"

    def _in_field(self, buf: str, tag: _Tag, name: str, out: list[str], final: bool) -> _Verdict:
        if tag.kind == "cdata":
            return self._special_section(tag, out)
        if tag.kind == "open" and tag.name != name:
            if len(self.mentions) < _MAX_MENTIONS:
                self.mentions.append(tag.name)
            return "text"
        if tag.kind != "close":
            return "text"  # `<!--`, `<br/>`, or `<front>` inside the front
        if tag.name != name and self.mentions and tag.name == self.mentions[-1]:
            self.mentions.pop()  # `<b>bold</b>`
            return "text"
        if tag.name == name:
            return self._end_field_if(self._ends_field(buf, tag, name, final, after=None), out)
        if (tag.name in _FIELDS or tag.name in self.stack) and tag.name not in self.mentions:
            # `</back>` in a front, or `</card>` in a back, where the structure goes on.
            verdict = self._ends_field(buf, tag, name, final, after=_CARD_PARTS)
            if self._end_field_if(verdict, out) == "markup" and tag.name in self.stack:
                self._close_to(tag.name, out)
            return verdict
        return "text"

    def _ends_field(
        self, buf: str, tag: _Tag, name: str, final: bool, after: frozenset[str] | None
    ) -> _Verdict:
        """Whether the end tag `tag` ends the field `name`: only if the stream ends there or
        a tag follows (one of `after`, if given) that is not the field's own end tag, which
        would show that this one was part of the text."""
        follows = _look_ahead(buf, tag.end, final)
        if follows == "wait":
            return "wait"
        if follows == "end":
            return "markup"
        if not isinstance(follows, _Tag) or (after is not None and follows.name not in after):
            return "text"
        own_end_next = follows.kind == "close" and follows.name == name
        return "text" if own_end_next else "markup"

    def _end_field_if(self, verdict: _Verdict, out: list[str]) -> _Verdict:
        if verdict == "markup":
            self._close_to(self.stack[-1], out)
        return verdict

    def _open_if_markup_follows(
        self, buf: str, tag: _Tag, out: list[str], final: bool, close_first: bool = False
    ) -> _Verdict:
        follows = _look_ahead(buf, tag.end, final)
        if follows == "wait":
            return "wait"
        if not isinstance(follows, _Tag):
            return "text"
        if close_first:
            self._close_to("card", out)
        self._open(buf, tag, out)
        return "markup"

    def _special_section(self, tag: _Tag, out: list[str]) -> _Verdict:
        if tag.kind == "cdata":
            out.append(_CDATA_OPEN)
            self.mode = _Mode.CDATA
        else:
            self.mode = _Mode.COMMENT  # comments carry nothing: dropped, `--` and all
        return "markup"

    def _open(self, buf: str, tag: _Tag, out: list[str]) -> None:
        out.append(f"<{tag.name}{_attributes(buf[tag.start : tag.end])}>")
        self.stack.append(tag.name)
        self.mentions.clear()

    def _close_to(self, name: str, out: list[str]) -> None:
        """Close open elements down to and including `name`."""
        while self.stack:
            closed = self.stack.pop()
            out.append(f"</{closed}>")
            if closed == name:
                break
        self.mentions.clear()
        if not self.stack:
            self.mode = _Mode.DONE

    def _cdata(self, buf: str, pos: int, out: list[str], final: bool) -> int:
        end = buf.find("]]>", pos)
        if end >= 0:
            out.append(_INVALID_XML_CHAR.sub("\ufffd", buf[pos : end + 3]))
            self.mode = _Mode.MARKUP
            return end + 3
        stop = len(buf) if final else len(buf) - _partial_suffix(buf, "]]>")
        out.append(_INVALID_XML_CHAR.sub("\ufffd", buf[pos:stop]))
        return max(pos, stop)

    def _comment(self, buf: str, pos: int, out: list[str], final: bool) -> int:
        end = buf.find("-->", pos)
        if end >= 0:
            self.mode = _Mode.MARKUP
            return end + 3
        return max(pos, len(buf) if final else len(buf) - _partial_suffix(buf, "-->"))


def _partial_suffix(buf: str, terminator: str) -> int:
    """Length of the longest end of `buf` that begins `terminator` (`]]` for `]]>`)."""
    for size in range(len(terminator) - 1, 0, -1):
        if buf.endswith(terminator[:size]):
            return size
    return 0


# Only XML's own blanks are layout: a no-break space (`&nbsp;`) is part of the text.
_LAYOUT_BLANKS: Final = re.compile(r"[ \t\r\n]+")


def _normalise_field(text: str) -> str:
    """One line of text: runs of blanks become one space. Several lines (code, lists): the
    lines and their relative indentation carry meaning, so only the indentation the XML
    layout added, trailing blanks and blank lines at both ends are removed."""
    lines = [line.rstrip(" \t\r") for line in text.split("\n")]
    if sum(1 for line in lines if line.strip(" \t")) <= 1:
        return _one_line(text)
    # The first line often sits right after `<front>`, unindented; dedent the rest alone.
    head, body = lines[0].strip(" \t"), textwrap.dedent("\n".join(lines[1:]))
    return f"{head}\n{body}".strip("\n")


def _one_line(text: str) -> str:
    if text.isascii():  # the fast path: here str.split() splits on exactly XML's blanks
        return " ".join(text.split())
    return _LAYOUT_BLANKS.sub(" ", text).strip(" ")


@dataclass(frozen=True)
class ParsedCard:
    """One card as the model wrote it. Every field is normalised (`_normalise_field`);
    `extra` maps each other child element to its text, first occurrence winning, and
    `attributes` holds the `<card>` element's own (`type="cloze"`). Both are left out of the
    hash so that cards can go in sets.

    A cloze card (`<card type="cloze"><text>...{{c1::x}}...</text></card>`) is one note:
    `cloze` holds its checked text, which gives one card per deletion number (`cards()`);
    `front`, `back` and `cloze_ordinal` are then those of its first card."""

    front: str
    back: str
    extra: dict[str, str] = field(default_factory=dict, hash=False)
    attributes: dict[str, str] = field(default_factory=dict, hash=False)
    cloze: ClozeNote | None = None
    cloze_ordinal: int | None = None

    def cards(self) -> list[ParsedCard]:
        """The cards this note gives: one per deletion number of a cloze note, each scheduled
        on its own; a basic card is its own one card."""
        if self.cloze is None:
            return [self]
        return [
            replace(self, front=self.cloze.front(number), cloze_ordinal=number)
            for number in self.cloze.ordinals
        ]


# Text is handed to the escaper and lxml in slices of at most this many characters, so the
# bounds below are checked that often however large a chunk the provider sends.
_SLICE_CHARS: Final = 4096


class CardStreamParser:
    """Feed the LLM's text chunk by chunk; each `feed` returns the cards it completed.

    Neither `feed` nor `close` raises on any text. After `close()`:
    - `complete`: the root was closed (`</cards>`, or the end of a reply without the
      wrapper); the stream is whole.
    - `truncated`: it ended early (inside a card, before `</cards>`, or held no card).
    - `error`: why it is not complete (a syntax error, a bound, or the truncation).
    - `skipped`: cards dropped for a missing or empty front or back, a field longer than
      `max_field_chars`, an unknown `type`, or a cloze text that `cloze.parse` refuses;
      `skip_reason` says why the last one was dropped.
    `failed` is set at once (with `error`) when nothing more can be parsed: a syntax error,
    more than `max_prose_chars` before the first card, or more than `max_card_chars` since
    the last card ended (a tag that never closes). Later feeds then return nothing, so the
    caller can stop reading.
    """

    def __init__(
        self,
        max_field_chars: int = 2000,
        max_card_chars: int = 64 * 1024,
        max_prose_chars: int = 16 * 1024,
    ) -> None:
        self.max_field_chars = max_field_chars
        self.max_card_chars = max_card_chars
        self.max_prose_chars = max_prose_chars
        self.skipped = 0
        self.skip_reason: str | None = None
        self.complete = False
        self.truncated = False
        self.failed = False
        self.error: str | None = None
        self._escaper = _Escaper()
        self._xml = etree.XMLPullParser(
            events=("end",),
            tag=("card", "cards"),
            encoding="utf-8",
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
        )
        self._cards_ended = 0
        self._chars_since_card = 0  # fed since the last card ended, or since the start
        self._closed = False

    def feed(self, text: str) -> list[ParsedCard]:
        cards: list[ParsedCard] = []
        for start in range(0, len(text), _SLICE_CHARS):
            if self.failed or self.complete or self._closed:
                break
            cards += self._feed_slice(text[start : start + _SLICE_CHARS])
        return cards

    def close(self) -> list[ParsedCard]:
        """End of stream. Never raises; sets `truncated` and `error` if it ended early."""
        if self._closed:
            return []
        cards = [] if self.failed else self._parse(self._escaper.feed("", final=True))
        self._closed = True
        if not self.complete and not self.failed:
            self.truncated = True
            self.error = self._truncation_reason()
        try:
            self._xml.close()
        except etree.LxmlError:
            pass  # already reported above; close() only frees libxml2's context here
        return cards

    def _feed_slice(self, text: str) -> list[ParsedCard]:
        ended_before = self._cards_ended
        cards = self._parse(self._escaper.feed(text))
        if self._cards_ended != ended_before:
            self._chars_since_card = 0
        else:
            self._chars_since_card += len(text)
        if self.failed or self.complete:
            return cards
        if self._escaper.mode is _Mode.PRELUDE:
            if self._chars_since_card > self.max_prose_chars:
                self._fail(f"no <cards> or <card> in the first {self.max_prose_chars} characters")
        elif self._chars_since_card > self.max_card_chars:
            self._fail(f"no card ended within {self.max_card_chars} characters")
        return cards

    def _fail(self, reason: str) -> None:
        self.failed = True
        self.error = reason

    def _truncation_reason(self) -> str:
        if self._escaper.mode is _Mode.PRELUDE:
            return "no <cards> or <card> element in the stream"
        if len(self._escaper.stack) >= 2:
            return "the stream ended inside a card"
        return "the stream ended before </cards>"

    def _parse(self, xml_text: str) -> list[ParsedCard]:
        if xml_text:
            try:
                self._xml.feed(xml_text.encode("utf-8"))
            except etree.XMLSyntaxError as exc:
                message = _POSITIONS.sub("", str(exc.msg or exc))
                self._fail(f"invalid XML: {message}")
        # Read events even after a failure: cards completed before the error are good.
        return [card for card in map(self._on_end, self._xml.read_events()) if card]

    def _on_end(self, event: tuple[str, etree._Element]) -> ParsedCard | None:
        element = event[1]
        parent = element.getparent()
        if element.tag == "cards":
            if parent is None:
                self.complete = True
            return None
        if parent is None or parent.tag != "cards":
            return None
        self._cards_ended += 1
        card = self._to_card(element)
        # Keep memory flat over a long stream: drop cards already turned into objects.
        element.clear()
        while element.getprevious() is not None:
            del parent[0]
        return card

    def _to_card(self, element: etree._Element) -> ParsedCard | None:
        fields: dict[str, str] = {}
        for child in element:
            if isinstance(child.tag, str):
                fields.setdefault(child.tag, _normalise_field("".join(child.itertext())))
        attributes = dict(element.attrib)
        kind = attributes.get("type", "").strip().lower()
        if any(len(v) > self.max_field_chars for v in fields.values()):
            self._skip(f"a field is longer than {self.max_field_chars} characters")
            return None
        # A cloze card is its <text>; a model that forgets the attribute but writes a cloze
        # text still wrote one. Marked cloze but written as front and back, it is basic.
        if (kind == "cloze" and "text" in fields) or (
            not kind and "front" not in fields and cloze.looks_like_cloze(fields.get("text", ""))
        ):
            return self._to_cloze(fields, attributes)
        if kind not in ("", "basic", "cloze"):
            self._skip(f"unknown card type {kind[:20]!r}")
            return None
        front, back = fields.pop("front", ""), fields.pop("back", "")
        if not front or not back:
            self._skip("a card had no front or no back")
            return None
        return ParsedCard(front=front, back=back, extra=fields, attributes=attributes)

    def _to_cloze(self, fields: dict[str, str], attributes: dict[str, str]) -> ParsedCard | None:
        text = fields.pop("text", "")
        fields.pop("front", None)
        fields.pop("back", None)
        try:
            note = cloze.parse(text)
        except ClozeError as error:
            self._skip(f"a cloze card was refused: {error}")
            return None
        return ParsedCard(
            front=note.front(note.ordinals[0]),
            back=note.back(),
            extra=fields,
            attributes={**attributes, "type": "cloze"},
            cloze=note,
            cloze_ordinal=note.ordinals[0],
        )

    def _skip(self, reason: str) -> None:
        self.skipped += 1
        self.skip_reason = reason
