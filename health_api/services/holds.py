"""Holds: a slot kept for one user for a few minutes while a conversation finishes.

The atomicity (one free seat of the user's ``HOLD_MAX_PER_USER``, one slot) lives in storage;
the rules that need the clock live here: the hold's lifetime, never past the slot's start. The
opaque ``hold_id`` is signed and read by :mod:`health_api.signing` (beside the cursors, with
their key); booking with a hold is :func:`health_api.services.booking.book_slot`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from health_api import clock
from health_api.config import HOLD_TTL_RANGE, Settings
from health_api.domain import slots as slot_rules
from health_api.domain.caller import (
    APPOINTMENTS,
    Caller,
    acting_for,
    may_see_hold,
    require_scope,
)
from health_api.domain.errors import InvalidRequestError, NotFoundError, SlotTakenError
from health_api.domain.models import Hold, SlotKey
from health_api.domain.requests import HoldRequest
from health_api.services import booking
from health_api.services.schedules import require_doctor
from health_api.services.times import to_utc_string
from health_api.signing import decode_hold_id, hold_id_of, new_nonce
from health_api.storage.base import Storage


@dataclass(frozen=True)
class IssuedHold:
    """A hold as the service hands it out: its signed id, the hold, and whether it is new."""

    hold_id: str
    hold: Hold
    created: bool


def hold_slot(
    storage: Storage,
    secret: bytes,
    key: SlotKey,
    user_id: str | None,
    ttl_seconds: int | None,
    settings: Settings,
    *,
    caller: Caller,
) -> IssuedHold:
    """Hold ``key`` for ``user_id`` for ``ttl_seconds`` (default ``HOLD_TTL_SECONDS``), never
    past the slot's start. A past slot, or a ``ttl_seconds`` outside 30-1800, is an
    ``InvalidRequestError``; a slot booked or held live by someone else raises
    ``SlotTakenError`` with up to three ``alternativas``. This user's live hold comes back
    unchanged (``created=False``); the result carries the ``hold_id`` signed with ``secret``.
    No such slot: ``DoctorNotFoundError`` when the doctor does not exist, else
    ``NotFoundError``. A user token holds for its own user only (``acting_for``)."""
    user_id = acting_for(caller, user_id, APPOINTMENTS)
    ttl = settings.hold_ttl_seconds if ttl_seconds is None else ttl_seconds
    low, high = HOLD_TTL_RANGE
    if not low <= ttl <= high:
        raise InvalidRequestError(f"ttl_seconds must be between {low} and {high}, got {ttl}")
    now = clock.now_utc()
    now_text = to_utc_string(now)
    slot_rules.require_future(key.fecha_hora, now_text)
    expires_at = min(to_utc_string(now + timedelta(seconds=ttl)), key.fecha_hora)
    try:
        request = HoldRequest(key, user_id, new_nonce(), expires_at, settings.hold_max_per_user)
        result = storage.slots.hold(request, now_text)
    except SlotTakenError as exc:
        exc.alternativas = booking.next_free_slots(storage, key.doctor_id, after=key.fecha_hora)
        raise
    except NotFoundError:
        require_doctor(storage, key.doctor_id)
        raise
    return IssuedHold(hold_id_of(secret, result.hold), result.hold, result.created)


def get_hold(storage: Storage, secret: bytes, hold_id: str, *, caller: Caller) -> Hold:
    """The live hold named by ``hold_id``; ``NotFoundError`` once it expired, was released or
    consumed, for an edited or foreign id, and for another user's hold asked by a user token."""
    require_scope(caller, APPOINTMENTS)
    decoded = decode_hold_id(secret, hold_id)
    if decoded is None:
        raise NotFoundError("no such hold")
    key, nonce = decoded
    hold = storage.slots.get_hold(key, nonce, to_utc_string(clock.now_utc()))
    if not may_see_hold(caller, hold.user_id):
        raise NotFoundError("no such hold")
    return hold


def release_hold(storage: Storage, secret: bytes, hold_id: str, *, caller: Caller) -> None:
    """Release the hold named by ``hold_id`` (the slot is free again if it still held it);
    already gone is fine. An edited or foreign id is ``NotFoundError``; so is another user's
    live hold released with a user token (read first: a token's caller releases only what
    it holds; the nonce of a read hold never passes to another user)."""
    require_scope(caller, APPOINTMENTS)
    decoded = decode_hold_id(secret, hold_id)
    if decoded is None:
        raise NotFoundError("no such hold")
    key, nonce = decoded
    now_text = to_utc_string(clock.now_utc())
    if caller.is_user:
        try:
            hold = storage.slots.get_hold(key, nonce, now_text)
        except NotFoundError:
            return  # gone already: nothing of anyone's to release or reveal
        if not may_see_hold(caller, hold.user_id):
            raise NotFoundError("no such hold")
    storage.slots.release_hold(key, nonce, now_text)
