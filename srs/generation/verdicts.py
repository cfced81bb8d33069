"""Incremental parser for the verifier's verdicts on a batch of cards. Pure: text in,
`Verdict`s out, no I/O.

The verifier is asked (prompts.txt, "verify user") for XML of this shape, streamed:

    <verdicts>
    <verdict card="1"><label>ok</label><reason>why</reason></verdict>
    </verdicts>

Each verdict is reported the moment its end tag is fed, so the first card of a batch can be
shown before the verifier has judged the last. Prose before `<verdicts>` is skipped. lxml's
parser is strict and network-free: after a syntax error, the verdicts already read stand and
`failed` is set, so the caller can hold the rest of the batch back as unchecked.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final

from lxml import etree

_ROOT_START: Final = re.compile(r"<verdicts\b", re.IGNORECASE)
# The verifier's reply is short; a reply that never opens <verdicts> is read this far only.
MAX_PROSE_CHARS: Final = 16 * 1024
REASON_CHARS: Final = 500


class VerdictLabel(enum.StrEnum):
    """What the verifier says of a card: `ok` shows it; every other label holds it back."""

    OK = "ok"
    WRONG = "wrong"  # states something false
    AMBIGUOUS = "ambiguous"  # the question has more than one fair answer
    NOT_ONE_FACT = "not_one_fact"  # asks several things at once
    UNSUPPORTED = "unsupported"  # a grounded card its passage does not support
    # Not verdicts the model gives: the check could not be made (its request failed); the
    # model answered the card's question differently when asked again (answer_check.py).
    UNCHECKED = "unchecked"
    UNSURE = "unsure"


MODEL_LABELS: Final = frozenset(VerdictLabel) - {VerdictLabel.UNCHECKED, VerdictLabel.UNSURE}


@dataclass(frozen=True)
class Verdict:
    card: int  # the card's number in the verify request, from 1
    label: VerdictLabel
    reason: str

    @property
    def passes(self) -> bool:
        return self.label is VerdictLabel.OK


class VerdictStreamParser:
    """Feed the verifier's text chunk by chunk; each `feed` returns the verdicts it completed.

    Never raises. `complete` once `</verdicts>` is read; `failed` with `error` when nothing
    more can be read (invalid XML, no `<verdicts>` within MAX_PROSE_CHARS). A verdict with an
    unknown label or card number is dropped (its card stays without a verdict) and counted in
    `skipped`."""

    def __init__(self) -> None:
        self.complete = False
        self.failed = False
        self.error: str | None = None
        self.skipped = 0
        self._prelude = ""
        self._prose_chars = 0
        self._started = False
        self._xml = etree.XMLPullParser(
            events=("end",),
            tag=("verdict", "verdicts"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
        )

    def feed(self, text: str) -> list[Verdict]:
        if self.failed or self.complete:
            return []
        if not self._started:
            text = self._skip_prose(text)
            if not text:
                return []
        error = None
        try:
            self._xml.feed(text)
        except etree.XMLSyntaxError as exc:
            error = f"invalid XML: {exc.msg or exc}"
        verdicts = [v for v in map(self._on_end, self._xml.read_events()) if v is not None]
        if error and not self.complete:  # text after </verdicts> is no error: it is not read
            self._fail(error)
        return verdicts

    def close(self) -> list[Verdict]:
        if not self.complete and not self.failed:
            self._fail("the reply ended before </verdicts>")
        return []

    def _skip_prose(self, text: str) -> str:
        self._prelude += text
        self._prose_chars += len(text)
        match = _ROOT_START.search(self._prelude)
        if match is None:
            if self._prose_chars > MAX_PROSE_CHARS:
                self._fail(f"no <verdicts> in the first {MAX_PROSE_CHARS} characters")
            self._prelude = self._prelude[-len("<verdicts") :]
            return ""
        self._started = True
        rest, self._prelude = self._prelude[match.start() :], ""
        return rest

    def _fail(self, reason: str) -> None:
        self.failed = True
        self.error = reason

    def _on_end(self, event: tuple[str, etree._Element]) -> Verdict | None:
        element = event[1]
        if element.tag == "verdicts":
            self.complete = element.getparent() is None
            return None
        verdict = _to_verdict(element)
        element.clear()
        if verdict is None:
            self.skipped += 1
        return verdict


def _to_verdict(element: etree._Element) -> Verdict | None:
    number = (element.get("card") or "").strip()
    label = _text(element, "label").lower().replace(" ", "_").replace("-", "_")
    if not number.isdigit() or label not in MODEL_LABELS:
        return None
    reason = _text(element, "reason")[:REASON_CHARS]
    return Verdict(card=int(number), label=VerdictLabel(label), reason=reason)


def _text(element: etree._Element, child: str) -> str:
    found = element.find(child)
    return " ".join("".join(found.itertext()).split()) if found is not None else ""
