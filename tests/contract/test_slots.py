"""SlotRepository contract (creation, ranges, paging, a user's appointments) on both backends."""

from __future__ import annotations

import pytest

from health_api.domain.errors import (
    ConflictError,
    InvalidCursorError,
    InvalidRequestError,
    NotFoundError,
)
from health_api.domain.models import BLOQUEADO, DISPONIBLE, RESERVADO, Slot, SlotKey
from health_api.domain.requests import BookingRequest, SlotRange, UserBookings

NOW = "2026-12-01T08:00:00Z"


def at(day: int, hour: int, minute: int = 0) -> str:
    return f"2026-12-{day:02d}T{hour:02d}:{minute:02d}:00Z"


def day_of_slots(storage, doctor_id: str = "doc-1", day: int = 1, count: int = 8) -> list[str]:
    times = [at(day, 9 + n // 2, 30 * (n % 2)) for n in range(count)]
    storage.slots.add_many([Slot(doctor_id, t, 30) for t in times])
    return times


def test_add_many_creates_slots_that_are_free(storage) -> None:
    result = storage.slots.add_many([Slot("doc-1", at(1, 9)), Slot("doc-1", at(1, 10), 45)])

    assert (result.created, result.skipped) == (2, 0)
    slot = storage.slots.get(SlotKey("doc-1", at(1, 10)))
    assert slot == Slot("doc-1", at(1, 10), 45, DISPONIBLE, None, None, None)


def test_add_many_skips_existing_slots_without_overwriting_them(storage) -> None:
    storage.slots.add_many([Slot("doc-1", at(1, 9), 30)])
    storage.slots.book(BookingRequest(SlotKey("doc-1", at(1, 9)), "user-a", "control"), NOW)

    result = storage.slots.add_many([Slot("doc-1", at(1, 9), 60), Slot("doc-1", at(1, 11))])

    assert (result.created, result.skipped) == (1, 1)
    kept = storage.slots.get(SlotKey("doc-1", at(1, 9)))
    assert (kept.estado, kept.user_id, kept.duracion_min) == (RESERVADO, "user-a", 30)


def test_add_many_handles_hundreds_of_slots(storage) -> None:
    slots = [Slot("doc-1", at(1 + n // 96, (n % 96) // 4, 15 * (n % 4)), 15) for n in range(300)]

    result = storage.slots.add_many(slots)
    again = storage.slots.add_many(slots)

    assert (result.created, result.skipped) == (300, 0)
    assert (again.created, again.skipped) == (0, 300)


def test_add_many_keeps_a_blocked_state(storage) -> None:
    storage.slots.add_many([Slot("doc-1", at(1, 9), estado=BLOQUEADO)])

    assert storage.slots.get(SlotKey("doc-1", at(1, 9))).estado == BLOQUEADO


def test_get_unknown_slot_is_not_found(storage) -> None:
    with pytest.raises(NotFoundError):
        storage.slots.get(SlotKey("doc-1", at(1, 9)))


def test_delete_a_free_slot(storage) -> None:
    storage.slots.add_many([Slot("doc-1", at(1, 9))])

    storage.slots.delete(SlotKey("doc-1", at(1, 9)))

    with pytest.raises(NotFoundError):
        storage.slots.get(SlotKey("doc-1", at(1, 9)))


def test_delete_refuses_a_booked_slot(storage) -> None:
    storage.slots.add_many([Slot("doc-1", at(1, 9))])
    storage.slots.book(BookingRequest(SlotKey("doc-1", at(1, 9)), "user-a"), NOW)

    with pytest.raises(ConflictError):
        storage.slots.delete(SlotKey("doc-1", at(1, 9)))

    assert storage.slots.get(SlotKey("doc-1", at(1, 9))).user_id == "user-a"


def test_delete_unknown_slot_is_not_found(storage) -> None:
    with pytest.raises(NotFoundError):
        storage.slots.delete(SlotKey("doc-1", at(1, 9)))


def test_range_is_inclusive_at_both_ends_and_in_time_order(storage) -> None:
    times = day_of_slots(storage)
    storage.slots.add_many([Slot("doc-2", at(1, 10))])

    page = storage.slots.list_range(SlotRange("doc-1", times[2], times[5], limit=50))

    assert [s.fecha_hora for s in page.items] == times[2:6]
    assert {s.doctor_id for s in page.items} == {"doc-1"}
    assert page.next_cursor is None


def test_range_with_equal_bounds_returns_that_one_slot(storage) -> None:
    times = day_of_slots(storage)

    page = storage.slots.list_range(SlotRange("doc-1", times[3], times[3]))

    assert [s.fecha_hora for s in page.items] == [times[3]]


def test_an_empty_range_is_an_empty_page(storage) -> None:
    day_of_slots(storage)

    page = storage.slots.list_range(SlotRange("doc-1", at(2, 0), at(2, 23)))

    assert page.items == []
    assert page.next_cursor is None


def test_a_reversed_range_is_an_invalid_request(storage) -> None:
    with pytest.raises(InvalidRequestError):
        storage.slots.list_range(SlotRange("doc-1", at(2, 0), at(1, 0)))


def test_range_filters_by_estado(storage) -> None:
    times = day_of_slots(storage)
    storage.slots.book(BookingRequest(SlotKey("doc-1", times[1]), "user-a"), NOW)
    storage.slots.book(BookingRequest(SlotKey("doc-1", times[4]), "user-b"), NOW)

    booked = storage.slots.list_range(SlotRange("doc-1", times[0], times[-1], estado=RESERVADO))
    free = storage.slots.list_range(
        SlotRange("doc-1", times[0], times[-1], estado=DISPONIBLE, limit=50)
    )

    assert [s.fecha_hora for s in booked.items] == [times[1], times[4]]
    assert len(free.items) == 6


def test_range_pages_cover_every_slot_once_in_order(storage) -> None:
    times = day_of_slots(storage, count=10)

    seen, cursor = [], None
    for _ in range(10):
        page = storage.slots.list_range(
            SlotRange("doc-1", times[0], times[-1], limit=3, cursor=cursor)
        )
        seen += [s.fecha_hora for s in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == times


def test_a_filtered_page_is_filled_up_to_the_limit(storage) -> None:
    times = day_of_slots(storage, count=12)
    for t in times[::3]:
        storage.slots.book(BookingRequest(SlotKey("doc-1", t), "user-a"), NOW)

    first = storage.slots.list_range(
        SlotRange("doc-1", times[0], times[-1], estado=RESERVADO, limit=3)
    )
    rest = storage.slots.list_range(
        SlotRange("doc-1", times[0], times[-1], estado=RESERVADO, limit=3, cursor=first.next_cursor)
    )

    assert [s.fecha_hora for s in first.items] == times[0:9:3]
    assert [s.fecha_hora for s in rest.items] == [times[9]]
    assert rest.next_cursor is None


def test_the_last_full_page_has_no_next_cursor(storage) -> None:
    times = day_of_slots(storage, count=4)

    page = storage.slots.list_range(SlotRange("doc-1", times[0], times[-1], limit=4))

    assert len(page.items) == 4
    assert page.next_cursor is None


def test_a_range_cursor_for_another_doctor_or_range_is_invalid(storage) -> None:
    times = day_of_slots(storage)
    cursor = storage.slots.list_range(SlotRange("doc-1", times[0], times[-1], limit=2)).next_cursor

    with pytest.raises(InvalidCursorError):
        storage.slots.list_range(SlotRange("doc-2", times[0], times[-1], limit=2, cursor=cursor))
    with pytest.raises(InvalidCursorError):
        storage.slots.list_range(SlotRange("doc-1", times[1], times[-1], limit=2, cursor=cursor))
    with pytest.raises(InvalidCursorError):
        storage.slots.list_for_user(UserBookings("user-a", limit=2, cursor=cursor))


def test_a_users_appointments_come_from_every_doctor_in_time_order(storage) -> None:
    storage.slots.add_many([Slot("doc-1", at(3, 9)), Slot("doc-2", at(1, 9))])
    storage.slots.add_many([Slot("doc-3", at(2, 9)), Slot("doc-3", at(2, 10))])
    for key in (SlotKey("doc-1", at(3, 9)), SlotKey("doc-2", at(1, 9)), SlotKey("doc-3", at(2, 9))):
        storage.slots.book(BookingRequest(key, "user-a"), NOW)
    storage.slots.book(BookingRequest(SlotKey("doc-3", at(2, 10)), "user-b"), NOW)

    page = storage.slots.list_for_user(UserBookings("user-a"))

    assert [(s.doctor_id, s.fecha_hora) for s in page.items] == [
        ("doc-2", at(1, 9)),
        ("doc-3", at(2, 9)),
        ("doc-1", at(3, 9)),
    ]
    assert all(s.user_id == "user-a" and s.estado == RESERVADO for s in page.items)


def test_a_users_appointments_start_at_desde_and_page(storage) -> None:
    times = day_of_slots(storage, count=6)
    for t in times:
        storage.slots.book(BookingRequest(SlotKey("doc-1", t), "user-a"), NOW)

    first = storage.slots.list_for_user(UserBookings("user-a", desde=times[1], limit=2))
    second = storage.slots.list_for_user(
        UserBookings("user-a", desde=times[1], limit=2, cursor=first.next_cursor)
    )
    third = storage.slots.list_for_user(
        UserBookings("user-a", desde=times[1], limit=2, cursor=second.next_cursor)
    )

    assert [s.fecha_hora for p in (first, second, third) for s in p.items] == times[1:]
    assert third.next_cursor is None


def test_a_cancelled_appointment_leaves_the_users_list(storage) -> None:
    times = day_of_slots(storage, count=2)
    for t in times:
        storage.slots.book(BookingRequest(SlotKey("doc-1", t), "user-a"), NOW)

    storage.slots.cancel(SlotKey("doc-1", times[0]), "user-a")

    assert [s.fecha_hora for s in storage.slots.list_for_user(UserBookings("user-a")).items] == [
        times[1]
    ]
