"""Slot shapes: adding slots (a list or a weekly rule), range queries, bookings, reschedule."""

from __future__ import annotations

from datetime import date

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from health_api.domain.limits import MAX_HOLD_ID_LENGTH
from health_api.domain.models import ESTADOS
from health_api.schemas.common import (
    ActingUser,
    Id,
    Instant,
    PageQuery,
    SlotFull,
    SlotPublic,
    WindowBound,
)

DURATION = validate.Range(5, 480)
MOTIVO = validate.Length(max=500)
# The years an instant may have (services.times.YEARS): beyond them date arithmetic overflows.
RULE_DATES = validate.Range(date(1900, 1, 1), date(2999, 12, 31))


class NewSlot(Schema):
    """One slot to add."""

    fecha_hora = Instant(required=True)
    duracion_min = fields.Integer(load_default=30, validate=DURATION)


class ScheduleCreate(Schema):
    """Either ``slots`` (1-500) or a weekly rule (``desde`` ... ``duracion_min``), not both."""

    slots = fields.List(fields.Nested(NewSlot), validate=validate.Length(1, 500))
    desde = fields.Date(validate=RULE_DATES, metadata={"example": "2026-12-01"})
    hasta = fields.Date(validate=RULE_DATES, metadata={"example": "2026-12-31"})
    dias = fields.List(
        fields.String(validate=validate.Length(2, 10)),
        validate=validate.Length(1, 7),
        metadata={
            "example": ["lun", "mie", "vie"],
            "description": "Weekdays: lun mar mie jue vie sab dom (case and accents ignored).",
        },
    )
    hora_inicio = fields.String(
        validate=validate.Regexp(r"^\d{2}:\d{2}$"), metadata={"example": "09:00"}
    )
    hora_fin = fields.String(
        validate=validate.Regexp(r"^\d{2}:\d{2}$"), metadata={"example": "13:00"}
    )
    duracion_min = fields.Integer(validate=DURATION)
    zona_horaria = fields.String(
        validate=validate.Length(1, 64), metadata={"example": "Europe/Madrid"}
    )

    @validates_schema
    def _one_form(self, data, **kwargs) -> None:
        rule_fields = ("desde", "hasta", "dias", "hora_inicio", "hora_fin", "duracion_min")
        given = [f for f in (*rule_fields, "zona_horaria") if f in data]
        if "slots" in data and given:
            raise ValidationError("give either slots or a rule, not both", "_schema")
        if "slots" not in data:
            missing = {f: ["required for a rule"] for f in rule_fields if f not in data}
            if missing:
                raise ValidationError(missing if given else {"slots": ["required"]})


class ScheduleCreated(Schema):
    """How many slots were created, and how many existed already."""

    created = fields.Integer(required=True)
    skipped = fields.Integer(required=True)


class ScheduleQuery(PageQuery):
    """A doctor's slots between two instants (default: now to a week later)."""

    desde = WindowBound(load_default=None)
    hasta = WindowBound(load_default=None)
    estado = fields.String(load_default=None, validate=validate.OneOf(ESTADOS))


class BookingIn(Schema):
    """PUT .../booking."""

    user_id = ActingUser()
    motivo = fields.String(load_default=None, allow_none=True, validate=MOTIVO)
    hold_id = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(1, MAX_HOLD_ID_LENGTH),
        metadata={
            "description": "The user's hold on this slot (POST /holds), consumed by the "
            "booking. Optional: a booking by the holder consumes the hold anyway. Expired, "
            "edited, of another user or of another slot: 409 ``/problems/hold-invalid``."
        },
    )


class CancelQuery(Schema):
    """DELETE .../booking?user_id=."""

    user_id = ActingUser()


class SlotRef(Schema):
    """A slot's key."""

    doctor_id = Id(required=True)
    fecha_hora = Instant(required=True)


class RescheduleIn(Schema):
    """POST /appointments/reschedule."""

    user_id = ActingUser()
    from_ = fields.Nested(SlotRef, required=True, data_key="from")
    to = fields.Nested(SlotRef, required=True)


class AppointmentQuery(PageQuery):
    """GET /users/{user_id}/appointments."""

    desde = WindowBound(load_default=None)


class AvailabilityQuery(PageQuery):
    """GET /availability (default range: now to a week later; at most 31 days)."""

    especialidad = fields.String(required=True, validate=validate.Length(1, 100))
    desde = WindowBound(load_default=None)
    hasta = WindowBound(load_default=None)


class FreeSlotOut(SlotPublic):
    """A free slot with its doctor's name and specialty."""

    nombre = fields.String(required=True)
    especialidad = fields.String(required=True)


class FreeSlotPage(Schema):
    """A page of free slots."""

    items = fields.List(fields.Nested(FreeSlotOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


__all__ = ["SlotFull"]
