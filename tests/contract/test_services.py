"""Service rules on both backends: past slots, alternatives, availability, deletion, demo data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from health_api.domain.errors import (
    ConflictError,
    InvalidCursorError,
    InvalidRequestError,
    NotFoundError,
    SlotTakenError,
)
from health_api.domain.models import DISPONIBLE, Doctor, Slot, SlotKey
from health_api.domain.requests import BookingRequest, SlotRange
from health_api.services import availability, booking, doctors, schedules, seed
from tests.callers import ADMIN_CALLER, AGENT_CALLER

NOW = "2026-12-01T08:00:00Z"


@pytest.fixture
def frozen():
    with freeze_time(NOW) as frozen_time:
        yield frozen_time


def at(day: int, hour: int, minute: int = 0) -> str:
    return f"2026-12-{day:02d}T{hour:02d}:{minute:02d}:00Z"


@pytest.fixture
def clinic(storage, frozen):
    storage.doctors.create(Doctor("card-1", "Dra. Uno", "Cardiología"))
    storage.doctors.create(Doctor("card-2", "Dr. Dos", "cardiologia"))
    storage.doctors.create(Doctor("derm-1", "Dra. Tres", "Dermatología"))
    times = {
        "card-1": [at(1, 7), at(1, 9), at(1, 10), at(2, 9), at(2, 10)],
        "card-2": [at(1, 9), at(1, 9, 30), at(3, 9)],
        "derm-1": [at(1, 9)],
    }
    storage.slots.add_many([Slot(d, t) for d, ts in times.items() for t in ts])
    return storage


def test_booking_a_past_slot_is_refused_without_a_write(clinic) -> None:
    with pytest.raises(InvalidRequestError, match="in the past"):
        booking.book_slot(clinic, SlotKey("card-1", at(1, 7)), "user-a", None, caller=AGENT_CALLER)

    assert clinic.slots.get(SlotKey("card-1", at(1, 7))).estado == DISPONIBLE


def test_booking_stamps_the_current_time(clinic, frozen) -> None:
    frozen.tick(timedelta(minutes=5))

    result = booking.book_slot(
        clinic, SlotKey("card-1", at(1, 9)), "user-a", "control", caller=AGENT_CALLER
    )

    assert result.slot.reservado_en == "2026-12-01T08:05:00Z"


def test_a_taken_slot_offers_the_doctors_next_three_free_slots(clinic) -> None:
    booking.book_slot(clinic, SlotKey("card-1", at(1, 9)), "user-a", None, caller=AGENT_CALLER)
    booking.book_slot(clinic, SlotKey("card-1", at(1, 10)), "user-c", None, caller=AGENT_CALLER)

    with pytest.raises(SlotTakenError) as caught:
        booking.book_slot(clinic, SlotKey("card-1", at(1, 9)), "user-b", None, caller=AGENT_CALLER)

    assert [s.fecha_hora for s in caught.value.alternativas] == [at(2, 9), at(2, 10)]
    assert {s.doctor_id for s in caught.value.alternativas} == {"card-1"}


def test_cancel_and_reschedule_refuse_past_appointments(clinic, frozen) -> None:
    booking.book_slot(clinic, SlotKey("card-1", at(1, 9)), "user-a", None, caller=AGENT_CALLER)
    frozen.move_to(at(1, 9))

    with pytest.raises(InvalidRequestError):
        booking.cancel_booking(clinic, SlotKey("card-1", at(1, 9)), "user-a", caller=AGENT_CALLER)
    with pytest.raises(InvalidRequestError):
        booking.reschedule_booking(
            clinic,
            "user-a",
            SlotKey("card-1", at(1, 9)),
            SlotKey("card-1", at(2, 9)),
            caller=AGENT_CALLER,
        )


def test_availability_merges_every_doctor_of_the_specialty_in_time_order(clinic) -> None:
    booking.book_slot(clinic, SlotKey("card-2", at(1, 9, 30)), "user-a", None, caller=AGENT_CALLER)

    page = availability.find_availability(
        clinic, "CARDIOLOGÍA", at(1, 0), at(3, 23), limit=10, caller=AGENT_CALLER
    )

    assert [(f.slot.fecha_hora, f.slot.doctor_id) for f in page.items] == [
        (at(1, 9), "card-1"),
        (at(1, 9), "card-2"),
        (at(1, 10), "card-1"),
        (at(2, 9), "card-1"),
        (at(2, 10), "card-1"),
        (at(3, 9), "card-2"),
    ]
    assert page.items[1].doctor.nombre == "Dr. Dos"
    assert page.next_cursor is None


def _availability_in_pages_of_two(storage, specialty: str, desde: str, hasta: str) -> list:
    """(fecha_hora, doctor_id) of every free slot, read page after page (at most 10 pages)."""
    seen, cursor = [], None
    for _ in range(10):
        page = availability.find_availability(
            storage, specialty, desde, hasta, limit=2, cursor=cursor, caller=AGENT_CALLER
        )
        seen += [(f.slot.fecha_hora, f.slot.doctor_id) for f in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    return seen


def test_availability_pages_resume_after_the_last_slot(clinic) -> None:
    seen = _availability_in_pages_of_two(clinic, "cardiologia", at(1, 0), at(3, 23))

    assert seen == [
        (at(1, 9), "card-1"),
        (at(1, 9), "card-2"),
        (at(1, 9, 30), "card-2"),
        (at(1, 10), "card-1"),
        (at(2, 9), "card-1"),
        (at(2, 10), "card-1"),
        (at(3, 9), "card-2"),
    ]


def test_availability_pages_resume_inside_an_instant_shared_by_many_doctors(
    storage, frozen
) -> None:
    names = [f"neuro-{n}" for n in range(5)]
    for name in names:
        storage.doctors.create(Doctor(name, name, "Neurología"))
    storage.slots.add_many([Slot(d, t) for d in names for t in (at(1, 9), at(1, 10))])

    seen = _availability_in_pages_of_two(storage, "neurologia", at(1, 0), at(1, 23))

    assert seen == [(t, d) for t in (at(1, 9), at(1, 10)) for d in names]


def test_availability_never_offers_the_current_instant_of_any_doctor(storage, frozen) -> None:
    names = [f"neuro-{n}" for n in range(4)]
    for name in names:
        storage.doctors.create(Doctor(name, name, "Neurología"))
    storage.slots.add_many([Slot(d, t) for d in names for t in (NOW, at(1, 9))])

    page = availability.find_availability(
        storage, "neurologia", at(1, 0), at(1, 23), limit=3, caller=AGENT_CALLER
    )

    assert [(f.slot.fecha_hora, f.slot.doctor_id) for f in page.items] == [
        (at(1, 9), d) for d in names[:3]
    ]
    assert page.next_cursor is not None


def test_availability_cursor_for_another_query_is_invalid(clinic) -> None:
    cursor = availability.find_availability(
        clinic, "cardiologia", at(1, 0), at(3, 23), limit=1, caller=AGENT_CALLER
    ).next_cursor

    with pytest.raises(InvalidCursorError):
        availability.find_availability(
            clinic, "dermatologia", at(1, 0), at(3, 23), 1, cursor, caller=AGENT_CALLER
        )


def test_availability_of_an_unknown_specialty_is_empty(clinic) -> None:
    page = availability.find_availability(
        clinic, "astrología", at(1, 0), at(3, 23), limit=5, caller=AGENT_CALLER
    )

    assert page.items == []


def test_deleting_a_doctor_with_future_bookings_is_a_conflict(clinic) -> None:
    booking.book_slot(clinic, SlotKey("card-1", at(2, 9)), "user-a", None, caller=AGENT_CALLER)

    with pytest.raises(ConflictError):
        doctors.delete_doctor(clinic, "card-1", caller=ADMIN_CALLER)

    assert clinic.doctors.get("card-1").nombre == "Dra. Uno"


def test_deleting_a_doctor_removes_their_future_free_slots(clinic) -> None:
    doctors.delete_doctor(clinic, "card-2", caller=ADMIN_CALLER)

    with pytest.raises(NotFoundError):
        clinic.doctors.get("card-2")
    assert clinic.slots.list_range(SlotRange("card-2", at(1, 0), at(31, 0))).items == []


def test_created_doctors_get_an_id_when_none_is_given(storage) -> None:
    created = doctors.create_doctor(
        storage, {"nombre": "Dr. Sin Id", "especialidad": "Urología"}, caller=ADMIN_CALLER
    )

    assert created.doctor_id.startswith("doc-")
    assert storage.doctors.get(created.doctor_id) == created


def test_adding_slots_to_an_unknown_doctor_is_not_found(storage, frozen) -> None:
    with pytest.raises(NotFoundError):
        schedules.add_slots(storage, "ghost", [(at(2, 9), 30)], caller=ADMIN_CALLER)


def test_adding_past_slots_is_refused(clinic) -> None:
    with pytest.raises(InvalidRequestError):
        schedules.add_slots(clinic, "card-1", [(at(1, 7, 30), 30)], caller=ADMIN_CALLER)


def test_demo_data_loads_idempotently_and_is_removed_cleanly(storage, frozen) -> None:
    first = seed.load_demo(storage, "Europe/Madrid")
    second = seed.load_demo(storage, "Europe/Madrid")

    assert first.doctors == 12
    assert first.slots > 500
    assert (second.doctors, second.slots) == (0, 0)
    assert (second.present_doctors, second.present_slots) == (12, first.slots)
    especialidades = {d.especialidad for d in seed.DEMO_DOCTORS}
    assert len(especialidades) >= 6
    assert storage.doctors.list_by_specialty("cardiologia", limit=10).items
    some_slot = storage.slots.list_range(
        SlotRange("demo-cardio-1", at(1, 0), at(31, 0), limit=1)
    ).items[0]
    storage.slots.book(BookingRequest(some_slot.key, "user-a"), NOW)

    removed = seed.remove_demo(storage)

    assert removed.doctors == 12
    assert removed.slots == first.slots
    assert storage.doctors.list_by_specialty("cardiologia", limit=10).items == []
    assert seed.remove_demo(storage) == seed.SeedResult(0, 0)
