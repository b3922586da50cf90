"""Booking rules: no past slots, idempotent re-booking, alternatives on conflict, reschedule.

Every booking enters here, with or without a hold: a client's ``hold_id`` is read
(:func:`health_api.signing.decode_hold_id`) and its nonce handed to storage. Every function
receives the ``caller``: who it acts for is :func:`health_api.domain.caller.acting_for`'s
answer (a user token its own user; an API key the user it names), decided before anything else.

The atomicity lives in storage (one conditional write, one transaction); the rules that need the
clock or a second look at the schedule live here.
"""

from __future__ import annotations

from datetime import timedelta

from health_api import clock
from health_api.domain import slots as slot_rules
from health_api.domain.caller import APPOINTMENTS, Caller, acting_for
from health_api.domain.errors import (
    NotFoundError,
    NotYourBookingError,
    SlotTakenError,
)
from health_api.domain.models import DISPONIBLE, BookingResult, Page, Slot, SlotKey
from health_api.domain.requests import BookingRequest, SlotRange, UserBookings
from health_api.services.schedules import require_doctor
from health_api.services.times import from_utc_string, to_utc_string
from health_api.signing import NO_SUCH_NONCE, decode_hold_id
from health_api.storage.base import Storage

ALTERNATIVES = 3
ALTERNATIVES_HORIZON = timedelta(days=60)


def _require_future(key: SlotKey, what: str = "the slot") -> str:
    """Now, as the canonical string, after the domain's rule refused a past ``key``."""
    now_text = to_utc_string(clock.now_utc())
    slot_rules.require_future(key.fecha_hora, now_text, what)
    return now_text


def book_slot(
    storage: Storage,
    key: SlotKey,
    user_id: str | None,
    motivo: str | None,
    *,
    caller: Caller,
    hold_id: str | None = None,
    secret: bytes = b"",
) -> BookingResult:
    """Book ``key`` for ``user_id``. Past slots are refused; a slot booked or held live by
    someone else raises ``SlotTakenError`` carrying up to three ``alternativas`` of the same
    doctor. A slot this user holds live is booked and the hold consumed. Given ``hold_id`` (a
    client's, signed with ``secret``): an expired, edited or foreign id, or one of another slot
    or user, is ``HoldInvalidError`` unless this user booked ``key`` already (a safe retry).
    No such slot: ``DoctorNotFoundError`` when the doctor does not exist, else ``NotFoundError``."""
    user_id = acting_for(caller, user_id, APPOINTMENTS)
    hold_nonce = None if hold_id is None else _nonce_of(secret, hold_id, key)
    now_text = _require_future(key)
    try:
        return storage.slots.book(BookingRequest(key, user_id, motivo, hold_nonce), now_text)
    except SlotTakenError as exc:
        exc.alternativas = next_free_slots(storage, key.doctor_id, after=key.fecha_hora)
        raise
    except NotFoundError:
        require_doctor(storage, key.doctor_id)
        raise


def _nonce_of(secret: bytes, hold_id: str, key: SlotKey) -> str:
    decoded = decode_hold_id(secret, hold_id)
    # An id that names no hold on ``key`` can match none: storage is given a nonce no hold has,
    # so it answers as for any stale hold (this user's booking, else HoldInvalidError).
    return decoded[1] if decoded is not None and decoded[0] == key else NO_SUCH_NONCE


def list_appointments(
    storage: Storage,
    user_id: str | None,
    since: str | None,
    limit: int,
    cursor: str | None,
    *,
    caller: Caller,
) -> Page[Slot]:
    """The user's booked slots from ``since`` (all when None) in time order, read from the
    user index and confirmed against the table (a booking a moment old may be missing)."""
    user_id = acting_for(caller, user_id, APPOINTMENTS)
    return storage.slots.list_for_user(UserBookings(user_id, since, limit, cursor))


def next_free_slots(
    storage: Storage, doctor_id: str, after: str, limit: int = ALTERNATIVES
) -> list[Slot]:
    """The doctor's next free slots strictly after ``after`` (and after now), in time order."""
    start = max(after, to_utc_string(clock.now_utc()))
    horizon = to_utc_string(from_utc_string(start) + ALTERNATIVES_HORIZON)
    # One more than needed: the range is inclusive and ``start`` itself may be a free slot.
    # Eventual read: a suggestion a moment stale is harmless (booking it is a conditional write).
    page = storage.slots.list_range(
        SlotRange(doctor_id, start, horizon, estado=DISPONIBLE, limit=limit + 1, consistent=False)
    )
    return [slot for slot in page.items if slot.fecha_hora > start][:limit]


def cancel_booking(storage: Storage, key: SlotKey, user_id: str | None, *, caller: Caller) -> Slot:
    """Free the user's booking of ``key``; past appointments cannot be cancelled. A slot
    booked or held live by another user is ``NotYourBookingError``; no such slot is
    ``DoctorNotFoundError`` when the doctor does not exist, else ``NotFoundError``."""
    user_id = acting_for(caller, user_id, APPOINTMENTS)
    now_text = _require_future(key, "the appointment")
    try:
        return storage.slots.cancel(key, user_id, now_text)
    except SlotTakenError:
        raise NotYourBookingError() from None
    except NotFoundError:
        require_doctor(storage, key.doctor_id)
        raise


def reschedule_booking(
    storage: Storage, user_id: str | None, source: SlotKey, target: SlotKey, *, caller: Caller
) -> Slot:
    """Move the user's booking from ``source`` to ``target`` all or nothing."""
    user_id = acting_for(caller, user_id, APPOINTMENTS)
    _require_future(source, "the current appointment")
    now_text = _require_future(target, "the new slot")
    return storage.slots.reschedule(user_id, source, target, now_text)
