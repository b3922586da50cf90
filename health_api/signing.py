"""Signed cursors, shared by every surface: the storage layer's opaque cursor plus an HMAC, so
an edited one is refused.

Storage already refuses a cursor of another query or of the wrong shape; the signature adds
that nobody can move a cursor's position by hand. The key is ``HEALTH_API_CURSOR_SECRET`` or,
when unset, derived from the API keys, so every worker, restart and surface (REST and MCP)
agrees without extra set-up (rotating keys invalidates outstanding cursors and hold ids, which
clients meet as a 400 / 404 and start over). ``hold_id``s are signed with the same key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from health_api.config import ApiKey, Settings
from health_api.domain.errors import InvalidCursorError


def secret_for(settings: Settings, keys: tuple[ApiKey, ...]) -> bytes:
    """The signing key for ``settings`` with ``keys`` (the accepted API keys)."""
    if settings.cursor_secret:
        return settings.cursor_secret.encode()
    material = "\n".join(sorted(f"{k.role}={k.key}" for k in keys))
    return hashlib.sha256(b"health-api cursor signing\n" + material.encode()).digest()


def _mac(secret: bytes, cursor: str) -> str:
    digest = hmac.new(secret, cursor.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:18]).decode()


def sign_cursor(secret: bytes, cursor: str | None) -> str | None:
    """The cursor a client receives."""
    return None if cursor is None else f"{cursor}.{_mac(secret, cursor)}"


def verify_cursor(secret: bytes, token: str | None) -> str | None:
    """The storage cursor inside a client's token; ``InvalidCursorError`` when edited."""
    if token is None:
        return None
    cursor, dot, mac = token.rpartition(".")
    if not dot or not cursor:
        raise InvalidCursorError("the cursor is not valid")
    if not hmac.compare_digest(mac.encode(), _mac(secret, cursor).encode()):
        raise InvalidCursorError("the cursor is not valid")
    return cursor
