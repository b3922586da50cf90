"""The vocabulary of the slot's state machine: the states a write may start from, and the answers.

An action of ``domain/slots.py`` answers with a ``Write`` (make ``changes`` under the condition
that the slot is still in state ``when``), a ``Keep`` (change nothing) or, for a reschedule, a
``Move`` (two writes in one transaction). ``meets`` is the reference meaning of each
``Precondition``: every backend renders it once (a DynamoDB condition expression, a SQLite
``WHERE`` fragment) and the tests hold the renderings to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum

from health_api.domain.models import (
    DISPONIBLE,
    RESERVADO,
    RETENIDO,
    Slot,
    blocks_doctor_deletion,
    hold_is_live,
    slot_at,
)

HOLD_FIELDS = ("retenido_por", "retenido_hasta", "retencion")
BOOKING_FIELDS = ("user_id", "motivo", "reservado_en")


class Precondition(Enum):
    """The states a write may start from: the write's condition is "the slot still is so".

    - ``FREE``: the slot exists and is ``disponible``, or ``retenido`` with its hold lapsed at now;
    - ``HELD_LIVE_BY``: ``retenido`` by the user, live at now, under the write's ``nonce`` (a
      write with no nonce: under whichever nonce the hold carries);
    - ``BOOKED_BY``: ``reservado`` by the user;
    - ``CARRIES_HOLD``: ``retenido`` under the write's ``nonce``, live or lapsed;
    - ``DELETABLE``: the slot exists and is neither booked nor held live at now (what a slot
      DELETE and a doctor's deletion may remove; ``models.blocks_doctor_deletion`` is its
      negation).
    """

    FREE = "free"
    HELD_LIVE_BY = "held_live_by"
    BOOKED_BY = "booked_by"
    CARRIES_HOLD = "carries_hold"
    DELETABLE = "deletable"


def meets(when: Precondition, slot: Slot | None, user_id: str, now: str, nonce: str | None) -> bool:
    """Whether ``slot`` is in state ``when`` for ``user_id`` at ``now`` (the meaning every
    backend's rendering of a precondition must have; the tests hold them to it)."""
    if slot is None:
        return False
    if when is Precondition.FREE:
        return slot_at(slot, now).estado == DISPONIBLE
    if when is Precondition.HELD_LIVE_BY:
        return (
            hold_is_live(slot, now)
            and slot.retenido_por == user_id
            and (nonce is None or slot.retencion == nonce)
        )
    if when is Precondition.BOOKED_BY:
        return slot.estado == RESERVADO and slot.user_id == user_id
    if when is Precondition.DELETABLE:
        return not blocks_doctor_deletion(slot, now)
    return slot.estado == RETENIDO and slot.retencion == nonce


@dataclass(frozen=True)
class Write:
    """Set ``changes`` on the slot (a value sets the attribute, None removes it) under the
    condition that the slot still is in state ``when`` (with ``nonce`` for a hold's states)."""

    when: Precondition
    changes: Mapping[str, str | None] = field(default_factory=dict)
    nonce: str | None = None

    def applied_to(self, slot: Slot) -> Slot:
        """``slot`` after this write."""
        return replace(slot, **self.changes)


@dataclass(frozen=True)
class Keep:
    """Change nothing; answer with ``slot`` (``created``: it is this very request's own work,
    committed by an earlier attempt of the same write)."""

    slot: Slot
    created: bool = False


Outcome = Write | Keep


@dataclass(frozen=True)
class Move:
    """A reschedule: both writes in one transaction, ``release`` on the source, ``take`` on the
    target (the old booking's ``motivo`` travels with it)."""

    release: Write
    take: Write


def booking_changes(user_id: str, motivo: str | None, now: str) -> dict[str, str | None]:
    """What a booking sets: ``reservado`` for the user, stamped ``now``; any hold removed."""
    return {
        "estado": RESERVADO,
        "user_id": user_id,
        "motivo": motivo,
        "reservado_en": now,
        **dict.fromkeys(HOLD_FIELDS),
    }


def hold_changes(user_id: str, nonce: str, expires_at: str) -> dict[str, str | None]:
    """What a hold sets: ``retenido`` for the user until ``expires_at`` under ``nonce``."""
    return {
        "estado": RETENIDO,
        "retenido_por": user_id,
        "retenido_hasta": expires_at,
        "retencion": nonce,
    }


def freeing_changes() -> dict[str, str | None]:
    """What freeing a slot sets: ``disponible``, with no booking and no hold."""
    return {"estado": DISPONIBLE, **dict.fromkeys((*BOOKING_FIELDS, *HOLD_FIELDS))}


# The condition of a booking written before any read: free at now. A live hold of the user is
# not accepted here because consuming a hold may have more to do (DynamoDB frees its seat).
OPTIMISTIC_BOOKING = Precondition.FREE


def booking_write(
    user_id: str, motivo: str | None, now: str, hold_nonce: str | None = None
) -> Write:
    """The write a booking makes before any read: of a free slot, or (given ``hold_nonce``) of
    this user's live hold under it. What ``book`` answers for every slot meeting its condition;
    on a failed condition ask ``book`` with the slot as it is."""
    changes = booking_changes(user_id, motivo, now)
    if hold_nonce is None:
        return Write(OPTIMISTIC_BOOKING, changes)
    return Write(Precondition.HELD_LIVE_BY, changes, hold_nonce)


def with_own_hold(first: Write) -> tuple[Write, Write]:
    """``first`` (a booking or a cancel made before any read) and the same change to the user's
    own live hold, whatever its nonce: what a store that consumes a hold in the same statement
    as any other write (SQLite) may send as one conditional write under either condition. A
    store that must free the hold's seat with it (DynamoDB) sends ``first`` alone."""
    return first, Write(Precondition.HELD_LIVE_BY, first.changes)


def cancel_write() -> Write:
    """The write a cancel makes before any read: free the user's booking. What ``cancel``
    answers for every slot booked by the user; on a failed condition ask ``cancel``."""
    return Write(Precondition.BOOKED_BY, freeing_changes())


def hold_write(user_id: str, nonce: str, expires_at: str) -> Write:
    """The write a hold makes before any read: take a free slot for the user. What ``hold``
    answers for every slot meeting its condition; on a failed condition ask ``hold``."""
    return Write(Precondition.FREE, hold_changes(user_id, nonce, expires_at))


def release_write(nonce: str) -> Write:
    """The write a release makes, read or not: clear the hold under ``nonce``. A failed
    condition needs no read: ``release`` answers None (nothing to do) for every such slot."""
    return Write(Precondition.CARRIES_HOLD, freeing_changes(), nonce)
