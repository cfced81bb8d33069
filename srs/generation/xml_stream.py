"""Incremental parser for the card XML an LLM streams (see CONTRACT.md, "What the LLM is
asked to write").

Pure: text in, `ParsedCard`s out, no I/O. Two stages:

1. `_Escaper` turns what the model actually writes into well-formed XML: it skips prose
   before `<cards`, escapes stray `&`, `<` and `>`, drops comments and attributes, removes
   characters XML forbids, and stops at `</cards>`. It holds back only a short ambiguous
   tail (`&am`, `<fr`, `<![CD`) until the next chunk decides it, so output never depends
   on where the chunks were cut.
2. lxml's strict `XMLPullParser` builds each `<card>` and reports it the moment its end tag
   is fed. Strict, not `recover=True`: recovery delays and mangles cards (NOTES.md).
"""

from __future__ import annotations

import enum
import re
import textwrap
from dataclasses import dataclass, field
from typing import Final, Literal

from lxml import etree

# Elements of the format itself. They are markup wherever they appear, so that a
# forgotten end tag fails loudly instead of swallowing the rest of the stream as text.
_STRUCTURE: Final = frozenset({"cards", "card", "front", "back"})
_CONTAINERS: Final = frozenset({"cards", "card"})

# A tag longer than this is taken for text; it bounds how much `<...` is ever held back.
_MAX_TAG_CHARS: Final = 256
_CDATA_OPEN: Final = "<![CDATA["
_COMMENT_OPEN: Final = "<!--"

_OPEN_TAG: Final = re.compile(
    r"<([A-Za-z_][A-Za-z0-9_-]*)"
    # Attributes are accepted and dropped. No `>` inside values, so a tag always ends at
    # the first `>`: that is what lets us decide a tag without seeing further.
    r"(?:\s+[A-Za-z_:][A-Za-z0-9_.:-]*\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'))*"
    r"\s*(/?)>"
)
_CLOSE_TAG: Final = re.compile(r"</([A-Za-z_][A-Za-z0-9_-]*)\s*>")
_TAG_SECOND_CHAR: Final = re.compile(r"[A-Za-z_/!]")

_NAMED_REFS: Final = ("&amp;", "&lt;", "&gt;", "&quot;", "&apos;")
_CHAR_REF: Final = re.compile(r"&#(?:([0-9]{1,7})|x([0-9a-fA-F]{1,6}));")
_CHAR_REF_PREFIX: Final = re.compile(r"&(?:#(?:[0-9]{0,7}|x[0-9a-fA-F]{0,6}))?")
_MAX_REF_CHARS: Final = 11  # "&#x10FFFF;" and "&#1114111;" are 10

