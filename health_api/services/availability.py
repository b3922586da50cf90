"""Availability: the free future slots of every doctor of a specialty, merged in time order.

Doctors come from the ``especialidad-index`` GSI; their free slots come from one storage call
that returns them already merged (SQLite: one statement over every doctor; DynamoDB: one Query
per doctor, in parallel). The cursor records the last (fecha_hora, doctor_id) returned, so the
next page resumes there; when a doctor's read stopped at its read budget, it records where the
merge stopped instead (a short or empty page whose cursor still moves forward).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from health_api import clock
from health_api.domain.errors import InvalidRequestError
from health_api.domain.models import Doctor, Page, Slot, normalize_especialidad
from health_api.services.times import from_utc_string, to_utc_string
from health_api.storage import cursor as cursors
from health_api.storage.base import Storage

MAX_DOCTORS = 200
DEFAULT_WINDOW = timedelta(days=7)
MAX_WINDOW = timedelta(days=31)


@dataclass(frozen=True)
class FreeSlot:
    """A free slot with the doctor it belongs to (what a chatbot shows the user)."""

    slot: Slot
    doctor: Doctor


def doctors_of(storage: Storage, especialidad: str) -> list[Doctor]:
    """Every doctor of the specialty (all GSI pages, at most ``MAX_DOCTORS``)."""
    doctors: list[Doctor] = []
    cursor = None
    while True:
        page = storage.doctors.list_by_specialty(especialidad, limit=100, cursor=cursor)
        doctors.extend(page.items)
        cursor = page.next_cursor
        if cursor is None or len(doctors) >= MAX_DOCTORS:
            return doctors[:MAX_DOCTORS]


def window(desde: str | None, hasta: str | None) -> tuple[str, str]:
    """The search window: ``desde`` defaults to now, ``hasta`` to ``desde`` plus 7 days; a
    window ending before it starts, or longer than 31 days, is an ``InvalidRequestError``
    (about ``hasta``)."""
    desde = desde or to_utc_string(clock.now_utc())
    hasta = hasta or to_utc_string(from_utc_string(desde) + DEFAULT_WINDOW)
    if desde > hasta:
        raise InvalidRequestError("hasta is before desde")
    if from_utc_string(hasta) - from_utc_string(desde) > MAX_WINDOW:
        raise InvalidRequestError("the window may span at most 31 days")
    return desde, hasta


def find_availability(
    storage: Storage,
    especialidad: str,
    desde: str,
    hasta: str,
    limit: int,
    cursor: str | None = None,
) -> Page[FreeSlot]:
    """Free slots of the specialty with ``desde <= fecha_hora <= hasta``, after now, in time
    order (ties by doctor), ``limit`` at a time."""
    if desde > hasta:
        raise InvalidRequestError("desde is after hasta")
    query = cursors.fingerprint("availability", normalize_especialidad(especialidad), desde, hasta)
    after: tuple[str, str] | None = None
    if cursor is not None:
        position = cursors.decode(cursor, query, ("fecha_hora", "doctor_id"))
        after = (position["fecha_hora"], position["doctor_id"])
    now_text = to_utc_string(clock.now_utc())
    start = max(desde, now_text)
    if after is not None:
        start = max(start, after[0])
    doctors = doctors_of(storage, especialidad)
    if not doctors or start > hasta:
        return Page([], None)

    by_id = {doctor.doctor_id: doctor for doctor in doctors}
    # Resume strictly after both the cursor and now. Every slot at the instant now is at or
    # before (now, greatest doctor id), so one keyset position drops them with the cursor's:
    # storage returns no slot this page would have to skip (several doctors share instants).
    resume = (now_text, max(by_id))
    if after is not None:
        resume = max(resume, after)
    # limit + 1: the extra slot only says that a next page exists.
    found = storage.slots.list_free_of_doctors(list(by_id), start, hasta, limit + 1, after=resume)
    slots = found.slots
    items = [FreeSlot(slot, by_id[slot.doctor_id]) for slot in slots[:limit]]
    stop: tuple[str, str] | None = None
    if len(slots) > limit:
        stop = (items[-1].slot.fecha_hora, items[-1].slot.doctor_id)
    elif found.stopped_at is not None:
        # A doctor's read stopped at its read budget: resume where the merge stopped (this
        # page may be short, even empty; the cursor still moves forward).
        stop = found.stopped_at
    if stop is None:
        return Page(items, None)
    return Page(items, cursors.encode(query, {"fecha_hora": stop[0], "doctor_id": stop[1]}))
