"""Input arguments of the tools: JSON Schema types with descriptions and examples, named as the
REST fields they stand for, with the REST limits; and the parsing the schema cannot do (times)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from health_api.config import HOLD_TTL_RANGE
from health_api.domain.errors import InvalidRequestError
from health_api.domain.limits import MAX_HOLD_ID_LENGTH
from health_api.domain.models import SlotKey
from health_api.mcp.results import ArgumentError
from health_api.schemas.common import ID_PATTERN, MAX_CURSOR_LENGTH, MAX_LIMIT
from health_api.schemas.sessions import MAX_TTL
from health_api.services.times import normalize_bound, normalize_instant

ID_RULE = "1-128 ASCII letters, digits or . _ - : @ + (nothing else: no spaces or slashes)"
TIME_RULE = (
    "ISO 8601 date-time. With an offset (Z, +01:00) it is that instant; without one it is read "
    "in the clinic's time zone."
)
EXAMPLE_TIME = "2026-12-01T10:30:00+01:00"
BOUND_RULE = (
    f"{TIME_RULE} Or a date (2026-12-05), read in the clinic's time zone: from its first "
    "second for desde, to its last (23:59:59, inclusive) for hasta."
)

DoctorId = Annotated[
    str,
    Field(
        description=f"The doctor's id, as search_doctors or find_availability give it. {ID_RULE}.",
        pattern=ID_PATTERN.pattern,
        max_length=128,
        examples=["dr-garcia"],
    ),
]
UserId = Annotated[
    str,
    Field(
        description=f"The patient's user id in the chat platform. {ID_RULE}.",
        pattern=ID_PATTERN.pattern,
        max_length=128,
        examples=["user-8842"],
    ),
]
# A user token's calls act for its bound user: ``user_id`` may be left out (or name that user);
# an API key's listing shows it required (``views``), and the services refuse a key that
# names no user (``domain.caller.acting_for``).
OptionalUserId = Annotated[
    UserId | None,
    Field(
        description=f"The patient's user id in the chat platform. {ID_RULE}.",
        examples=["user-8842"],
    ),
]
SlotTime = Annotated[
    str,
    Field(
        description=f"The slot's start, as the slot listings return it. {TIME_RULE}",
        min_length=10,
        max_length=40,
        examples=[EXAMPLE_TIME, "2026-12-01T09:30:00Z"],
    ),
]
Especialidad = Annotated[
    str,
    Field(
        description="A medical specialty, in Spanish; case and accents are ignored.",
        min_length=1,
        max_length=100,
        examples=["cardiologia", "Dermatología", "pediatria"],
    ),
]
# No minimum length: a short value ("tomorrow") reaches ``bound``, whose error shows the forms
# it accepts, instead of the schema's bare length rule.
Desde = Annotated[
    str | None,
    Field(
        description=f"Window start (default: now). {BOUND_RULE}",
        max_length=40,
        examples=["2026-12-01T08:00:00+01:00", "2026-12-01"],
    ),
]
Hasta = Annotated[
    str | None,
    Field(
        description=f"Window end (default: desde plus 7 days). {BOUND_RULE}",
        max_length=40,
        examples=["2026-12-05T20:00:00+01:00", "2026-12-05"],
    ),
]
Limit = Annotated[
    int,
    Field(description="Most items in this page.", ge=1, le=MAX_LIMIT, examples=[5]),
]
Cursor = Annotated[
    str | None,
    Field(
        description="next_cursor of the previous page, to read the next one; omit for the first.",
        max_length=MAX_CURSOR_LENGTH,
    ),
]
Estado = Annotated[
    Literal["disponible", "retenido", "reservado", "bloqueado"] | None,
    Field(description="Only slots in this state (omit for all)."),
]
HoldId = Annotated[
    str,
    Field(
        description="The hold_id hold_slot returned (opaque).",
        min_length=1,
        max_length=MAX_HOLD_ID_LENGTH,
    ),
]
HoldTtl = Annotated[
    int | None,
    Field(
        description="How long to hold, in seconds (default 300); never past the slot's start.",
        ge=HOLD_TTL_RANGE[0],
        le=HOLD_TTL_RANGE[1],
        examples=[300],
    ),
]
Motivo = Annotated[
    str | None,
    Field(
        description="The reason for the visit, in the patient's words (optional).",
        max_length=500,
        examples=["dolor de pecho al subir escaleras"],
    ),
]
SessionData = Annotated[
    dict[str, Any],
    Field(
        description="Keys to store in the session; each replaces the key of the same name, "
        "other keys stay.",
        examples=[{"paso": "confirmar", "especialidad": "cardiologia"}],
    ),
]
SessionTtl = Annotated[
    int | None,
    Field(
        description="The session's lifetime in seconds, remembered (default: its own, or 1800 "
        "for a new session); each save slides the expiry by it.",
        ge=1,
        le=MAX_TTL,
        examples=[1800],
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Field(
        description="Optional. A unique string per intended change (e.g. a UUID). Calling again "
        "with the same key and arguments, after a time-out say, returns the first call's result "
        "instead of acting twice. Without it, nothing is deduplicated.",
        min_length=1,
        max_length=255,
        pattern=r"^[\x20-\x7e]+$",
        examples=["9f1c2a7e-5b1d-4c55-a1de-2f0c6a1d7b10"],
    ),
]


class SlotRef(BaseModel):
    """One slot: doctor and start."""

    model_config = ConfigDict(extra="forbid")

    doctor_id: DoctorId
    fecha_hora: SlotTime


def instant(value: str | None, field: str, tz: ZoneInfo) -> str | None:
    """``value`` as canonical UTC; ``ArgumentError`` naming ``field`` when it does not parse."""
    if value is None:
        return None
    try:
        return normalize_instant(value, tz)
    except InvalidRequestError as exc:
        raise ArgumentError(field, str(exc)) from None


def bound(value: str | None, field: str, tz: ZoneInfo, *, end: bool = False) -> str | None:
    """A window's ``desde`` / ``hasta`` (a date-time, or a date: its first second, or with
    ``end`` its last) as canonical UTC; ``ArgumentError`` naming ``field`` when it does not
    parse."""
    if value is None:
        return None
    try:
        return normalize_bound(value, tz, end=end)
    except InvalidRequestError as exc:
        raise ArgumentError(field, str(exc)) from None


def slot_key(doctor_id: str, fecha_hora: str, tz: ZoneInfo, field: str = "fecha_hora") -> SlotKey:
    """The slot named by a doctor and a start."""
    return SlotKey(doctor_id, instant(fecha_hora, field, tz))
