"""Booking, cancelling and rescheduling: conditional writes and one transaction, both backends."""

from __future__ import annotations

import pytest

from health_api.domain.errors import (
    NotFoundError,
    RescheduleError,
    SlotBlockedError,
    SlotTakenError,
)
from health_api.domain.models import BLOQUEADO, DISPONIBLE, RESERVADO, Slot, SlotKey
from health_api.domain.requests import BookingRequest, UserBookings

NOW = "2026-12-01T08:00:00Z"
LATER = "2026-12-01T08:05:00Z"
A = SlotKey("doc-1", "2026-12-02T09:00:00Z")
B = SlotKey("doc-2", "2026-12-03T10:30:00Z")
BLOCKED = SlotKey("doc-2", "2026-12-03T11:00:00Z")


@pytest.fixture
def slots(storage):
    storage.slots.add_many([Slot(A.doctor_id, A.fecha_hora), Slot(B.doctor_id, B.fecha_hora)])
    storage.slots.add_many([Slot(BLOCKED.doctor_id, BLOCKED.fecha_hora, estado=BLOQUEADO)])
    return storage.slots


def test_booking_a_free_slot_holds_it_for_the_user(slots) -> None:
    result = slots.book(BookingRequest(A, "user-a", "dolor de pecho"), NOW)

    assert result.created is True
    assert result.slot == Slot(
        A.doctor_id, A.fecha_hora, 30, RESERVADO, "user-a", "dolor de pecho", NOW
    )
    assert slots.get(A) == result.slot


def test_booking_without_motivo(slots) -> None:
    result = slots.book(BookingRequest(A, "user-a"), NOW)

    assert result.slot.motivo is None
    assert slots.get(A).motivo is None


def test_the_same_user_booking_again_gets_the_same_booking(slots) -> None:
    first = slots.book(BookingRequest(A, "user-a", "control"), NOW)

    again = slots.book(BookingRequest(A, "user-a", "otro motivo"), LATER)

    assert again.created is False
    assert again.slot == first.slot
    assert slots.get(A).reservado_en == NOW
    assert slots.get(A).motivo == "control"


def test_another_user_cannot_take_a_booked_slot(slots) -> None:
    slots.book(BookingRequest(A, "user-a"), NOW)

    with pytest.raises(SlotTakenError):
        slots.book(BookingRequest(A, "user-b"), LATER)

    assert slots.get(A).user_id == "user-a"


def test_a_blocked_slot_cannot_be_booked(slots) -> None:
    with pytest.raises(SlotBlockedError):
        slots.book(BookingRequest(BLOCKED, "user-a"), NOW)

    assert slots.get(BLOCKED).estado == BLOQUEADO


def test_booking_an_unknown_slot_is_not_found_and_creates_nothing(slots) -> None:
    ghost = SlotKey("doc-1", "2026-12-09T09:00:00Z")

    with pytest.raises(NotFoundError):
        slots.book(BookingRequest(ghost, "user-a"), NOW)

    with pytest.raises(NotFoundError):
        slots.get(ghost)


def test_cancel_frees_the_slot_and_forgets_the_booking(slots) -> None:
    slots.book(BookingRequest(A, "user-a", "control"), NOW)

    freed = slots.cancel(A, "user-a")

    assert freed == Slot(A.doctor_id, A.fecha_hora, 30, DISPONIBLE, None, None, None)
    assert slots.get(A) == freed
    assert slots.book(BookingRequest(A, "user-b"), LATER).created is True


def test_cancel_by_a_stranger_is_refused_and_changes_nothing(slots) -> None:
    booked = slots.book(BookingRequest(A, "user-a", "control"), NOW).slot

    with pytest.raises(SlotTakenError):
        slots.cancel(A, "user-b")

    assert slots.get(A) == booked


def test_cancelling_a_free_slot_again_succeeds_unchanged(slots) -> None:
    slots.book(BookingRequest(A, "user-a"), NOW)
    slots.cancel(A, "user-a")

    again = slots.cancel(A, "user-a")

    assert again.estado == DISPONIBLE


def test_cancel_of_an_unknown_slot_is_not_found(slots) -> None:
    with pytest.raises(NotFoundError):
        slots.cancel(SlotKey("doc-9", "2026-12-02T09:00:00Z"), "user-a")


def test_reschedule_moves_the_booking_and_keeps_the_motivo(slots) -> None:
    slots.book(BookingRequest(A, "user-a", "revisión"), NOW)

    moved = slots.reschedule("user-a", A, B, LATER)

    assert (moved.doctor_id, moved.fecha_hora) == (B.doctor_id, B.fecha_hora)
    assert (moved.estado, moved.user_id, moved.motivo) == (RESERVADO, "user-a", "revisión")
    assert slots.get(B) == moved
    assert slots.get(A).estado == DISPONIBLE
    assert slots.get(A).user_id is None
    assert [s.key for s in slots.list_for_user(UserBookings("user-a")).items] == [B]


def test_a_retried_reschedule_returns_the_new_slot_unchanged(slots) -> None:
    slots.book(BookingRequest(A, "user-a"), NOW)
    moved = slots.reschedule("user-a", A, B, LATER)

    again = slots.reschedule("user-a", A, B, "2026-12-01T09:00:00Z")

    assert again == moved
    assert slots.get(A).estado == DISPONIBLE


def _assert_unchanged(slots, before: dict) -> None:
    assert {key: slots.get(key) for key in before} == before


@pytest.mark.parametrize(
    ("arrange", "source", "target", "reason"),
    [
        (lambda s: None, SlotKey("doc-1", "2026-12-09T09:00:00Z"), B, "from_not_found"),
        (lambda s: None, A, B, "from_not_held"),
        (lambda s: s.book(BookingRequest(A, "user-b"), NOW), A, B, "from_not_held"),
        (
            lambda s: s.book(BookingRequest(A, "user-a"), NOW),
            A,
            SlotKey("doc-2", "2026-12-09T09:00:00Z"),
            "to_not_found",
        ),
        (
            lambda s: (
                s.book(BookingRequest(A, "user-a"), NOW),
                s.book(BookingRequest(B, "user-b"), NOW),
            ),
            A,
            B,
            "to_taken",
        ),
        (lambda s: s.book(BookingRequest(A, "user-a"), NOW), A, BLOCKED, "to_blocked"),
        (lambda s: s.book(BookingRequest(A, "user-a"), NOW), A, A, "same_slot"),
    ],
    ids=[
        "from-missing",
        "from-free",
        "from-other-user",
        "to-missing",
        "to-taken",
        "to-blocked",
        "same-slot",
    ],
)
def test_a_failed_reschedule_says_why_and_changes_nothing(
    slots, arrange, source, target, reason
) -> None:
    arrange(slots)
    before = {key: slots.get(key) for key in (A, B, BLOCKED)}

    with pytest.raises(RescheduleError) as caught:
        slots.reschedule("user-a", source, target, LATER)

    assert caught.value.reason == reason
    _assert_unchanged(slots, before)
