"""The demo data set: a dozen doctors over several specialties and two weeks of slots.

Loading is idempotent (existing doctors and slots are left alone) and so is removal. Every demo
doctor id starts with ``demo-``, so removal never touches real data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from zoneinfo import ZoneInfo

from health_api import clock
from health_api.domain.errors import ConflictError, NotFoundError
from health_api.domain.models import RESERVADO, Doctor, Slot
from health_api.domain.requests import SlotRange
from health_api.services.recurrence import WeeklyRule, expand
from health_api.storage.base import Storage

DEMO_PREFIX = "demo-"
EARLIEST = "0000-01-01T00:00:00Z"
LATEST = "9999-12-31T23:59:59Z"

DEMO_DOCTORS = (
    Doctor(
        "demo-cardio-1",
        "Dra. Lucía Fernández",
        "Cardiología",
        "Clínica Centro",
        idiomas=("es", "en"),
    ),
    Doctor("demo-cardio-2", "Dr. Andrés Gómez", "Cardiología", "Clínica Norte", idiomas=("es",)),
    Doctor(
        "demo-pedia-1", "Dra. Sofía Martínez", "Pediatría", "Clínica Centro", idiomas=("es", "pt")
    ),
    Doctor("demo-pedia-2", "Dr. Javier Núñez", "Pediatría", "Clínica Sur", idiomas=("es",)),
    Doctor(
        "demo-derma-1", "Dra. Carmen López", "Dermatología", "Clínica Norte", idiomas=("es", "fr")
    ),
    Doctor("demo-trauma-1", "Dr. Raúl Sánchez", "Traumatología", "Clínica Sur", idiomas=("es",)),
    Doctor(
        "demo-trauma-2", "Dra. Elena Ruiz", "Traumatología", "Clínica Centro", idiomas=("es", "en")
    ),
    Doctor("demo-neuro-1", "Dr. Tomás Díaz", "Neurología", "Clínica Norte", idiomas=("es",)),
    Doctor("demo-gine-1", "Dra. Isabel Moreno", "Ginecología", "Clínica Sur", idiomas=("es", "en")),
    Doctor("demo-oftal-1", "Dr. Martín Álvarez", "Oftalmología", "Clínica Centro", idiomas=("es",)),
    Doctor(
        "demo-general-1",
        "Dra. Paula Romero",
        "Medicina General",
        "Clínica Norte",
        idiomas=("es", "en", "ca"),
    ),
    Doctor(
        "demo-general-2", "Dr. Diego Castillo", "Medicina General", "Clínica Sur", idiomas=("es",)
    ),
)

WEEKDAYS = (0, 1, 2, 3, 4)
MORNING = (time(9, 0), time(13, 0))
AFTERNOON = (time(15, 0), time(18, 0))
SLOT_MINUTES = 30
DAYS = 14


@dataclass(frozen=True)
class SeedResult:
    """What a load or removal did: ``doctors`` and ``slots`` it created (or removed), and,
    for a load, how many of each were already there and left alone."""

    doctors: int
    slots: int
    present_doctors: int = 0
    present_slots: int = 0


def load_demo(storage: Storage, timezone: str) -> SeedResult:
    """Create the demo doctors and their next two weeks of slots (weekdays, morning and
    afternoon, clinic time); anything already there is left as it is."""
    tz = ZoneInfo(timezone)
    today = clock.now_utc().astimezone(tz).date()
    doctors = slots = present_doctors = present_slots = 0
    for index, doctor in enumerate(DEMO_DOCTORS):
        try:
            storage.doctors.create(doctor)
            doctors += 1
        except ConflictError:
            present_doctors += 1  # already loaded: idempotent
        # Alternate mornings and afternoons so that specialties have spread-out availability.
        start, end = MORNING if index % 2 == 0 else AFTERNOON
        rule = WeeklyRule(
            today + timedelta(days=1),
            today + timedelta(days=DAYS),
            WEEKDAYS,
            start,
            end,
            SLOT_MINUTES,
            tz,
        )
        times = expand(rule, limit=1000)
        result = storage.slots.add_many([Slot(doctor.doctor_id, t, SLOT_MINUTES) for t in times])
        slots += result.created
        present_slots += result.skipped
    return SeedResult(doctors, slots, present_doctors, present_slots)


def remove_demo(storage: Storage) -> SeedResult:
    """Delete every demo doctor and all of their slots (booked ones are cancelled first)."""
    doctors = slots = 0
    for doctor in DEMO_DOCTORS:
        cursor = None
        while True:
            page = storage.slots.list_range(
                SlotRange(doctor.doctor_id, EARLIEST, LATEST, limit=100, cursor=cursor)
            )
            for slot in page.items:
                if slot.estado == RESERVADO and slot.user_id:
                    storage.slots.cancel(slot.key, slot.user_id)
                storage.slots.delete(slot.key)
                slots += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        try:
            storage.doctors.delete(doctor.doctor_id)
            doctors += 1
        except NotFoundError:
            pass  # already removed: idempotent
    return SeedResult(doctors, slots)