# Characters XML 1.0 forbids even escaped (controls, lone surrogates, U+FFFE/U+FFFF):
# lxml fails on them, so they become U+FFFD.
_INVALID_XML_CHAR: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPECIAL: Final = re.compile("[<&>]|[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# lxml's positions count in the escaped text, not the model's: they would mislead.
_POSITIONS: Final = re.compile(r",? (?:line|column) \d+")


class _Mode(enum.Enum):
    PRELUDE = enum.auto()  # before the first <cards
    MARKUP = enum.auto()
    CDATA = enum.auto()
    COMMENT = enum.auto()
    DONE = enum.auto()  # </cards> seen, or a mismatched end tag emitted: ignore the rest


@dataclass(frozen=True)
class _Tag:
    kind: Literal["open", "empty", "close", "cdata", "comment"]
    name: str
    end: int


def _is_xml_char(code: int) -> bool:
    return code <= 0x10FFFF and _INVALID_XML_CHAR.match(chr(code)) is None


def _scan_tag(buf: str, i: int, final: bool) -> _Tag | None | bool:
    """What the `<` at buf[i] starts: a `_Tag`, None (text), or False (need more input)."""
    if i + 1 == len(buf):
        return None if final else False
    if not _TAG_SECOND_CHAR.match(buf, i + 1):
        return None
    if buf[i + 1] == "!":
        head = buf[i : i + len(_CDATA_OPEN)]
        for literal, kind in ((_CDATA_OPEN, "cdata"), (_COMMENT_OPEN, "comment")):
            if head.startswith(literal):
                return _Tag(kind, "", i + len(literal))
        is_prefix = any(lit.startswith(head) for lit in (_CDATA_OPEN, _COMMENT_OPEN))
        return False if is_prefix and not final else None
    gt = buf.find(">", i, i + _MAX_TAG_CHARS)
    if gt < 0:
        undecided = not final and len(buf) - i < _MAX_TAG_CHARS
        return False if undecided else None
    if match := _CLOSE_TAG.fullmatch(buf, i, gt + 1):
        return _Tag("close", match.group(1), gt + 1)
    if match := _OPEN_TAG.fullmatch(buf, i, gt + 1):
        return _Tag("empty" if match.group(2) else "open", match.group(1), gt + 1)
    return None


def _scan_reference(buf: str, i: int, final: bool) -> str | None | bool:
    """The valid reference starting at buf[i] (an `&`), None if there is none, or False
    when the buffer ends too early to tell."""
    head = buf[i : i + _MAX_REF_CHARS]
    for ref in _NAMED_REFS:
        if head.startswith(ref):
            return ref
    if match := _CHAR_REF.match(head):
        code = int(match.group(1)) if match.group(1) else int(match.group(2), 16)
        return match.group() if _is_xml_char(code) else None
    reaches_end = i + len(head) == len(buf)
    could_grow = any(ref.startswith(head) for ref in _NAMED_REFS) or bool(
        _CHAR_REF_PREFIX.fullmatch(head)
    )
    return False if reaches_end and could_grow and not final else None


class _Escaper:
    """Stateful text -> well-formed XML fragment converter; see the module docstring.

    `stack` mirrors the elements opened so far, for two decisions: inside a field
    (front, back or an extra) only the format's own tags are markup, so `List<String>`
    or `if a<b>c` in a code card stays text; and `</cards>` closing the root ends the
    stream.
    """

    def __init__(self) -> None:
        self.mode = _Mode.PRELUDE
        self.stack: list[str] = []
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
        start = buf.find("<cards", pos)
        if start < 0:
            keep = 0 if final else len("<cards") - 1
            return max(pos, len(buf) - keep)
        tag = _scan_tag(buf, start, final)
        if tag is False:
            return start
        if not isinstance(tag, _Tag) or tag.name != "cards" or tag.kind == "close":
            return start + 1
        if tag.kind == "empty":
            out.append("<cards/>")
            self.mode = _Mode.DONE
        else:
            out.append("<cards>")
            self.stack.append("cards")
            self.mode = _Mode.MARKUP
        return tag.end

    def _markup(self, buf: str, pos: int, out: list[str], final: bool) -> int:
        match = _SPECIAL.search(buf, pos)
        if match is None:
            out.append(buf[pos:])
            return len(buf)
        i = match.start()
        out.append(buf[pos:i])
        char = buf[i]
        if char == "&":
            ref = _scan_reference(buf, i, final)
            if ref is False:
                return i
            out.append(ref or "&amp;")
            return i + (len(ref) if ref else 1)
        if char == "<":
            return self._tag(buf, i, out, final)
        # `>` is always legal escaped, and `]]>` in text would be a syntax error.
        out.append("&gt;" if char == ">" else "\ufffd")
        return i + 1

    def _tag(self, buf: str, i: int, out: list[str], final: bool) -> int:
        tag = _scan_tag(buf, i, final)
        if tag is False:
            return i
        if not isinstance(tag, _Tag) or not self._is_markup(tag):
            out.append("&lt;")
            return i + 1
        if tag.kind == "cdata":
            out.append(_CDATA_OPEN)
            self.mode = _Mode.CDATA
        elif tag.kind == "comment":
            self.mode = _Mode.COMMENT  # comments carry nothing: dropped, `--` and all
        elif tag.kind == "open":
            out.append(f"<{tag.name}>")
            self.stack.append(tag.name)
        elif tag.kind == "empty":
            out.append(f"<{tag.name}/>")
        else:
            out.append(f"</{tag.name}>")
            if self.stack[-1] != tag.name:
                # Mismatched: lxml reports it as the stream's syntax error; nothing after
                # it can be parsed, so stop here.
                self.mode = _Mode.DONE
            else:
                self.stack.pop()
                if not self.stack:
                    self.mode = _Mode.DONE
        return tag.end

    def _is_markup(self, tag: _Tag) -> bool:
        if tag.kind == "cdata":
            return True
        if tag.kind == "comment":
            # Between elements a comment is the model's aside; inside a field `<!--` is
            # more likely part of an HTML question.
            return self.stack[-1] in _CONTAINERS
        if tag.kind == "close":
            return tag.name in _STRUCTURE or tag.name in self.stack
        # Any element may open a field of a card (an extra); elsewhere only the format's
        # own elements are markup, so prose like `Vec<T>` between cards stays text.
        return self.stack[-1] == "card" or tag.name in _STRUCTURE

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


def _normalise_field(text: str) -> str:
    """One line of text: runs of whitespace become one space. Several lines (code, lists):
    the lines and their relative indentation carry meaning, so only the indentation the XML
    layout added, trailing blanks and blank lines at both ends are removed."""
    lines = [line.rstrip() for line in text.split("\n")]
    if sum(1 for line in lines if line) <= 1:
        return " ".join(text.split())
    # The first line often sits right after `<front>`, unindented; dedent the rest alone.
    head, body = lines[0].strip(), textwrap.dedent("\n".join(lines[1:]))
    return f"{head}\n{body}".strip("\n")


@dataclass(frozen=True)
class ParsedCard:
    """One card as the model wrote it. Every field is normalised (`_normalise_field`);
    `extra` maps each other child element to its text, first occurrence winning. It is left
    out of the hash so that cards can go in sets."""

    front: str
    back: str
    extra: dict[str, str] = field(default_factory=dict, hash=False)


class CardStreamParser:
    """Feed the LLM's text chunk by chunk; each `feed` returns the cards it completed.

    Neither `feed` nor `close` raises on any text. After `close()`:
    - `complete`: `</cards>` was seen; the stream is whole.
    - `truncated`: it ended early (inside a card, before `</cards>`, or had no `<cards>`).
    - `error`: why it is not complete (a syntax error or the truncation), else None.
    - `skipped`: cards dropped for a missing or empty front or back, or a field longer than
      `max_field_chars`.
    A syntax error sets `error` at once; later feeds return nothing.
    """

    def __init__(self, max_field_chars: int = 2000) -> None:
        self.max_field_chars = max_field_chars
        self.skipped = 0
        self.complete = False
        self.truncated = False
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
        self._failed = False
        self._closed = False

    def feed(self, text: str) -> list[ParsedCard]:
        if self._failed or self._closed:
            return []
        return self._parse(self._escaper.feed(text))

    def close(self) -> list[ParsedCard]:
        """End of stream. Never raises; sets `truncated` and `error` if it ended early."""
        if self._closed:
            return []
        cards = [] if self._failed else self._parse(self._escaper.feed("", final=True))
        self._closed = True
        if not self.complete and not self._failed:
            self.truncated = True
            self.error = self._truncation_reason()
        try:
            self._xml.close()
        except etree.LxmlError:
            pass  # already reported above; close() only frees libxml2's context here
        return cards

    def _truncation_reason(self) -> str:
        if self._escaper.mode is _Mode.PRELUDE:
            return "no <cards> element in the stream"
        if len(self._escaper.stack) >= 2:
            return "the stream ended inside a card"
        return "the stream ended before </cards>"

    def _parse(self, xml_text: str) -> list[ParsedCard]:
        if xml_text:
            try:
                self._xml.feed(xml_text.encode("utf-8"))
            except etree.XMLSyntaxError as exc:
                self._failed = True
                message = _POSITIONS.sub("", str(exc.msg or exc))
                self.error = f"invalid XML: {message}"
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
            return None  # a <card> nested in a field is just part of that field
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
        front, back = fields.pop("front", ""), fields.pop("back", "")
        too_long = any(len(v) > self.max_field_chars for v in (front, back, *fields.values()))
        if not front or not back or too_long:
            self.skipped += 1
            return None
        return ParsedCard(front=front, back=back, extra=fields)
