"""Token shapes: POST /api/v1/tokens (an issuer key mints a user token) and its answer."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from health_api.domain.caller import USER_SCOPES
from health_api.schemas.common import Id
from health_api.tokens.verify import DEFAULT_TTL_SECONDS, MIN_TTL_SECONDS  # the authority's

SCOPES = " ".join(USER_SCOPES)


def check_scope(value: str) -> None:
    """A ``scope`` is one or more of the user scopes, separated by spaces."""
    names = value.split(" ")
    if not value or any(name not in USER_SCOPES for name in names):
        raise ValidationError(f"a space-separated subset of: {SCOPES}")


class TokenIn(Schema):
    """POST /tokens."""

    user_id = Id(
        required=True,
        metadata={"description": "The user the token binds: it acts for this user only."},
    )
    scope = fields.String(
        validate=[validate.Length(max=len(SCOPES) + 1), check_scope],
        metadata={
            "description": "What the token may do, space-separated: ``appointments`` (holds, "
            "bookings, cancels, reschedules and the user's own appointments and holds), "
            f"``sessions`` (the user's own session). Default: ``{SCOPES}``.",
            "example": "appointments",
        },
    )
    ttl_seconds = fields.Integer(
        validate=validate.Range(min=MIN_TTL_SECONDS),
        metadata={
            "description": f"The token's lifetime in seconds, {MIN_TTL_SECONDS} to "
            "``HEALTH_API_TOKEN_MAX_TTL_SECONDS`` (default 3600; over it: 422). Default "
            f"{DEFAULT_TTL_SECONDS} (or that maximum, when lower).",
        },
    )


class TokenOut(Schema):
    """A user token (RFC 6749 section 5.1's names): send it as ``Authorization: Bearer``."""

    access_token = fields.String(
        required=True,
        metadata={
            "description": "An ES256 JWT of this service (``iss`` HEALTH_API_TOKEN_ISSUER, "
            "``sub`` the user, ``aud`` HEALTH_API_TOKEN_AUDIENCE and, when set, "
            "HEALTH_API_MCP_PUBLIC_URL). Never logged or stored by the service."
        },
    )
    token_type = fields.String(required=True, validate=validate.OneOf(["Bearer"]))
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds it lives."})
    scope = fields.String(
        required=True, metadata={"description": "The scopes granted, space-separated."}
    )
