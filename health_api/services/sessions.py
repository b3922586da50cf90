"""Session rules: size and lifetime limits, expiry read from the clock, sliding PATCH, and
the atomic create-or-merge of MCP's ``save_session``. Every function receives the ``caller``
and acts for :func:`health_api.domain.caller.acting_for`'s user (a token's own)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from health_api import clock
from health_api.domain.caller import SESSIONS, Caller, acting_for
from health_api.domain.errors import InvalidRequestError
from health_api.domain.models import MAX_SESSION_DATA_BYTES, Session, encode_session_data
from health_api.domain.requests import SessionPatch
from health_api.storage.base import Storage

MAX_TTL_SECONDS = 7 * 24 * 3600


def _ttl(ttl_seconds: int | None, default: int) -> int:
    ttl = default if ttl_seconds is None else ttl_seconds
    if not 1 <= ttl <= MAX_TTL_SECONDS:
        raise InvalidRequestError(f"ttl_seconds must be between 1 and {MAX_TTL_SECONDS}")
    return ttl


def lifetime(session: Session, default: int) -> int:
    """The seconds each PATCH slides ``session`` by: its own, or ``default`` for a session
    stored before sessions remembered theirs."""
    return default if session.ttl_seconds is None else session.ttl_seconds


def _check_size(data: Mapping[str, Any]) -> None:
    try:
        size = len(encode_session_data(data).encode())
    except (TypeError, ValueError):
        raise InvalidRequestError("data must hold only JSON values (no NaN or Infinity)") from None
    if size > MAX_SESSION_DATA_BYTES:
        raise InvalidRequestError(
            f"data is {size} bytes; a session holds at most {MAX_SESSION_DATA_BYTES}"
        )


def put_session(
    storage: Storage,
    user_id: str | None,
    data: Mapping[str, Any],
    ttl_seconds: int | None,
    default: int,
    *,
    caller: Caller,
) -> Session:
    """Create or replace the user's session, expiring ``ttl_seconds`` (or ``default``) from now;
    the session remembers that lifetime for its PATCHes."""
    user_id = acting_for(caller, user_id, SESSIONS)
    ttl = _ttl(ttl_seconds, default)
    _check_size(data)
    return storage.sessions.put(user_id, data, ttl, clock.epoch_seconds())


def get_session(storage: Storage, user_id: str | None, *, caller: Caller) -> Session:
    """The live session; ``NotFoundError`` when absent or expired."""
    user_id = acting_for(caller, user_id, SESSIONS)
    return storage.sessions.get(user_id, clock.epoch_seconds())


def patch_session(
    storage: Storage,
    user_id: str | None,
    changes: Mapping[str, Any],
    ttl_seconds: int | None,
    default: int,
    *,
    caller: Caller,
) -> Session:
    """Shallow-merge ``changes`` and slide the expiry forward from now by ``ttl_seconds`` (which
    the session then remembers), else by the session's own lifetime, else by ``default``."""
    user_id = acting_for(caller, user_id, SESSIONS)
    if ttl_seconds is not None:
        _ttl(ttl_seconds, default)
    _check_size(changes)
    patch = SessionPatch(changes, ttl_seconds, default_ttl=_ttl(None, default))
    return storage.sessions.merge(user_id, patch, clock.epoch_seconds())


def save_session(
    storage: Storage,
    user_id: str | None,
    changes: Mapping[str, Any],
    ttl_seconds: int | None,
    default: int,
    *,
    caller: Caller,
) -> Session:
    """Create the user's session with ``changes`` as its data, or shallow-merge them into the
    live one (an expired session counts as absent), and slide the expiry as ``patch_session``
    does: one atomic upsert, so concurrent first saves never lose each other's keys."""
    user_id = acting_for(caller, user_id, SESSIONS)
    ttl = _ttl(ttl_seconds, default) if ttl_seconds is not None else None
    _check_size(changes)
    patch = SessionPatch(changes, ttl, default_ttl=_ttl(None, default))
    return storage.sessions.upsert(user_id, patch, clock.epoch_seconds())


def delete_session(storage: Storage, user_id: str | None, *, caller: Caller) -> None:
    """Remove the session (idempotent)."""
    user_id = acting_for(caller, user_id, SESSIONS)
    storage.sessions.delete(user_id)
