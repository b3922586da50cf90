"""Signed cursors: the storage layer's opaque cursor plus an HMAC, so an edited one is a 400.

Storage already refuses a cursor of another query or of the wrong shape; the signature adds
that nobody can move a cursor's position by hand. The key is ``HEALTH_API_CURSOR_SECRET`` or,
when unset, derived from the API keys, so every worker and restart agrees without extra set-up
(rotating keys invalidates outstanding cursors, which clients meet as a 400 and start over).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from flask import current_app

from health_api.config import Settings
from health_api.domain.errors import InvalidCursorError

EXTENSION = "health_api.cursor_secret"


def secret_for(settings: Settings, keys) -> bytes:
    """The signing key for ``settings`` with ``keys`` (the accepted API keys)."""
    if settings.cursor_secret:
        return settings.cursor_secret.encode()
    material = "\n".join(sorted(f"{k.role}={k.key}" for k in keys))
    return hashlib.sha256(b"health-api cursor signing\n" + material.encode()).digest()


def _mac(cursor: str) -> str:
    digest = hmac.new(current_app.extensions[EXTENSION], cursor.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:18]).decode()


def sign(cursor: str | None) -> str | None:
    """The cursor a client receives."""
    return None if cursor is None else f"{cursor}.{_mac(cursor)}"


def verify(token: str | None) -> str | None:
    """The storage cursor inside a client's token; ``InvalidCursorError`` when edited."""
    if token is None:
        return None
    cursor, dot, mac = token.rpartition(".")
    if not dot or not cursor or not hmac.compare_digest(mac.encode(), _mac(cursor).encode()):
        raise InvalidCursorError("the cursor is not valid")
    return cursor
