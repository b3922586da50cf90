"""The domain's dataclasses: doctors, slots, sessions and pages of them.

Times are canonical UTC strings ``YYYY-MM-DDTHH:MM:SSZ`` (string order is time order); the
services normalise whatever a client sends before anything reaches storage.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")

DISPONIBLE = "disponible"
RESERVADO = "reservado"
BLOQUEADO = "bloqueado"
RETENIDO = "retenido"  # held: kept for ``retenido_por`` until ``retenido_hasta`` (see ``Hold``)
ESTADOS = (DISPONIBLE, RETENIDO, RESERVADO, BLOQUEADO)

UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MAX_SESSION_DATA_BYTES = 64 * 1024  # of the compact UTF-8 JSON of ``data``


def normalize_especialidad(name: str) -> str:
    """The matching form of a specialty: no accents, lowercase, single spaces, trimmed.

    ``"  Cardiología "`` and ``"CARDIOLOGIA"`` both become ``"cardiologia"``.
    """
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def iso_from_epoch(epoch: int) -> str:
    """Epoch seconds as the canonical UTC string."""
    return datetime.fromtimestamp(epoch, UTC).strftime(UTC_FORMAT)


def encode_session_data(data: Mapping[str, Any]) -> str:
    """The compact UTF-8 JSON of session data: what both backends store, and what
    ``MAX_SESSION_DATA_BYTES`` measures. Not JSON-able (NaN, objects) is a ``ValueError``."""
    return json.dumps(dict(data), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class Doctor:
    """A doctor; ``especialidad`` is the display name, matching uses its normalised form."""

    doctor_id: str
    nombre: str
    especialidad: str
    centro: str | None = None
    telefono: str | None = None
    email: str | None = None
    idiomas: tuple[str, ...] = ()

    @property
    def especialidad_normalizada(self) -> str:
        """The key stored in the ``especialidad-index`` GSI."""
        return normalize_especialidad(self.especialidad)


DOCTOR_UPDATABLE = ("nombre", "especialidad", "centro", "telefono", "email", "idiomas")


@dataclass(frozen=True)
class Slot:
    """One appointment slot of one doctor; ``user_id``/``motivo``/``reservado_en`` when booked.

    A held slot (``estado == RETENIDO``) carries its holder in ``retenido_por`` (never in
    ``user_id``), the hold's expiry ``retenido_hasta`` and the hold's nonce ``retencion`` (never
    shown to clients). A hold whose ``retenido_hasta`` has passed is ``disponible`` (``slot_at``).
    """

    doctor_id: str
    fecha_hora: str
    duracion_min: int = 30
    estado: str = DISPONIBLE
    user_id: str | None = None
    motivo: str | None = None
    reservado_en: str | None = None
    retenido_por: str | None = None
    retenido_hasta: str | None = None
    retencion: str | None = None

    @property
    def key(self) -> SlotKey:
        """The slot's primary key."""
        return SlotKey(self.doctor_id, self.fecha_hora)


def hold_is_live(slot: Slot, now: str) -> bool:
    """Whether ``slot`` is held at instant ``now`` (a hold lives while ``now < retenido_hasta``)."""
    return slot.estado == RETENIDO and slot.retenido_hasta is not None and slot.retenido_hasta > now


def blocks_doctor_deletion(slot: Slot, now: str) -> bool:
    """Whether ``slot`` keeps its doctor from being deleted at ``now``: booked, or held live
    (the same slots a slot DELETE refuses)."""
    return slot.estado == RESERVADO or hold_is_live(slot, now)


def slot_at(slot: Slot, now: str) -> Slot:
    """The slot as it is at instant ``now``: a ``retenido`` slot whose hold has expired
    (``retenido_hasta <= now``) is ``disponible`` without the hold fields; else unchanged."""
    if slot.estado != RETENIDO or hold_is_live(slot, now):
        return slot
    return replace(slot, estado=DISPONIBLE, retenido_por=None, retenido_hasta=None, retencion=None)


@dataclass(frozen=True)
class SlotKey:
    """The primary key of a slot: the doctor and the UTC start time."""

    doctor_id: str
    fecha_hora: str


@dataclass(frozen=True)
class Session:
    """A user's conversation state; ``expires_at`` is ``ttl`` (epoch seconds) as UTC ISO.

    ``ttl_seconds`` is the lifetime the session remembers (set by PUT, replaced by a PATCH that
    names one): each PATCH slides the expiry by it. None for a session stored before sessions
    remembered it; those slide by ``SESSION_TTL_SECONDS``.
    """

    user_id: str
    data: dict[str, Any]
    created_at: str
    updated_at: str
    expires_at: str
    ttl: int
    ttl_seconds: int | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a collection; ``next_cursor`` is None on the last page."""

    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None


@dataclass(frozen=True)
class BookingResult:
    """The outcome of a booking: ``created`` is False when the same user already held it."""

    slot: Slot
    created: bool


@dataclass(frozen=True)
class Hold:
    """A live hold: ``user_id`` keeps the slot ``doctor_id``/``fecha_hora`` until ``expires_at``.

    ``nonce`` tells this hold apart from an earlier or later one on the same slot (the signed
    ``hold_id`` carries it); ``slot`` is the held slot as stored."""

    doctor_id: str
    fecha_hora: str
    user_id: str
    nonce: str
    expires_at: str
    slot: Slot

    @property
    def key(self) -> SlotKey:
        """The held slot's primary key."""
        return SlotKey(self.doctor_id, self.fecha_hora)


def hold_of(slot: Slot) -> Hold:
    """The ``Hold`` a held slot carries (the caller has checked it is held)."""
    return Hold(
        doctor_id=slot.doctor_id,
        fecha_hora=slot.fecha_hora,
        user_id=slot.retenido_por or "",
        nonce=slot.retencion or "",
        expires_at=slot.retenido_hasta or "",
        slot=slot,
    )


@dataclass(frozen=True)
class HoldResult:
    """The outcome of a hold: ``created`` is False when this user's live hold was returned."""

    hold: Hold
    created: bool


@dataclass(frozen=True)
class AddSlotsResult:
    """How many slots an add-many call created, and how many existed already (untouched)."""

    created: int
    skipped: int
