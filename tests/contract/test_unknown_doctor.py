"""An unknown doctor on every engine: adding, listing, holding, booking or cancelling its slots is
``DoctorNotFoundError`` (never an empty page, never "slot not found"), and telling it apart costs
a doctor read only when the slot operation found nothing."""

from __future__ import annotations

import pytest
from freezegun import freeze_time

from health_api.config import load_settings
from health_api.domain.errors import DoctorNotFoundError, NotFoundError, NotYourBookingError
from health_api.domain.models import Doctor, Slot, SlotKey
from health_api.services import booking, holds, schedules
from tests.callers import ADMIN_CALLER, AGENT_CALLER

NOW = "2026-12-01T08:00:00Z"
SLOT = "2026-12-02T09:00:00Z"
OTHER = "2026-12-02T10:00:00Z"
SECRET = b"s" * 32


@pytest.fixture
def clinic(storage):
    """``card-1`` with one free slot, the clock an hour before the day's first slot."""
    with freeze_time(NOW):
        storage.doctors.create(Doctor("card-1", "Dra. Uno", "Cardiología"))
        storage.slots.add_many([Slot("card-1", SLOT)])
        yield storage


@pytest.fixture
def doctor_reads(clinic, monkeypatch) -> list[str]:
    """The doctor ids read from now on."""
    reads: list[str] = []
    get = clinic.doctors.get

    def counted(doctor_id, *args, **kwargs):
        reads.append(doctor_id)
        return get(doctor_id, *args, **kwargs)

    monkeypatch.setattr(clinic.doctors, "get", counted)
    return reads


def unknown(fecha_hora: str = SLOT) -> SlotKey:
    return SlotKey("nadie", fecha_hora)


OPERATIONS = {
    "add": lambda store: schedules.add_slots(store, "nadie", [(SLOT, 30)], caller=ADMIN_CALLER),
    "list": lambda store: schedules.list_slots(
        store, "nadie", SLOT, OTHER, None, 20, None, caller=AGENT_CALLER
    ),
    "hold": lambda store: holds.hold_slot(
        store, SECRET, unknown(), "user-a", None, load_settings({}), caller=AGENT_CALLER
    ),
    "book": lambda store: booking.book_slot(store, unknown(), "user-a", None, caller=AGENT_CALLER),
    "cancel": lambda store: booking.cancel_booking(store, unknown(), "user-a", caller=AGENT_CALLER),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_slot_operation_on_an_unknown_doctor_is_doctor_not_found(clinic, operation) -> None:
    with pytest.raises(DoctorNotFoundError, match="nadie"):
        OPERATIONS[operation](clinic)


def test_an_unknown_slot_of_a_known_doctor_is_a_plain_not_found(clinic) -> None:
    key = SlotKey("card-1", OTHER)
    for operation in (
        lambda: booking.book_slot(clinic, key, "user-a", None, caller=AGENT_CALLER),
        lambda: booking.cancel_booking(clinic, key, "user-a", caller=AGENT_CALLER),
        lambda: holds.hold_slot(
            clinic, SECRET, key, "user-a", None, load_settings({}), caller=AGENT_CALLER
        ),
    ):
        with pytest.raises(NotFoundError) as caught:
            operation()
        assert not isinstance(caught.value, DoctorNotFoundError)


def test_a_known_doctors_empty_window_is_an_empty_page(clinic) -> None:
    page = schedules.list_slots(clinic, "card-1", OTHER, OTHER, None, 20, None, caller=AGENT_CALLER)

    assert (page.items, page.next_cursor) == ([], None)


def test_the_happy_path_reads_no_doctor(clinic, doctor_reads) -> None:
    key = SlotKey("card-1", SLOT)

    listed = schedules.list_slots(
        clinic, "card-1", SLOT, OTHER, None, 20, None, caller=AGENT_CALLER
    )
    booking.book_slot(clinic, key, "user-a", None, caller=AGENT_CALLER)
    booking.cancel_booking(clinic, key, "user-a", caller=AGENT_CALLER)

    assert [s.fecha_hora for s in listed.items] == [SLOT]
    assert doctor_reads == []


def test_cancelling_another_users_booking_is_not_your_booking_and_keeps_it(clinic) -> None:
    key = SlotKey("card-1", SLOT)
    booking.book_slot(clinic, key, "user-a", None, caller=AGENT_CALLER)

    with pytest.raises(NotYourBookingError):
        booking.cancel_booking(clinic, key, "user-b", caller=AGENT_CALLER)

    assert clinic.slots.get(key).user_id == "user-a"
