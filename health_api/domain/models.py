"""The domain's dataclasses: doctors, slots, sessions and pages of them.

Times are canonical UTC strings ``YYYY-MM-DDTHH:MM:SSZ`` (string order is time order); the
services normalise whatever a client sends before anything reaches storage.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")

DISPONIBLE = "disponible"
RESERVADO = "reservado"
BLOQUEADO = "bloqueado"
ESTADOS = (DISPONIBLE, RESERVADO, BLOQUEADO)

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
    """One appointment slot of one doctor; ``user_id``/``motivo``/``reservado_en`` when booked."""

    doctor_id: str
    fecha_hora: str
    duracion_min: int = 30
    estado: str = DISPONIBLE
    user_id: str | None = None
    motivo: str | None = None
    reservado_en: str | None = None

    @property
    def key(self) -> SlotKey:
        """The slot's primary key."""
        return SlotKey(self.doctor_id, self.fecha_hora)


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
class AddSlotsResult:
    """How many slots an add-many call created, and how many existed already (untouched)."""

    created: int
    skipped: int
