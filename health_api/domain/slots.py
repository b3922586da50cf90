"""The slot's state machine: what a hold, booking, cancel, release or reschedule does to a slot.

This module is the one home of the booking rules. Each action is a pure function of the slot as
stored (None: no such slot), the acting user, the request's instant ``now`` and, where the action
has one, a hold's nonce. It answers with one of (see ``domain/writes.py``):

- ``Write``: make this change, under the condition that the slot is still in the state ``when``
  (one of the ``Precondition`` states, which each backend renders once as a condition expression
  or an ``UPDATE ... WHERE``);
- ``Keep``: change nothing and answer with the slot as it is (a retried booking, a cancel of a
  slot that is already free);
- a domain error (``SlotTakenError``, ``HoldInvalidError``...): the problem the caller gets.

A backend either reads the slot first and asks, or (where it reads nothing today) makes the
action's first write at once (``booking_write``, ``cancel_write``, ``release_write``) and, when
that condition fails, asks with the old item the store returned
(``ReturnValuesOnConditionCheckFailure=ALL_OLD``, or the row read in the same SQLite transaction).
The answer to that second question may be another ``Write`` (the slot moved to a state the user
may still act on, e.g. their own hold), which the backend then makes under its own condition;
it is never the first write again (the tests hold the actions to both).

A slot in the past is the service's rule (``require_future``, checked before storage is asked):
the actions do not look at it, since a first write made before any read could not either.

``retried`` tells the rules that the store reports a write resent by the client library after its
first attempt may have committed (botocore retries): a slot that already shows this very request's
effect is then this request's own work (``Keep(created=True)``).
"""

from __future__ import annotations

from health_api.domain.errors import (
    AlreadyBookedError,
    ConflictError,
    HealthApiError,
    HoldInvalidError,
    HoldLimitError,
    InvalidRequestError,
    NotFoundError,
    RescheduleError,
    SlotBlockedError,
    SlotTakenError,
)
from health_api.domain.models import (
    BLOQUEADO,
    DISPONIBLE,
    RESERVADO,
    RETENIDO,
    Hold,
    Slot,
    SlotKey,
    hold_is_live,
    hold_of,
    slot_at,
)
from health_api.domain.writes import (
    BOOKING_FIELDS,
    HOLD_FIELDS,
    OPTIMISTIC_BOOKING,
    Keep,
    Move,
    Outcome,
    Precondition,
    Write,
    booking_changes,
    booking_write,
    cancel_write,
    freeing_changes,
    hold_changes,
    hold_write,
    meets,
    release_write,
    with_own_hold,
)

# The vocabulary lives in domain/writes.py; it is re-exported here so that a backend imports
# the whole state machine from one place.
__all__ = [
    "BOOKING_FIELDS",
    "HOLD_FIELDS",
    "OPTIMISTIC_BOOKING",
    "Keep",
    "Move",
    "Outcome",
    "Precondition",
    "Write",
    "book",
    "booking_changes",
    "booking_write",
    "cancel",
    "cancel_write",
    "check_hold_limit",
    "deletion_problem",
    "freeing_changes",
    "hold",
    "hold_changes",
    "hold_write",
    "live_hold",
    "meets",
    "move_error",
    "release",
    "release_write",
    "require_distinct",
    "require_future",
    "reschedule",
    "source_problem",
    "target_problem",
    "with_own_hold",
]


def require_future(fecha_hora: str, now: str, what: str = "the slot") -> None:
    """A slot that has started (``fecha_hora <= now``) is past: no hold, booking, cancel or
    reschedule touches it. The service's check, made before storage is asked (so that a past
    slot is refused before anything is read, whether it exists or not)."""
    if fecha_hora <= now:
        raise InvalidRequestError(f"{what} at {fecha_hora} is in the past")


def _booked_by(slot: Slot, user_id: str) -> bool:
    return slot.estado == RESERVADO and slot.user_id == user_id


def _held_live_by(slot: Slot, user_id: str, now: str) -> bool:
    return hold_is_live(slot, now) and slot.retenido_por == user_id


def hold(
    slot: Slot | None,
    user_id: str,
    nonce: str,
    expires_at: str,
    now: str,
    *,
    retried: bool = False,
) -> Outcome:
    """Hold ``slot`` for ``user_id`` until ``expires_at`` under ``nonce``. This user's live
    hold comes back unchanged (a repeat never counts twice). Not found, blocked, booked
    (by this user: ``AlreadyBookedError``) or held by another: the matching error."""
    if slot is None:
        raise NotFoundError("slot not found")
    current = slot_at(slot, now)
    if current.estado == BLOQUEADO:
        raise SlotBlockedError("the slot is blocked and cannot be held")
    if current.estado == RESERVADO:
        if current.user_id == user_id:
            raise AlreadyBookedError()
        raise SlotTakenError("the slot is booked by another user")
    if current.estado == RETENIDO:
        if current.retenido_por == user_id:
            return Keep(current, created=retried and current.retencion == nonce)
        raise SlotTakenError("the slot is held by another user")
    return hold_write(user_id, nonce, expires_at)


def deletion_problem(slot: Slot | None) -> HealthApiError:
    """Why a delete under ``DELETABLE`` failed, from the slot as it was: none there
    (``NotFoundError``), or booked or held live (``ConflictError``)."""
    if slot is None:
        return NotFoundError("slot not found")
    return ConflictError("the slot is booked or held and cannot be deleted")


