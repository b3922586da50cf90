"""The benchmark's data set, loaded straight through the storage layer (no HTTP).

200 doctors over 20 specialties (display names with accents), 60 days x 16 slots each, 10k
sessions, plus one single-doctor specialty for the 1-vs-10-doctor availability probe. Every slot
starts tomorrow or later (UTC), so each one is bookable; booking runs take theirs from the last
days, the read endpoints query the first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from health_api.domain.models import Doctor, Slot
from health_api.storage.base import Storage

SPECIALTIES = (
    "Cardiología", "Pediatría", "Traumatología", "Dermatología", "Neumología",
    "Neurología", "Oftalmología", "Ginecología", "Urología", "Psiquiatría",
    "Endocrinología", "Gastroenterología", "Otorrinolaringología", "Reumatología", "Oncología",
    "Nefrología", "Hematología", "Medicina General", "Cirugía General", "Alergología",
)  # fmt: skip
SOLO_SPECIALTY = "Medicina Deportiva"  # one doctor: the 1-doctor side of the fan-out probe
SOLO_DOCTOR = "bench-solo"  # never booked by a load run
SLOTS_PER_DAY = 16  # 08:00-15:30 UTC, every 30 minutes
CHUNK = 2000  # slots per add_many call (one transaction on SQLite)


@dataclass(frozen=True)
class Size:
    """How much data to load."""

    doctors: int = 200
    specialties: int = 20
    days: int = 60
    sessions: int = 10_000

    @property
    def slots(self) -> int:
        return (self.doctors + 1) * self.days * SLOTS_PER_DAY

    def as_dict(self) -> dict[str, int]:
        return {
            "doctors": self.doctors,
            "specialties": self.specialties,
            "days": self.days,
            "slots_per_day": SLOTS_PER_DAY,
            "slots": self.slots,
            "sessions": self.sessions,
        }


FULL = Size()
# 66 days: enough free slots (~20,800) for four one-second booking runs (plain, with an
# Idempotency-Key, with a user token, and normal sync) of the whole budget (bench/__main__.py:
# max_rps 5,000 a second, plus the warm-up), so that no booking request is a retry however fast
# the machine is.
QUICK = Size(doctors=20, specialties=2, days=66, sessions=200)
# The small side of the table-size probe: the same 10-doctor specialty, 6 days (~1k slots).
SMALL_TABLE = Size(doctors=10, specialties=1, days=6, sessions=0)


@dataclass
class DataSet:
    """What was loaded, and what the load runs need to address it."""

    size: Size
    first_day: datetime  # 00:00 UTC of the first day with slots
    doctor_ids: list[str] = field(default_factory=list)
    specialty: str = SPECIALTIES[0]  # the one the per-specialty endpoints query
    user_ids: list[str] = field(default_factory=list)
    load_seconds: float = 0.0

    @property
    def probe_day(self) -> tuple[str, str]:
        """``(desde, hasta)`` of the first day with slots (a one-day query)."""
        start = self.first_day
        return _utc(start), _utc(start + timedelta(hours=23, minutes=59))

    def slot_time(self, day: int, slot: int) -> str:
        """``fecha_hora`` of every doctor's ``slot``-th slot on day ``day`` (0: the first)."""
        return _utc(_slot_time(self.first_day, day, slot))

    def free_slots(self, count: int) -> list[tuple[str, str]]:
        """``count`` distinct (doctor_id, fecha_hora) slots from the last days, never the
        probe day, spread over all doctors (booking runs take one each)."""
        found: list[tuple[str, str]] = []
        for day in range(self.size.days - 1, 0, -1):
            for slot in range(SLOTS_PER_DAY):
                when = _utc(_slot_time(self.first_day, day, slot))
                found += [(doctor_id, when) for doctor_id in self.doctor_ids]
                if len(found) >= count:
                    return found[:count]
        return found


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _slot_time(first_day: datetime, day: int, slot: int) -> datetime:
    return first_day + timedelta(days=day, hours=8, minutes=30 * slot)


def tomorrow() -> datetime:
    """00:00 UTC of tomorrow: the first day that is entirely in the future."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=1)


def doctors(size: Size) -> list[Doctor]:
    """The doctors: ``bench-000`` ... spread round-robin over the specialties, plus the solo one."""
    made = [
        Doctor(
            doctor_id=f"bench-{i:03d}",
            nombre=f"Dra. Benchmark {i:03d}",
            especialidad=SPECIALTIES[i % size.specialties],
            centro="Centro Médico Norte",
            telefono="+34 600 000 000",
            email=f"bench-{i:03d}@clinica.example",
            idiomas=("es", "en"),
        )
        for i in range(size.doctors)
    ]
    made.append(Doctor(SOLO_DOCTOR, "Dr. Único", SOLO_SPECIALTY, centro="Centro Médico Norte"))
    return made


def load(storage: Storage, size: Size, first_day: datetime | None = None) -> DataSet:
    """Create the doctors, their slots and the sessions; the time it took is recorded."""
    started = time.perf_counter()
    first_day = first_day or tomorrow()
    data = DataSet(size, first_day)
    all_doctors = doctors(size)
    for doctor in all_doctors:
        storage.doctors.create(doctor)
    data.doctor_ids = [d.doctor_id for d in all_doctors if d.especialidad != SOLO_SPECIALTY]
    pending: list[Slot] = []
    for doctor in all_doctors:
        for day in range(size.days):
            for slot in range(SLOTS_PER_DAY):
                when = _utc(_slot_time(first_day, day, slot))
                pending.append(Slot(doctor.doctor_id, when, 30))
            if len(pending) >= CHUNK:
                storage.slots.add_many(pending)
                pending = []
    if pending:
        storage.slots.add_many(pending)
    now = int(time.time())
    for i in range(size.sessions):
        user_id = f"bench-user-{i:05d}"
        data.user_ids.append(user_id)
        session_data = {"paso": "elegir_especialidad", "especialidad": "cardiología", "n": i}
        storage.sessions.put(user_id, session_data, 7 * 24 * 3600, now)
    storage.release()
    data.load_seconds = time.perf_counter() - started
    return data
