"""Shapes shared by every resource: ids, paging, times, slots and problems."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from health_api.domain.ids import ID_MESSAGE, ID_PATTERN
from health_api.domain.models import ESTADOS

MAX_LIMIT = 100
# A cursor as clients see it (the storage cursor, a dot and its signature). The longest the
# service issues is about 1,550 characters (ids of 128 four-byte letters, which ids stored
# before the ASCII rule may still have); with the longest ids
# and every other parameter, a request line stays under gunicorn's limit_request_line (4,094),
# so an over-long cursor or id is answered by the app (400 / 404 problem+json), not gunicorn.
MAX_CURSOR_LENGTH = 2048


def check_id(value: str) -> str:
    """Ids (doctor_id, user_id): the whole value matches ``ID_PATTERN``, else
    ``ValidationError``."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise ValidationError(ID_MESSAGE)
    return value


class Id(fields.String):
    """A doctor or user id."""

    def __init__(self, **kwargs) -> None:
        metadata = {"pattern": ID_PATTERN.pattern, "maxLength": 128, **kwargs.pop("metadata", {})}
        super().__init__(validate=check_id, metadata=metadata, **kwargs)


ACTING_USER = (
    "The user this request is for. Defaults to the token's user; required with an API key "
    "(422, or 400 in a query, when missing). With a user token, naming any other user is a 403 "
    "``/problems/other-user``."
)


class ActingUser(Id):
    """The user a request acts for (``user_id`` of a body or query): optional, because a user
    token acts for its own user; an API key must name one (the service refuses it otherwise)."""

    def __init__(self, **kwargs) -> None:
        # No default (absent stays absent: the views read it with ``.get``), never null.
        super().__init__(metadata={"description": ACTING_USER}, **kwargs)


MAX_TIME_LENGTH = 40


class Instant(fields.String):
    """An ISO 8601 date-time; any UTC offset, or none (read in the clinic zone)."""

    def __init__(self, **kwargs) -> None:
        metadata = {
            "format": "date-time",
            "example": "2026-12-01T10:30:00+01:00",
            "description": "ISO 8601, any UTC offset (none: the clinic zone); years 1900-2999.",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(validate=_TIME_LENGTH, metadata=metadata, **kwargs)


class WindowBound(fields.String):
    """A query window's ``desde`` / ``hasta``: a date-time (any UTC offset, or none: the clinic
    zone) or a date. No minimum length: a short value ("tomorrow") is answered by the parser,
    whose message shows the accepted forms."""

    def __init__(self, **kwargs) -> None:
        metadata = {
            "example": "2026-12-01T10:30:00+01:00",
            "description": "ISO 8601: a date-time with a UTC offset (in a URL, ``+`` is sent as "
            "``%2B``), a date-time without one (the clinic zone), or a date ``YYYY-MM-DD`` "
            "(the clinic zone: from 00:00:00 for ``desde``, to 23:59:59 inclusive for "
            "``hasta``); years 1900-2999. Anything else is a 400 that shows these forms.",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(validate=_TIME_LENGTH, metadata=metadata, **kwargs)


_TIME_LENGTH = validate.Length(
    max=MAX_TIME_LENGTH,
    error="at most {max} characters, e.g. 2026-12-01T10:30:00+01:00 or 2026-12-01T10:30:00",
)


class PageQuery(Schema):
    """``limit`` and ``cursor`` of every collection."""

    limit = fields.Integer(load_default=20, validate=validate.Range(1, MAX_LIMIT))
    cursor = fields.String(load_default=None, validate=validate.Length(max=MAX_CURSOR_LENGTH))


class SlotPublic(Schema):
    """A slot as any client sees it: time in UTC and in the clinic zone, state, duration."""

    doctor_id = fields.String(required=True)
    fecha_hora = fields.String(
        required=True, metadata={"format": "date-time", "example": "2026-12-01T09:30:00Z"}
    )
    fecha_hora_local = fields.String(
        required=True, metadata={"format": "date-time", "example": "2026-12-01T10:30:00+01:00"}
    )
    zona_horaria = fields.String(required=True, metadata={"example": "Europe/Madrid"})
    duracion_min = fields.Integer(required=True)
    estado = fields.String(required=True, validate=validate.OneOf(ESTADOS))
    retenido_hasta = fields.String(
        allow_none=True,
        metadata={
            "format": "date-time",
            "description": "A ``retenido`` slot: when its hold expires (UTC); null otherwise.",
        },
    )


class SlotFull(SlotPublic):
    """A slot with its booking (for its holder, and for admins)."""

    user_id = fields.String(allow_none=True)
    motivo = fields.String(
        allow_none=True,
        metadata={
            "description": "The booking's reason. Left out of an Idempotency-Key replay once "
            "that booking was cancelled or moved (stored answers keep no reason; a replay "
            "reads it as it is now)."
        },
    )
    reservado_en = fields.String(allow_none=True, metadata={"format": "date-time"})
    retenido_por = fields.String(
        allow_none=True,
        metadata={"description": "Admin keys only: the user who holds a ``retenido`` slot."},
    )


class SlotPage(Schema):
    """A page of slots."""

    items = fields.List(fields.Nested(SlotFull), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class Problem(Schema):
    """RFC 9457 problem details; extension members (``errors``, ``alternativas``, ``reason``,
    ``tables``) are open, as the RFC allows."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Validation errors: each field with its messages."},
    )
    alternativas = fields.List(
        fields.Nested(SlotPublic),
        metadata={"description": "A slot taken by someone else: up to 3 free slots instead."},
    )
    reason = fields.String(metadata={"description": "Why a reschedule changed nothing."})
    slots_eliminados = fields.Integer(
        metadata={
            "description": (
                "A doctor DELETE that met a booked or held slot: the free future slots this "
                "request had removed before it stopped (0: nothing changed)."
            )
        }
    )
    tables = fields.List(
        fields.Dict(), metadata={"description": "/readyz: each table's report when not ready."}
    )