def check_hold_limit(live_holds: int, max_per_user: int) -> None:
    """A user with ``max_per_user`` live holds already may take no other."""
    if live_holds >= max_per_user:
        raise HoldLimitError()


def live_hold(slot: Slot | None, nonce: str, now: str) -> Hold:
    """The live hold under ``nonce`` that ``slot`` carries, else ``NotFoundError``."""
    if slot is None or not hold_is_live(slot, now) or slot.retencion != nonce:
        raise NotFoundError("hold not found")
    return hold_of(slot)


def book(
    slot: Slot | None,
    user_id: str,
    motivo: str | None,
    now: str,
    hold_nonce: str | None = None,
    *,
    retried: bool = False,
) -> Outcome:
    """Book ``slot`` for ``user_id``. Free: booked. Held live by this user: booked, the hold
    consumed (given ``hold_nonce``, only that hold: anything else is ``HoldInvalidError``).
    Booked by this user already: kept, whatever ``hold_nonce`` says (a safe retry). Otherwise
    not found, blocked or taken."""
    if slot is None:
        raise NotFoundError("slot not found")
    if _booked_by(slot, user_id):
        return Keep(slot, created=retried and slot.reservado_en == now)
    if hold_nonce is not None:
        if not (_held_live_by(slot, user_id, now) and slot.retencion == hold_nonce):
            raise HoldInvalidError("the hold is expired, released or of another user or slot")
        return booking_write(user_id, motivo, now, hold_nonce)
    current = slot_at(slot, now)
    if current.estado == BLOQUEADO:
        raise SlotBlockedError("the slot is blocked and cannot be booked")
    if current.estado == RESERVADO:
        raise SlotTakenError("the slot is booked by another user")
    if current.estado == RETENIDO:
        if current.retenido_por == user_id:
            return booking_write(user_id, motivo, now, current.retencion)
        raise SlotTakenError("the slot is held by another user")
    return booking_write(user_id, motivo, now)


def cancel(slot: Slot | None, user_id: str, now: str) -> Outcome:
    """Free a slot booked, or held live, by ``user_id``. Already free (a retried cancel, a
    lapsed hold) or blocked: kept as it is at ``now``. Booked or held live by another user:
    ``SlotTakenError``; no slot: ``NotFoundError``."""
    if slot is None:
        raise NotFoundError("slot not found")
    if _booked_by(slot, user_id):
        return cancel_write()
    if _held_live_by(slot, user_id, now):
        return Write(Precondition.HELD_LIVE_BY, freeing_changes(), slot.retencion)
    if slot.estado != RESERVADO and not hold_is_live(slot, now):
        return Keep(slot_at(slot, now))
    raise SlotTakenError("the slot is booked or held by another user")


def release(slot: Slot | None, nonce: str) -> Outcome | None:
    """Clear the hold under ``nonce`` if the slot still carries it (lapsed or not: clearing it
    is harmless); None when it is gone already (nothing to do, not an error)."""
    if slot is None or slot.estado != RETENIDO or slot.retencion != nonce:
        return None
    return release_write(nonce)


_MOVE_MESSAGES = {
    "same_slot": "the new slot is the current one",
    "from_not_found": "the current slot does not exist",
    "from_not_held": "the user does not hold the current slot",
    "to_not_found": "the new slot does not exist",
    "to_taken": "the new slot is booked or held by another user",
    "to_blocked": "the new slot is blocked",
}


def move_error(reason: str) -> RescheduleError:
    """The ``RescheduleError`` for ``reason`` (one of ``RescheduleError``'s reasons)."""
    return RescheduleError(reason, _MOVE_MESSAGES[reason])


def source_problem(source: Slot | None) -> RescheduleError:
    """Why the source of a move cannot be released (it is not the user's booking)."""
    return move_error("from_not_found" if source is None else "from_not_held")


def target_problem(target: Slot | None) -> RescheduleError:
    """Why the target of a move cannot be taken."""
    if target is None:
        return move_error("to_not_found")
    return move_error("to_blocked" if target.estado == BLOQUEADO else "to_taken")


def require_distinct(source: SlotKey, target: SlotKey) -> None:
    """A move needs two slots: the same one twice is ``same_slot`` (decided before any read)."""
    if source == target:
        raise move_error("same_slot")


def reschedule(source: Slot | None, target: Slot | None, user_id: str, now: str) -> Move | Keep:
    """Move ``user_id``'s booking from ``source`` to ``target``, keeping its ``motivo``. A retry
    after success (the user booked the target and no longer the source) keeps the target. The
    target may be free or held live by this user (the hold consumed); else a ``RescheduleError``
    names the reason."""
    if source is not None and target is not None:
        require_distinct(source.key, target.key)
    if source is None or not _booked_by(source, user_id):
        # Checked before the source's own reason, so that a retry still succeeds after the
        # freed source was deleted.
        if target is not None and _booked_by(target, user_id):
            return Keep(target)
        raise source_problem(source)
    if target is not None and _held_live_by(target, user_id, now):
        nonce = target.retencion  # the user's own hold on the target is consumed
    elif target is not None and slot_at(target, now).estado == DISPONIBLE:
        nonce = None
    else:
        raise target_problem(target)
    return Move(cancel_write(), booking_write(user_id, source.motivo, now, nonce))
