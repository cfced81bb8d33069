"""Cloze deletions, as Anki writes them: `The {{c1::mitochondrion}} makes {{c2::ATP::a molecule}}`.

Pure: text in, a `ClozeNote` out, or a `ClozeError` saying why the text is refused. A note with
deletions c1 and c2 gives two cards, one per number, each scheduled on its own (as in Anki).
A card's front shows its own deletions as a gap (`[...]`, or `[hint]` when the deletion has
one) and every other deletion as its answer; its back is the whole text.

The text is untrusted (a model's or an imported deck's), so it is bounded: at most
`MAX_TEXT_CHARS` characters and `MAX_CARDS` deletion numbers, no empty answer, no nested or
unbalanced `{{`/`}}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

MAX_TEXT_CHARS: Final = 2000
MAX_CARDS: Final = 20  # deletion numbers (cards) in one note
MAX_ORDINAL: Final = 99  # the N of cN
GAP: Final = "[...]"

# Answer and hint stop at the first `}}`; `::` splits the hint off (Anki's own reading).
_DELETION: Final = re.compile(r"\{\{c(\d{1,3})::(.*?)\}\}", re.DOTALL)
_HAS_DELETION: Final = re.compile(r"\{\{c\d{1,3}::")


class ClozeError(ValueError):
    """The text is not a usable cloze note; the message says why, for the learner."""


@dataclass(frozen=True)
class Deletion:
    ordinal: int  # N of cN
    answer: str
    hint: str | None
    start: int  # where `{{` starts in the text
    end: int  # just past `}}`


@dataclass(frozen=True)
class ClozeNote:
    text: str
    deletions: tuple[Deletion, ...]

    @property
    def ordinals(self) -> tuple[int, ...]:
        """The deletion numbers, ascending: one card each."""
        return tuple(sorted({d.ordinal for d in self.deletions}))

    def _render(self, ordinal: int | None) -> str:
        parts: list[str] = []
        pos = 0
        for deletion in self.deletions:
            parts.append(self.text[pos : deletion.start])
            if deletion.ordinal == ordinal:
                parts.append(f"[{deletion.hint}]" if deletion.hint else GAP)
            else:
                parts.append(deletion.answer)
            pos = deletion.end
        parts.append(self.text[pos:])
        return "".join(parts)

    def front(self, ordinal: int) -> str:
        """The question of card `ordinal`: its deletions as gaps, the others answered."""
        if ordinal not in self.ordinals:
            raise ClozeError(f"the text has no deletion c{ordinal}")
        return self._render(ordinal)

    def back(self) -> str:
        """The answer side: the whole text, every deletion filled in."""
        return self._render(None)

    def answers(self, ordinal: int) -> tuple[str, ...]:
        """What card `ordinal` asks for, in reading order."""
        return tuple(d.answer for d in self.deletions if d.ordinal == ordinal)


def looks_like_cloze(text: str) -> bool:
    return _HAS_DELETION.search(text) is not None


def parse(text: str) -> ClozeNote:
    """Read and check a cloze text; raises `ClozeError` with the reason it is refused."""
    text = text.strip()
    if not text:
        raise ClozeError("the cloze text is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise ClozeError(f"the cloze text is longer than {MAX_TEXT_CHARS} characters")
    deletions: list[Deletion] = []
    leftover: list[str] = []
    pos = 0
    for match in _DELETION.finditer(text):
        leftover.append(text[pos : match.start()])
        pos = match.end()
        ordinal = int(match.group(1))
        body = match.group(2)
        if "{{" in body:
            raise ClozeError("a deletion inside a deletion is not supported")
        answer, _, hint = body.partition("::")
        answer, hint = answer.strip(), hint.strip()
        if not answer:
            raise ClozeError(f"deletion c{ordinal} has no answer")
        if not 1 <= ordinal <= MAX_ORDINAL:
            raise ClozeError(f"deletion numbers go from c1 to c{MAX_ORDINAL}, not c{ordinal}")
        deletions.append(Deletion(ordinal, answer, hint or None, match.start(), match.end()))
    leftover.append(text[pos:])
    rest = "".join(leftover)
    if "{{" in rest or "}}" in rest:
        raise ClozeError("the cloze text has unbalanced {{ or }}")
    if not deletions:
        raise ClozeError("the cloze text has no deletion such as {{c1::answer}}")
    if len({d.ordinal for d in deletions}) > MAX_CARDS:
        raise ClozeError(f"a cloze text may have at most {MAX_CARDS} deletion numbers")
    if not "".join(leftover).strip():
        raise ClozeError("the cloze text is only deletions: nothing is left to ask from")
    return ClozeNote(text=text, deletions=tuple(deletions))
