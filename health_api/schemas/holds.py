"""Hold shapes: POST /holds and the hold a client reads back."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from health_api.config import HOLD_TTL_RANGE
from health_api.domain.limits import MAX_HOLD_ID_LENGTH
from health_api.schemas.common import ActingUser, Id, Instant, SlotFull


class HoldIn(Schema):
    """POST /holds."""

    doctor_id = Id(required=True)
    fecha_hora = Instant(required=True)
    user_id = ActingUser()
    ttl_seconds = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(*HOLD_TTL_RANGE),
        metadata={
            "description": "How long to hold, in seconds (default ``HOLD_TTL_SECONDS``, 300); "
            "``expires_at`` is never later than the slot's start. Ignored when this user's "
            "hold on the slot is still live."
        },
    )


class HoldOut(Schema):
    """A live hold: ``slot`` is ``retenido`` until ``expires_at``."""

    hold_id = fields.String(
        required=True,
        metadata={
            "maxLength": MAX_HOLD_ID_LENGTH,
            "description": "Opaque and signed; name it in GET/DELETE /holds/{hold_id} and in "
            "the booking's ``hold_id``.",
        },
    )
    doctor_id = fields.String(required=True)
    fecha_hora = fields.String(required=True, metadata={"format": "date-time"})
    user_id = fields.String(required=True)
    expires_at = fields.String(required=True, metadata={"format": "date-time"})
    slot = fields.Nested(SlotFull, required=True)
