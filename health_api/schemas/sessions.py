"""Session shapes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

MAX_TTL = 7 * 24 * 3600


class SessionPut(Schema):
    """PUT /sessions/{user_id}: the whole state."""

    data = fields.Dict(keys=fields.String(), required=True)
    ttl_seconds = fields.Integer(
        load_default=None,
        validate=validate.Range(1, MAX_TTL),
        metadata={
            "description": "The session's lifetime, remembered: every PATCH slides the expiry "
            "by it. Default SESSION_TTL_SECONDS (1800)."
        },
    )


class SessionPatch(Schema):
    """PATCH /sessions/{user_id}: keys to shallow-merge into ``data``."""

    data = fields.Dict(keys=fields.String(), required=True)
    ttl_seconds = fields.Integer(
        load_default=None,
        validate=validate.Range(1, MAX_TTL),
        metadata={
            "description": "A new lifetime for the session, remembered from now on; absent: "
            "the expiry slides by the session's own ttl_seconds."
        },
    )


class SessionOut(Schema):
    """A live session."""

    user_id = fields.String(required=True)
    data = fields.Dict(
        metadata={
            "description": "The conversation state. Always present, except in an "
            "Idempotency-Key replay once the session was deleted or expired (stored answers "
            "keep no session data; a replay reads it as it is now)."
        }
    )
    created_at = fields.String(required=True, metadata={"format": "date-time"})
    updated_at = fields.String(required=True, metadata={"format": "date-time"})
    expires_at = fields.String(required=True, metadata={"format": "date-time"})
    ttl_seconds = fields.Integer(
        required=True,
        metadata={
            "description": "The lifetime the session remembers: each PATCH slides expires_at "
            "to now + ttl_seconds (SESSION_TTL_SECONDS for a session stored before sessions "
            "remembered it)."
        },
    )
