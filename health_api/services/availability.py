"""Availability: the free future slots of every doctor of a specialty, merged in time order.

Doctors come from the ``especialidad-index`` GSI; their slot ranges are queried in parallel on a
bounded thread pool when the storage gains from it (DynamoDB: one round trip of wall time, not
one per doctor; the embedded store reads in-process, where a thread hand-off costs as much as
the read, so it reads them in turn), and merged with a heap.
The cursor records the last (fecha_hora, doctor_id) returned, so the next page resumes there.
"""

from __future__ import annotations

import heapq
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from health_api import clock
from health_api.domain.errors import InvalidRequestError
from health_api.domain.models import DISPONIBLE, Doctor, Page, Slot, normalize_especialidad
from health_api.services.times import to_utc_string
from health_api.storage import cursor as cursors
from health_api.storage.base import Storage

MAX_DOCTORS = 200
POOL_SIZE = 8

_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """The process's fan-out pool, created lazily so that each gunicorn worker gets its own."""
    global _pool, _pool_pid  # one pool per process, rebuilt after a fork
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="availability")
            _pool_pid = os.getpid()
        return _pool


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
    start = max(desde, to_utc_string(clock.now_utc()))
    if after is not None:
        start = max(start, after[0])
    doctors = doctors_of(storage, especialidad)
    if not doctors or start > hasta:
        return Page([], None)

    def free_slots(doctor: Doctor) -> list[FreeSlot]:
        # limit + 2: one for a next page, one for the slot at the resume instant itself.
        page = storage.slots.list_range(
            doctor.doctor_id, start, hasta, estado=DISPONIBLE, limit=limit + 2
        )
        return [FreeSlot(slot, doctor) for slot in page.items]

    per_doctor = _fan_out(free_slots, doctors, storage.concurrent_reads)
    now_text = to_utc_string(clock.now_utc())
    merged = heapq.merge(*per_doctor, key=lambda f: (f.slot.fecha_hora, f.slot.doctor_id))
    items: list[FreeSlot] = []
    more = False
    for free in merged:
        position = (free.slot.fecha_hora, free.slot.doctor_id)
        if free.slot.fecha_hora <= now_text or (after is not None and position <= after):
            continue
        if len(items) == limit:
            more = True
            break
        items.append(free)
    next_cursor = None
    if more:
        last = items[-1].slot
        next_cursor = cursors.encode(
            query, {"fecha_hora": last.fecha_hora, "doctor_id": last.doctor_id}
        )
    return Page(items, next_cursor)


def _fan_out(
    work: Callable[[Doctor], list[FreeSlot]], doctors: list[Doctor], concurrency: int
) -> list[list[FreeSlot]]:
    if len(doctors) == 1 or concurrency <= 1:
        return [work(doctor) for doctor in doctors]
    return list(_executor().map(work, doctors))
