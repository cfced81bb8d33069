"""Control characters: refused in what learners send, stripped from what we hand to other apps."""

from __future__ import annotations

import re

# C0 controls except tab, newline and carriage return; DEL; C1 controls. NUL makes PostgreSQL
# refuse the row, U+001F is Anki's field separator: neither has any place in a card.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def refuse_control_characters(text: str) -> str:
    """A Pydantic validator: a clear 422 naming the first offending character."""
    found = _CONTROL.search(text)
    if found:
        raise ValueError(
            f"contains the control character U+{ord(found.group()):04X} at position "
            f"{found.start()}; remove it"
        )
    return text


def strip_control_characters(text: str) -> str:
    return _CONTROL.sub("", text)
