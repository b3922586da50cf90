"""Opaque pagination cursors, shared by both backends.

A cursor is URL-safe base64 of a small JSON document: a format version, a fingerprint of the
query it belongs to, and the position (the last item's key values, all strings). Decoding checks
all three, so a cursor that was tampered with, or that belongs to another query, is an
``InvalidCursorError`` (a 400) and never reaches the backend as a malformed key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence

from health_api.domain.errors import InvalidCursorError

VERSION = 1
MAX_CURSOR_LENGTH = 2048


def fingerprint(*parts: object) -> str:
    """A short stable digest of what defines a query (table, index, its fixed parameters)."""
    text = json.dumps([str(p) if p is not None else None for p in parts], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode(query: str, position: Mapping[str, str]) -> str:
    """The cursor for resuming ``query`` after ``position``."""
    document = {"v": VERSION, "q": query, "p": dict(position)}
    # UTF-8, not \u escapes: an id of 128 astral letters is 512 bytes instead of 1,536, so the
    # longest cursor fits the API's cursor limit (schemas/common.py MAX_CURSOR_LENGTH).
    raw = json.dumps(document, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(
    cursor: str, query: str, fields: Sequence[str], *, optional: Sequence[str] = ()
) -> dict[str, str]:
    """The position in ``cursor``, checked to belong to ``query`` and to hold exactly
    ``fields`` (plus any of ``optional``) as non-empty strings."""
    if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursorError("the cursor is not valid")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursorError("the cursor is not valid") from None
    if not isinstance(document, dict) or document.get("v") != VERSION:
        raise InvalidCursorError("the cursor is not valid")
    if document.get("q") != query:
        raise InvalidCursorError("the cursor belongs to another query")
    position = document.get("p")
    if (
        not isinstance(position, dict)
        or not set(fields) <= set(position) <= {*fields, *optional}
        or not all(isinstance(v, str) and v and len(v) <= 1024 for v in position.values())
    ):
        raise InvalidCursorError("the cursor is not valid")
    return position
