"""Incremental parser for the outline XML an LLM streams (see CONTRACT.md):

    <outline><subtopic><name>...</name><scope>...</scope></subtopic>...</outline>

Pure: text in, `ParsedSubtopic`s out, no I/O. Like the card parser it has two stages: a small
escaper that turns what the model writes into well-formed XML (prose before the root skipped,
stray `&`, `<`, `>` escaped, HTML named entities decoded, everything after `</outline>`
ignored), then lxml's strict `XMLPullParser`, which reports each `<subtopic>` the moment its end
tag is fed. Only the four tags of the format are markup; any other `<...>` is text, so a
subtopic named "Generics: List<T>" survives. The escaper holds back only a short undecided
tail (`<subto`, `&eac`), so the result never depends on where the chunks were cut.
"""

from __future__ import annotations

import html.entities
import re
from dataclasses import dataclass
from typing import Final

from lxml import etree

from srs.outline.models import NAME_CHARS, SCOPE_CHARS

_TAG: Final = re.compile(r"<(/?)(outline|subtopic|name|scope)\s*>", re.IGNORECASE)
_MAX_TAG_CHARS: Final = len("</subtopic >") + 8
_REFERENCE: Final = re.compile(r"&(#[0-9]{1,7}|#x[0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_MAX_REF_CHARS: Final = 34
_XML_REFS: Final = frozenset({"amp", "lt", "gt", "quot", "apos"})
_INVALID_XML_CHAR: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPECIAL: Final = re.compile("[<&>]")


@dataclass(frozen=True)
class ParsedSubtopic:
    name: str
    scope: str


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _reference(match: re.Match[str]) -> str:
    """A reference as well-formed XML: XML's own kept, HTML's named ones decoded, the rest
    (unknown names, code points XML forbids) shown as the model wrote them."""
    body = match.group(1)
    if body in _XML_REFS:
        return match.group()
    if body.startswith("#"):
        code = int("0" + body[1:], 16) if body[1] == "x" else int(body[1:])
        valid = code <= 0x10FFFF and not _INVALID_XML_CHAR.match(chr(code))
        return f"&#{code};" if valid else _escape(match.group())
    char = html.entities.html5.get(body + ";")
    return _escape(char) if char is not None else _escape(match.group())


class _Escaper:
    """Model text -> well-formed XML, chunk by chunk; see the module docstring."""

    def __init__(self) -> None:
        self.started = False
        self.done = False
        self._pending = ""

    def feed(self, text: str, final: bool = False) -> str:
        buf = self._pending + _INVALID_XML_CHAR.sub("\ufffd", text)
        out: list[str] = []
        pos = 0
        while pos < len(buf) and not self.done:
            step = self._step(buf, pos, out, final)
            if step == pos:
                break
            pos = step
        self._pending = "" if self.done else buf[pos:]
        return "".join(out)

    def _step(self, buf: str, pos: int, out: list[str], final: bool) -> int:
        special = _SPECIAL.search(buf, pos)
        end = special.start() if special else len(buf)
        if end > pos:
            if self.started:
                out.append(buf[pos:end])
            return end
        if buf[pos] == "<":
            return self._tag(buf, pos, out, final)
        if buf[pos] == "&":
            return self._ref(buf, pos, out, final)
        if self.started:
            out.append("&gt;")
        return pos + 1

    def _tag(self, buf: str, pos: int, out: list[str], final: bool) -> int:
        match = _TAG.match(buf, pos)
        if match is None:
            head = buf[pos : pos + _MAX_TAG_CHARS]
            could_grow = ">" not in head and len(head) < _MAX_TAG_CHARS
            if could_grow and not final and pos + len(head) == len(buf):
                return pos  # `<subto` at the end of a chunk: wait for the rest
            if self.started:
                out.append("&lt;")
            return pos + 1
        closing, name = match.group(1) == "/", match.group(2).lower()
        if not self.started:
            if closing:
                return match.end()
            self.started = True
            if name != "outline":  # the model left out the wrapper: supply it
                out.append("<outline>")
        out.append(f"<{'/' if closing else ''}{name}>")
        if closing and name == "outline":
            self.done = True
        return match.end()

    def _ref(self, buf: str, pos: int, out: list[str], final: bool) -> int:
        match = _REFERENCE.match(buf, pos)
        if match is None:
            head = buf[pos : pos + _MAX_REF_CHARS]
            could_grow = re.fullmatch(r"&(#x?[0-9a-fA-F]*|[A-Za-z][A-Za-z0-9]*)?", head)
            if could_grow and not final and pos + len(head) == len(buf):
                return pos
            if self.started:
                out.append("&amp;")
            return pos + 1
        if self.started:
            out.append(_reference(match))
        return match.end()


def _clean(text: str | None, limit: int) -> str:
    return " ".join((text or "").split())[:limit]


class OutlineStreamParser:
    """Feed text as it streams; each call returns the subtopics completed by that text."""

    def __init__(self) -> None:
        self._escaper = _Escaper()
        self._parser = etree.XMLPullParser(
            events=("end",), tag="subtopic", resolve_entities=False, no_network=True
        )
        self.skipped = 0  # subtopics without a name
        self.error: str | None = None

    @property
    def complete(self) -> bool:
        """True once `</outline>` was read."""
        return self._escaper.done

    def feed(self, text: str) -> list[ParsedSubtopic]:
        return self._parse(self._escaper.feed(text))

    def close(self) -> list[ParsedSubtopic]:
        found = self._parse(self._escaper.feed("", final=True))
        if not self._escaper.started:
            self.error = "the reply held no <outline>"
        elif not self.complete and self.error is None:
            self.error = "the reply ended before </outline>"
        return found

    def _parse(self, xml_text: str) -> list[ParsedSubtopic]:
        if not xml_text or self.error is not None:
            return []
        try:
            self._parser.feed(xml_text)
        except etree.XMLSyntaxError as error:
            self.error = f"malformed outline XML: {error.msg}"
        found = []
        for _event, element in self._parser.read_events():
            subtopic = self._to_subtopic(element)
            element.clear()
            if subtopic is None:
                self.skipped += 1
            else:
                found.append(subtopic)
        return found

    @staticmethod
    def _to_subtopic(element: etree._Element) -> ParsedSubtopic | None:
        name = _clean(element.findtext("name"), NAME_CHARS)
        if not name:
            return None
        return ParsedSubtopic(name=name, scope=_clean(element.findtext("scope"), SCOPE_CHARS))
