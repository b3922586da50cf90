"""Signed cursors of the running app (see :mod:`health_api.signing`, shared with MCP)."""

from __future__ import annotations

from flask import current_app

from health_api.signing import secret_for, sign_cursor, verify_cursor

__all__ = ["EXTENSION", "secret_for", "sign", "verify"]

EXTENSION = "health_api.cursor_secret"


def sign(cursor: str | None) -> str | None:
    """The cursor a client receives."""
    return sign_cursor(current_app.extensions[EXTENSION], cursor)


def verify(token: str | None) -> str | None:
    """The storage cursor inside a client's token; ``InvalidCursorError`` when edited."""
    return verify_cursor(current_app.extensions[EXTENSION], token)
