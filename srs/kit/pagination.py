"""Cursor pagination over a stable keyset order (the row id).

A cursor is opaque to clients: base64 of the list's name and the last id of the page. A page
asks for one row more than it shows, so the last page says so (next_cursor null) without a
count query.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query

from srs.kit.errors import invalid

PAGE_DEFAULT, PAGE_MAX = 100, 500
MAX_ROW_ID = 2_147_483_647
T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    limit: int
    cursor: str | None


async def page_request(
    limit: int = Query(PAGE_DEFAULT, ge=1, le=PAGE_MAX, description="items per page"),
    cursor: str | None = Query(
        None, max_length=200, description="next_cursor of the previous page"
    ),
) -> PageRequest:
    return PageRequest(limit, cursor)


Paging = Annotated[PageRequest, Depends(page_request)]


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(kind: str, last_id: int) -> str:
    raw = json.dumps([kind, last_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None) -> int | None:
    """The last id of the previous page, or None for the first page; 422 for anything that is
    not a cursor of this list."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, last_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise invalid("cursor: not a cursor this API gave out") from None
    if name != kind or type(last_id) is not int or not 0 < last_id <= MAX_ROW_ID:
        raise invalid(f"cursor: not a cursor of this list ({kind})")
    return last_id


def page_of(rows: Sequence[T], limit: int, kind: str, key: Callable[[T], int]) -> Page[T]:
    """`rows` holds up to limit + 1 rows; the extra one only says another page exists."""
    items = list(rows[:limit])
    more = len(rows) > limit
    return Page(items, encode_cursor(kind, key(items[-1])) if more and items else None)
