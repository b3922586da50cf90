"""SlotRepository.list_free_of_doctors on both backends: the free slots of many doctors, merged."""

from __future__ import annotations

import pytest

from health_api.domain.errors import InvalidRequestError
from health_api.domain.models import BLOQUEADO, DISPONIBLE, Slot, SlotKey
from health_api.domain.requests import BookingRequest, FreeSlotSearch
from health_api.storage.base import FreeSlots

NOW = "2026-12-01T08:00:00Z"


def at(day: int, hour: int, minute: int = 0) -> str:
    return f"2026-12-{day:02d}T{hour:02d}:{minute:02d}:00Z"


def positions(found: FreeSlots) -> list[tuple[str, str]]:
    return [(s.fecha_hora, s.doctor_id) for s in found.slots]


def test_slots_of_several_doctors_merge_in_time_order_with_ties_by_doctor(storage) -> None:
    storage.slots.add_many([Slot("doc-b", at(1, 9)), Slot("doc-b", at(1, 11))])
    storage.slots.add_many([Slot("doc-a", at(1, 9)), Slot("doc-a", at(1, 10))])
    storage.slots.add_many([Slot("doc-c", at(1, 8)), Slot("doc-c", at(1, 9))])

    found = storage.slots.list_free_of_doctors(
        FreeSlotSearch(["doc-c", "doc-a", "doc-b"], at(1, 0), at(1, 23), 10)
    )

    assert positions(found) == [
        (at(1, 8), "doc-c"),
        (at(1, 9), "doc-a"),
        (at(1, 9), "doc-b"),
        (at(1, 9), "doc-c"),
        (at(1, 10), "doc-a"),
        (at(1, 11), "doc-b"),
    ]
    assert all(s.estado == DISPONIBLE and s.duracion_min == 30 for s in found.slots)


def test_only_free_slots_of_the_named_doctors_are_returned(storage) -> None:
    storage.slots.add_many([Slot("doc-a", at(1, h)) for h in (9, 10, 11)])
    storage.slots.add_many([Slot("doc-a", at(1, 12), estado=BLOQUEADO)])
    storage.slots.add_many([Slot("doc-other", at(1, 9))])
    storage.slots.book(BookingRequest(SlotKey("doc-a", at(1, 10)), "user-a"), NOW)

    found = storage.slots.list_free_of_doctors(FreeSlotSearch(["doc-a"], at(1, 0), at(1, 23), 10))

    assert positions(found) == [(at(1, 9), "doc-a"), (at(1, 11), "doc-a")]


def test_bounds_are_inclusive_at_both_ends(storage) -> None:
    storage.slots.add_many([Slot(d, at(1, h)) for d in ("doc-a", "doc-b") for h in (9, 10, 11, 12)])

    found = storage.slots.list_free_of_doctors(
        FreeSlotSearch(["doc-a", "doc-b"], at(1, 10), at(1, 11), 10)
    )

    assert positions(found) == [
        (at(1, 10), "doc-a"),
        (at(1, 10), "doc-b"),
        (at(1, 11), "doc-a"),
        (at(1, 11), "doc-b"),
    ]


def test_the_result_is_cut_at_limit_after_merging(storage) -> None:
    storage.slots.add_many([Slot("doc-a", at(1, h)) for h in range(8, 16)])
    storage.slots.add_many([Slot("doc-b", at(1, h, 30)) for h in range(8, 16)])

    found = storage.slots.list_free_of_doctors(
        FreeSlotSearch(["doc-a", "doc-b"], at(1, 0), at(1, 23), 3)
    )

    assert positions(found) == [(at(1, 8), "doc-a"), (at(1, 8, 30), "doc-b"), (at(1, 9), "doc-a")]


def test_after_resumes_strictly_past_a_position_within_its_instant(storage) -> None:
    storage.slots.add_many(
        [Slot(d, at(1, h)) for d in ("doc-a", "doc-b", "doc-c") for h in (9, 10)]
    )

    found = storage.slots.list_free_of_doctors(
        FreeSlotSearch(
            ["doc-a", "doc-b", "doc-c"], at(1, 9), at(1, 23), 3, after=(at(1, 9), "doc-b")
        )
    )

    assert positions(found) == [(at(1, 9), "doc-c"), (at(1, 10), "doc-a"), (at(1, 10), "doc-b")]


def test_after_past_desde_moves_the_start_to_it(storage) -> None:
    storage.slots.add_many([Slot(d, at(1, h)) for d in ("doc-a", "doc-b") for h in (9, 10, 11)])

    found = storage.slots.list_free_of_doctors(
        FreeSlotSearch(["doc-a", "doc-b"], at(1, 0), at(1, 23), 10, after=(at(1, 10), "doc-a"))
    )

    assert positions(found) == [(at(1, 10), "doc-b"), (at(1, 11), "doc-a"), (at(1, 11), "doc-b")]


def test_no_doctors_means_no_slots(storage) -> None:
    storage.slots.add_many([Slot("doc-a", at(1, 9))])

    assert (
        storage.slots.list_free_of_doctors(FreeSlotSearch([], at(1, 0), at(1, 23), 10)).slots == []
    )


def test_a_doctor_without_slots_adds_nothing(storage) -> None:
    storage.slots.add_many([Slot("doc-a", at(1, 9))])

    found = storage.slots.list_free_of_doctors(
        FreeSlotSearch(["doc-none", "doc-a"], at(1, 0), at(1, 23), 10)
    )

    assert positions(found) == [(at(1, 9), "doc-a")]


def test_a_doctor_named_twice_counts_once(storage) -> None:
    storage.slots.add_many([Slot("doc-a", at(1, 9))])

    found = storage.slots.list_free_of_doctors(
        FreeSlotSearch(["doc-a", "doc-a"], at(1, 0), at(1, 23), 10)
    )

    assert positions(found) == [(at(1, 9), "doc-a")]


def test_one_call_covers_two_hundred_doctors(storage) -> None:
    doctor_ids = [f"doc-{n:03d}" for n in range(200)]
    storage.slots.add_many([Slot(d, at(1, 9 + n % 3)) for n, d in enumerate(doctor_ids)])

    found = storage.slots.list_free_of_doctors(FreeSlotSearch(doctor_ids, at(1, 0), at(1, 23), 250))

    assert len(found.slots) == 200
    assert found.stopped_at is None
    assert positions(found) == sorted((at(1, 9 + n % 3), d) for n, d in enumerate(doctor_ids))


@pytest.mark.parametrize(
    ("desde", "hasta", "limit"), [(at(2, 0), at(1, 0), 5), (at(1, 0), at(2, 0), 0)]
)
def test_a_reversed_range_or_a_limit_below_one_is_an_invalid_request(
    storage, desde, hasta, limit
) -> None:
    with pytest.raises(InvalidRequestError):
        storage.slots.list_free_of_doctors(FreeSlotSearch(["doc-a"], desde, hasta, limit))
