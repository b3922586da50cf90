"""What a service asks of a repository, as one value each: the slot range a page is read from,
the free slots searched across doctors, a user's bookings, the hold and the booking a slot is
written with, the patch a session is merged with.

The repository protocols (``storage.base``) and both backends take these instead of long
parameter lists, so a signature is written once per method and a new field (the next issues'
tenant, for one) is added in one place. ``now`` stays apart: it is the instant a call is
decided at, not part of what is asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from health_api.domain.models import SlotKey


@dataclass(frozen=True)
class SlotRange:
    """One doctor's slots with ``desde <= fecha_hora <= hasta`` (``SlotRepository.list_range``),
    optionally of one ``estado``, a page of at most ``limit`` from ``cursor`` on. ``consistent``
    False allows an eventually consistent read where a moment's staleness is harmless."""

    doctor_id: str
    desde: str
    hasta: str
    estado: str | None = None
    limit: int = 20
    cursor: str | None = None
    consistent: bool = True


@dataclass(frozen=True)
class HoldRequest:
    """A hold of the slot at ``key`` for ``user_id`` until ``expires_at`` under ``nonce``
    (``SlotRepository.hold``), refused when the user already holds ``max_per_user`` live."""

    key: SlotKey
    user_id: str
    nonce: str
    expires_at: str
    max_per_user: int


@dataclass(frozen=True)
class BookingRequest:
    """A booking of the slot at ``key`` for ``user_id`` (``SlotRepository.book``), with the
    ``motivo`` given, consuming the user's hold ``hold_nonce`` when one is named."""

    key: SlotKey
    user_id: str
    motivo: str | None = None
    hold_nonce: str | None = None


@dataclass(frozen=True)
class SessionPatch:
    """Keys to merge into a session's data (``SessionRepository.merge`` and ``upsert``) and the
    lifetime to slide its expiry by: ``ttl_seconds`` when given (then remembered), else the one
    the session remembers, else ``default_ttl`` (which ``upsert`` needs for a session it
    creates without ``ttl_seconds``)."""

    changes: Mapping[str, Any]
    ttl_seconds: int | None = None
    default_ttl: int | None = None


@dataclass(frozen=True)
class FreeSlotSearch:
    """The slots free of any of ``doctor_ids`` with ``desde <= fecha_hora <= hasta``
    (``SlotRepository.list_free_of_doctors``), the first ``limit`` in ``(fecha_hora,
    doctor_id)`` order after the keyset position ``after``; ``read_budget``: the items the whole
    search may read (None: each doctor's read alone is bounded)."""

    doctor_ids: Sequence[str]
    desde: str
    hasta: str
    limit: int
    after: tuple[str, str] | None = None
    read_budget: int | None = None


@dataclass(frozen=True)
class UserBookings:
    """One user's booked slots from ``desde`` on (all when None), a page of at most ``limit``
    from ``cursor`` on (``SlotRepository.list_for_user``)."""

    user_id: str
    desde: str | None = None
    limit: int = 20
    cursor: str | None = None
