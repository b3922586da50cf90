"""Availability: the free future slots of every doctor of a specialty, a group of doctors at a
time, each group's slots merged in time order.

Doctors come from the ``especialidad-index`` GSI in ``doctor_id`` order, ``MAX_DOCTORS`` per
group (one group per request: the doctors a request reads are bounded); their free slots come
from one storage call that returns them already merged (SQLite: one statement over the group;
DynamoDB: one Query per doctor, in parallel, sharing the request's ``READ_BUDGET``).

Order: by doctor group, then time. The first group is the first ``MAX_DOCTORS`` doctors by
``doctor_id``; its slots come in ``(fecha_hora, doctor_id)`` order over the whole window, then
the next group's from the start of the window again, and so on. A specialty of at most
``MAX_DOCTORS`` doctors is one group: one merged time order, as before. (The bookable-slot index
of a later release restores one time order over any number of doctors.)

The cursor records the group (the GSI cursor its doctors start after; absent for the first) and
the last ``(fecha_hora, doctor_id)`` returned, so the next page resumes there; when a doctor's
read stopped at the read budget, it records where the merge stopped instead (a short or empty
page whose cursor still moves forward). A group that is done moves the cursor to the next group,
so a page may be short, even empty, at a group's end while ``next_cursor`` is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from health_api import clock
from health_api.domain.caller import Caller
from health_api.domain.errors import InvalidCursorError, InvalidRequestError
from health_api.domain.models import Doctor, Page, Slot, normalize_especialidad
from health_api.domain.requests import FreeSlotSearch
from health_api.services.times import from_utc_string, to_utc_string
from health_api.storage import cursor as cursors
from health_api.storage.base import Storage

MAX_DOCTORS = 200  # doctors in one group: the most one request reads
READ_BUDGET = 2000  # slot items one request may read, shared by its group's doctors (DynamoDB)
DOCTOR_PAGE = 100  # doctors per GSI page
DEFAULT_WINDOW = timedelta(days=7)
MAX_WINDOW = timedelta(days=31)


@dataclass(frozen=True)
class FreeSlot:
    """A free slot with the doctor it belongs to (what a chatbot shows the user)."""

    slot: Slot
    doctor: Doctor


def doctor_group(
    storage: Storage, especialidad: str, cursor: str | None
) -> tuple[list[Doctor], str | None]:
    """The group of up to ``MAX_DOCTORS`` doctors of the specialty that starts at the GSI
    position ``cursor`` (None: the first), and the cursor of the next group (None: the last)."""
    doctors: list[Doctor] = []
    while True:
        page = storage.doctors.list_by_specialty(
            especialidad, limit=min(DOCTOR_PAGE, MAX_DOCTORS - len(doctors)), cursor=cursor
        )
        doctors.extend(page.items)
        cursor = page.next_cursor
        if cursor is None or len(doctors) >= MAX_DOCTORS:
            return doctors, cursor


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
    *,
    caller: Caller,
) -> Page[FreeSlot]:
    """Free slots of the specialty with ``desde <= fecha_hora <= hasta``, after now, by doctor
    group then in time order (ties by doctor), ``limit`` at a time (see the module doc)."""
    if desde > hasta:
        raise InvalidRequestError("desde is after hasta")
    query = cursors.fingerprint("availability", normalize_especialidad(especialidad), desde, hasta)
    group, after = _position(cursor, query)
    now_text = to_utc_string(clock.now_utc())
    start = max(desde, now_text)
    doctors, next_group = doctor_group(storage, especialidad, group)
    if not doctors or start > hasta:
        return Page([], None)
    if after is not None:
        start = max(start, after[0])

    by_id = {doctor.doctor_id: doctor for doctor in doctors}
    # Resume strictly after both the cursor and now. Every slot at the instant now is at or
    # before (now, greatest doctor id), so one keyset position drops them with the cursor's:
    # storage returns no slot this page would have to skip (several doctors share instants).
    resume = (now_text, max(by_id))
    if after is not None:
        resume = max(resume, after)
    # limit + 1: the extra slot only says that a next page exists.
    found = storage.slots.list_free_of_doctors(
        FreeSlotSearch(list(by_id), start, hasta, limit + 1, after=resume, read_budget=READ_BUDGET)
    )
    slots = found.slots
    items = [FreeSlot(slot, by_id[slot.doctor_id]) for slot in slots[:limit]]
    position: dict[str, str] = {} if group is None else {"grupo": group}
    if len(slots) > limit:
        position |= {"fecha_hora": items[-1].slot.fecha_hora, "doctor_id": items[-1].slot.doctor_id}
    elif found.stopped_at is not None:
        # A doctor's read stopped at the read budget: resume where the merge stopped (this
        # page may be short, even empty; the cursor still moves forward).
        position |= {"fecha_hora": found.stopped_at[0], "doctor_id": found.stopped_at[1]}
    elif next_group is not None:
        position = {"grupo": next_group}  # this group is done: the next one, from the start
    else:
        return Page(items, None)
    return Page(items, cursors.encode(query, position))


def _position(cursor: str | None, query: str) -> tuple[str | None, tuple[str, str] | None]:
    """The group and the in-group position a cursor carries (a cursor of the first group
    has no ``grupo``; one at a group's start has no position)."""
    if cursor is None:
        return None, None
    position = cursors.decode(cursor, query, (), optional=("grupo", "fecha_hora", "doctor_id"))
    if not position or ("fecha_hora" in position) != ("doctor_id" in position):
        raise InvalidCursorError("the cursor is not valid")
    after = None
    if "fecha_hora" in position:
        after = (position["fecha_hora"], position["doctor_id"])
    return position.get("grupo"), after
