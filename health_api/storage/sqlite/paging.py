"""Keyset pagination shared by the SQLite repositories.

A page query asks for ``limit + 1`` rows after the cursor's position: the extra row only says that
a next page exists, so the last page never carries a cursor that leads to an empty page.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TypeVar

from health_api.domain.errors import InvalidRequestError
from health_api.domain.models import Page
from health_api.storage import cursor as cursors

T = TypeVar("T")


def check_limit(limit: int) -> int:
    """``limit`` when it is a positive whole number, else ``InvalidRequestError``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidRequestError("limit must be a positive whole number")
    return limit


def position(cursor: str | None, query: str, fields: Sequence[str]) -> dict[str, str] | None:
    """The decoded position of ``cursor`` (None for the first page)."""
    return None if cursor is None else cursors.decode(cursor, query, fields)


def make_page(
    rows: list[sqlite3.Row],
    limit: int,
    convert: Callable[[sqlite3.Row], T],
    query: str,
    fields: Sequence[str],
) -> Page[T]:
    """The page of the first ``limit`` rows, with a cursor after the last when more exist."""
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = cursors.encode(query, {f: str(last[f]) for f in fields})
    return Page([convert(row) for row in items], next_cursor)
