"""Cursors: opaque, tied to their list, and refused clearly when they are anything else."""

from __future__ import annotations

import base64
import json

import pytest

from srs.kit.errors import AppError
from srs.kit.pagination import decode_cursor, encode_cursor, page_of


def test_a_cursor_round_trips_and_belongs_to_its_list():
    cursor = encode_cursor("cards", 42)
    assert "=" not in cursor and "42" not in cursor  # opaque, and safe in a query string
    assert decode_cursor("cards", cursor) == 42
    assert decode_cursor("cards", None) is None
    with pytest.raises(AppError) as refused:
        decode_cursor("topics", cursor)
    assert refused.value.status_code == 422 and "topics" in refused.value.message


def _b64(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "W10",
        _b64(["cards"]),
        _b64(["cards", "7"]),
        _b64(["cards", 0]),
        _b64(["cards", 2**31]),
        _b64(["cards", 1.5]),
        _b64(["cards", True]),
        _b64({"a": 1, "b": 2}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_anything_else_is_a_422(cursor):
    with pytest.raises(AppError) as refused:
        decode_cursor("cards", cursor)
    assert refused.value.status_code == 422


def test_a_page_says_whether_another_follows():
    assert page_of([1, 2, 3], 3, "n", int).next_cursor is None
    more = page_of([1, 2, 3, 4], 3, "n", int)
    assert more.items == [1, 2, 3] and decode_cursor("n", more.next_cursor) == 3
    assert page_of([], 3, "n", int).next_cursor is None
