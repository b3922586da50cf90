"""Bounded reads on every engine: a filtered read stops at its per-request read budget and hands
back a cursor from where it stopped, and paging to the end still sees every slot exactly once.

The budget is lowered to a few items here so the stop happens in small data. DynamoDB stops
(a short or empty page with ``next_cursor`` set, as API.md's paging rule allows); SQLite reads
only matching rows and never needs to, but must page the same.
"""

from __future__ import annotations

import pytest
from freezegun import freeze_time

from health_api.domain.models import BLOQUEADO, DISPONIBLE, Doctor, Slot
from health_api.domain.requests import FreeSlotSearch, SlotRange
from health_api.services import availability
from health_api.storage.dynamodb import bounded
from tests.callers import AGENT_CALLER

NOW = "2026-12-01T06:00:00Z"
BUDGET = 3


@pytest.fixture(autouse=True)
def small_budget(monkeypatch):
    monkeypatch.setattr(bounded, "READ_BUDGET", BUDGET)


def at(day: int, hour: int, minute: int = 0) -> str:
    return f"2026-12-{day:02d}T{hour:02d}:{minute:02d}:00Z"


def test_a_filtered_listing_pages_to_the_end_seeing_each_match_once(storage, backend) -> None:
    times = [at(1 + n // 10, 8 + n % 10) for n in range(30)]
    free = set(times[::7])
    storage.slots.add_many(
        [Slot("doc-a", t, estado=DISPONIBLE if t in free else BLOQUEADO) for t in times]
    )
    pages, cursor = [], None
    while True:
        page = storage.slots.list_range(
            SlotRange("doc-a", at(1, 0), at(3, 23), estado=DISPONIBLE, limit=2, cursor=cursor)
        )
        pages.append(page)
        cursor = page.next_cursor
        if cursor is None:
            break

    seen = [s.fecha_hora for p in pages for s in p.items]
    assert seen == sorted(free)
    if backend != "sqlite":
        # Short pages whose cursor goes on: the read stopped at its budget, not at the end.
        assert any(len(p.items) < 2 and p.next_cursor for p in pages)
        assert len(pages) >= len(times) // BUDGET


def test_a_doctor_whose_read_stopped_holds_the_merge_at_that_instant(storage, backend) -> None:
    # doc-a: blocked slots at 8:00..13:00, then free ones; doc-b: free every hour.
    storage.slots.add_many([Slot("doc-a", at(1, h), estado=BLOQUEADO) for h in range(8, 14)])
    storage.slots.add_many([Slot("doc-a", at(1, h, 30)) for h in range(14, 17)])
    storage.slots.add_many([Slot("doc-b", at(1, h)) for h in range(8, 17)])

    found = storage.slots.list_free_of_doctors(
        FreeSlotSearch(["doc-a", "doc-b"], at(1, 0), at(1, 23), 5)
    )

    if backend == "sqlite":
        assert found.stopped_at is None
        assert len(found.slots) == 5
    else:
        # doc-a's read stopped at 10:00 (3 items read): nothing after it may be returned.
        assert found.stopped_at == (at(1, 10), "doc-a")
        assert [(s.fecha_hora, s.doctor_id) for s in found.slots] == [
            (at(1, 8), "doc-b"),
            (at(1, 9), "doc-b"),
        ]


def test_free_slots_resumed_from_where_reads_stopped_cover_everything_once(storage) -> None:
    storage.slots.add_many([Slot("doc-a", at(1, h), estado=BLOQUEADO) for h in range(8, 20)])
    storage.slots.add_many([Slot("doc-a", at(1, h, 30)) for h in range(8, 20, 3)])
    storage.slots.add_many([Slot("doc-b", at(1, h)) for h in range(8, 20)])
    storage.slots.add_many([Slot("doc-c", at(1, h, 30), estado=BLOQUEADO) for h in range(8, 20)])
    expected = sorted(
        [(at(1, h, 30), "doc-a") for h in range(8, 20, 3)]
        + [(at(1, h), "doc-b") for h in range(8, 20)]
    )
    seen, after = [], None
    for _ in range(100):
        found = storage.slots.list_free_of_doctors(
            FreeSlotSearch(["doc-a", "doc-b", "doc-c"], at(1, 0), at(1, 23), 4, after=after)
        )
        seen += [(s.fecha_hora, s.doctor_id) for s in found.slots]
        if found.stopped_at is not None:
            assert all((s.fecha_hora, s.doctor_id) <= found.stopped_at for s in found.slots)
            after = found.stopped_at
        elif len(found.slots) == 4:
            after = seen[-1]
        else:
            break

    assert seen == expected


@pytest.fixture
def clinic(storage):
    with freeze_time(NOW):
        storage.doctors.create(Doctor("card-1", "Dra. Uno", "Cardiología"))
        storage.doctors.create(Doctor("card-2", "Dr. Dos", "Cardiología"))
        storage.doctors.create(Doctor("card-3", "Dra. Tres", "Cardiología"))
        # card-1 is mostly booked up: its reads hit the budget long before its free slots.
        storage.slots.add_many([Slot("card-1", at(1, h), estado=BLOQUEADO) for h in range(8, 20)])
        storage.slots.add_many([Slot("card-1", at(2, h)) for h in range(8, 12)])
        storage.slots.add_many([Slot("card-2", at(d, h, 30)) for d in (1, 2) for h in (9, 15)])
        storage.slots.add_many([Slot("card-3", at(1, h, 15)) for h in range(8, 20, 2)])
        yield storage


def test_availability_paged_to_the_end_sees_every_free_slot_once_in_order(clinic, backend) -> None:
    expected = sorted(
        [(at(2, h), "card-1") for h in range(8, 12)]
        + [(at(d, h, 30), "card-2") for d in (1, 2) for h in (9, 15)]
        + [(at(1, h, 15), "card-3") for h in range(8, 20, 2)]
    )
    pages, cursor = [], None
    with freeze_time(NOW):
        for _ in range(100):
            page = availability.find_availability(
                clinic, "cardiologia", at(1, 0), at(3, 0), 3, cursor, caller=AGENT_CALLER
            )
            pages.append(page)
            cursor = page.next_cursor
            if cursor is None:
                break

    seen = [(f.slot.fecha_hora, f.slot.doctor_id) for p in pages for f in p.items]
    assert seen == expected
    if backend != "sqlite":
        assert any(len(p.items) < 3 and p.next_cursor for p in pages)
