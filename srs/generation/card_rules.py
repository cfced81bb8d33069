"""Rules a card must meet before a learner sees it, checked on the model's text alone.

Pure: no I/O. A card that breaks one is held back with the reason (the learner can read it
and restore the card), not dropped and not shown.
"""

from __future__ import annotations

import re
from typing import Final

from srs.generation.xml_stream import ParsedCard

# An answer of this many separate items or more is a list, not one fact: "append(), extend(),
# insert(), remove(), pop(), ..." for "What are some basic Python list methods?".
LIST_ITEMS: Final = 4
# Each item of such a list is short; longer parts are clauses of one sentence.
LIST_ITEM_WORDS: Final = 5
# An answer that opens a bracket is a value written out ("[1, 2, 3, 4]"), one fact.
_LITERALS: Final = ("[", "(", "{", "<")
_SEPARATORS: Final = re.compile(r"\s*(?:[,;\n]|\s(?:and|or)\s)\s*")


def list_answer(card: ParsedCard) -> str | None:
    """Why the card's answer is a list rather than one fact, or None when it is not.
    A cloze card's answer is its deletions, one fact each by construction."""
    if card.cloze is not None or card.back.lstrip().startswith(_LITERALS):
        return None
    items = [item for item in _SEPARATORS.split(card.back) if item.strip(" .")]
    if len(items) < LIST_ITEMS or any(len(item.split()) > LIST_ITEM_WORDS for item in items):
        return None
    return (
        f"Its answer lists {len(items)} items. A card should ask for one fact: "
        "one card per item is easier to remember."
    )
