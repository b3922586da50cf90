"""Signed cursors of the running app (see :mod:`health_api.signing`, shared with MCP)."""

from __future__ import annotations

from health_api.api.kernel import kernel
from health_api.signing import secret_for, sign_cursor, verify_cursor

__all__ = ["secret_for", "sign", "verify"]


def sign(cursor: str | None) -> str | None:
    """The cursor a client receives."""
    return sign_cursor(kernel().secret, cursor)


def verify(token: str | None) -> str | None:
    """The storage cursor inside a client's token; ``InvalidCursorError`` when edited."""
    return verify_cursor(kernel().secret, token)
