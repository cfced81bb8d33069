"""Split a document's blocks into passages. Pure.

A passage never spans two pages or two sections, holds at most `max_chars` characters, and
keeps its offsets into the document's text (the blocks joined by blank lines), so the quote a
card cites can be shown in place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from srs.sources.extract import Block

SEPARATOR = "\n\n"
LABEL_CHARS = 400


@dataclass(frozen=True)
class PassageDraft:
    position: int
    section: str | None
    page: int | None
    label: str
    start: int  # offsets into the document text
    end: int
    text: str


def label_for(section: str | None, page: int | None, position: int) -> str:
    """What the study screen shows after "from:": "Chapter 3, p. 41", "p. 41", "Chapter 3"."""
    if section and page is not None:
        label = f"{section}, p. {page}"
    elif page is not None:
        label = f"p. {page}"
    elif section:
        label = section
    else:
        label = f"part {position + 1}"
    return label[:LABEL_CHARS]


def document_text(blocks: Sequence[Block]) -> str:
    return SEPARATOR.join(block.text for block in blocks)


def _pieces(text: str, max_chars: int) -> list[tuple[int, int]]:
    """(start, end) spans of `text`, each at most max_chars, cut after a sentence where one
    ends in the second half of the span, else at a space, else hard."""
    spans = []
    start = 0
    while len(text) - start > max_chars:
        window = text[start : start + max_chars]
        cut = max((m.end() for m in re.finditer(r"[.!?]\s", window)), default=0)
        if cut < max_chars // 2:
            cut = window.rfind(" ") + 1
        if cut < max_chars // 2:
            cut = max_chars
        spans.append((start, start + cut))
        start += cut
    spans.append((start, len(text)))
    return spans


def split(blocks: Sequence[Block], max_chars: int) -> list[PassageDraft]:
    """Passages in reading order. Consecutive blocks of one page and section are packed
    together up to max_chars; a longer block is cut into pieces."""
    drafts: list[PassageDraft] = []
    offset = 0
    group: list[tuple[int, int]] = []  # (start, end) of the packed blocks, document offsets
    key: tuple[str | None, int | None] | None = None

    def emit(start: int, end: int, where: tuple[str | None, int | None]) -> None:
        body = full[start:end].strip()
        if not body:
            return
        lead = len(full[start:end]) - len(full[start:end].lstrip())
        start += lead
        end = start + len(body)
        position = len(drafts)
        section, page = where
        drafts.append(
            PassageDraft(
                position, section, page, label_for(section, page, position), start, end, body
            )
        )

    def flush() -> None:
        if group and key is not None:
            emit(group[0][0], group[-1][1], key)
        group.clear()

    full = document_text(blocks)
    for block in blocks:
        start, end = offset, offset + len(block.text)
        offset = end + len(SEPARATOR)
        where = (block.section, block.page)
        if where != key or (group and end - group[0][0] > max_chars):
            flush()
            key = where
        if end - start > max_chars:
            flush()
            for piece_start, piece_end in _pieces(block.text, max_chars):
                emit(start + piece_start, start + piece_end, where)
            continue
        group.append((start, end))
    flush()
    return drafts


def find_quote(passage: str, quote: str) -> tuple[int, int] | None:
    """Where the quote sits in the passage, whatever its spacing and case; None when the
    passage does not contain it (a made-up quote)."""
    words = quote.split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(word) for word in words)
    match = re.search(pattern, passage, re.IGNORECASE)
    return (match.start(), match.end()) if match else None
