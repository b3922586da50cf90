"""Availability over more doctors than one request reads, on every engine: doctors come a group
of ``MAX_DOCTORS`` at a time (by ``doctor_id``), each group's free slots in time order, and the
cursor goes on to the next group, so every free slot of every doctor is reached by paging, once.

The group size and read budget are lowered here so that the groups show in small data; one test
runs the real size with 201 doctors.
"""

from __future__ import annotations

import pytest
from freezegun import freeze_time

from health_api.domain.errors import InvalidCursorError
from health_api.domain.models import BLOQUEADO, Doctor, Slot
from health_api.schemas.common import MAX_CURSOR_LENGTH
from health_api.services import availability
from health_api.signing import sign_cursor
from health_api.storage import cursor as cursors
from tests.callers import AGENT_CALLER

NOW = "2026-12-01T06:00:00Z"
GROUP = 3


def at(day: int, hour: int, minute: int = 0) -> str:
    return f"2026-12-{day:02d}T{hour:02d}:{minute:02d}:00Z"


def page_to_the_end(storage, limit: int) -> tuple[list[tuple[str, str]], list]:
    """Every page of cardiology's availability in the first three days: what they showed."""
    pages, cursor = [], None
    with freeze_time(NOW):
        for _ in range(500):
            page = availability.find_availability(
                storage, "cardiologia", at(1, 0), at(3, 23), limit, cursor, caller=AGENT_CALLER
            )
            pages.append(page)
            cursor = page.next_cursor
            if cursor is None:
                break
    return [(f.slot.fecha_hora, f.slot.doctor_id) for p in pages for f in p.items], pages


@pytest.fixture
def clinic(storage):
    """Seven cardiologists whose free slots interleave in time (doc-6 has the earliest), some
    blocked slots between, and a doctor of another specialty."""
    for n in range(7):
        storage.doctors.create(Doctor(f"doc-{n}", f"Dr. {n}", "Cardiología"))
        free = [Slot(f"doc-{n}", at(1 + n % 3, 20 - 2 * n)), Slot(f"doc-{n}", at(2, 8, 5 * n))]
        blocked = [Slot(f"doc-{n}", at(1, 7, m), estado=BLOQUEADO) for m in range(0, 50, 10)]
        storage.slots.add_many(free + blocked)
    storage.doctors.create(Doctor("derm-1", "Dra. Piel", "Dermatología"))
    storage.slots.add_many([Slot("derm-1", at(1, 9))])
    return storage


def expected_order(group: int) -> list[tuple[str, str]]:
    """By group of ``group`` doctors (in doctor_id order), then by time (ties by doctor)."""
    doctors = [f"doc-{n}" for n in range(7)]
    order = []
    for first in range(0, len(doctors), group):
        members = doctors[first : first + group]
        slots = [
            (t, d)
            for d in members
            for t in (at(1 + int(d[-1]) % 3, 20 - 2 * int(d[-1])), at(2, 8, 5 * int(d[-1])))
        ]
        order += sorted(slots)
    return order


@pytest.mark.parametrize("limit", [1, 2, 5, 100])
def test_paging_reaches_every_doctor_beyond_the_group_in_group_then_time_order(
    clinic, monkeypatch, limit
) -> None:
    monkeypatch.setattr(availability, "MAX_DOCTORS", GROUP)

    seen, _pages = page_to_the_end(clinic, limit)

    assert seen == expected_order(GROUP)


def test_a_small_read_budget_still_reaches_every_slot_once(clinic, monkeypatch, backend) -> None:
    monkeypatch.setattr(availability, "MAX_DOCTORS", GROUP)
    monkeypatch.setattr(availability, "READ_BUDGET", GROUP * 2)  # two items per doctor

    seen, pages = page_to_the_end(clinic, 4)

    assert seen == expected_order(GROUP)
    if backend != "sqlite":
        # The budget stopped reads: short pages whose cursor goes on.
        assert any(len(p.items) < 4 and p.next_cursor for p in pages[:-1])


def test_one_request_reads_one_group_of_doctors(clinic, monkeypatch) -> None:
    monkeypatch.setattr(availability, "MAX_DOCTORS", GROUP)
    listed = clinic.doctors.list_by_specialty
    read: list[int] = []

    def counted(especialidad, limit, cursor=None):
        page = listed(especialidad, limit, cursor)
        read.append(len(page.items))
        return page

    monkeypatch.setattr(clinic.doctors, "list_by_specialty", counted)
    cursor = None
    with freeze_time(NOW):
        for _ in range(50):
            read.clear()
            page = availability.find_availability(
                clinic, "cardiologia", at(1, 0), at(3, 23), 100, cursor, caller=AGENT_CALLER
            )
            assert sum(read) <= GROUP
            cursor = page.next_cursor
            if cursor is None:
                break
    assert cursor is None


def test_a_group_cursor_belongs_to_its_query_and_must_be_whole(clinic, monkeypatch) -> None:
    monkeypatch.setattr(availability, "MAX_DOCTORS", GROUP)
    with freeze_time(NOW):
        first = availability.find_availability(
            clinic, "cardiologia", at(1, 0), at(3, 23), 100, caller=AGENT_CALLER
        )
        query = cursors.fingerprint("availability", "cardiologia", at(1, 0), at(3, 23))
        half = cursors.encode(query, {"fecha_hora": at(1, 9)})

        with pytest.raises(InvalidCursorError):
            availability.find_availability(
                clinic,
                "cardiologia",
                at(1, 0),
                at(3, 22),
                100,
                first.next_cursor,
                caller=AGENT_CALLER,
            )
        with pytest.raises(InvalidCursorError):
            availability.find_availability(
                clinic, "cardiologia", at(1, 0), at(3, 23), 100, half, caller=AGENT_CALLER
            )

    assert first.next_cursor is not None


def test_a_specialty_of_201_doctors_shows_the_201st(storage) -> None:
    for n in range(201):
        storage.doctors.create(Doctor(f"doc-{n:03d}", f"Dr. {n}", "Cardiología"))
    storage.slots.add_many([Slot("doc-200", at(1, 9)), Slot("doc-000", at(1, 10))])

    seen, pages = page_to_the_end(storage, 20)

    assert seen == [(at(1, 10), "doc-000"), (at(1, 9), "doc-200")]
    assert len(pages) == 2  # a group a request


def test_the_longest_group_cursor_fits_the_cursor_limit(storage, monkeypatch) -> None:
    monkeypatch.setattr(availability, "MAX_DOCTORS", 1)
    # The longest ids stored before v1.2's ASCII rule: 128 letters of four UTF-8 bytes each.
    wide = ["\U0001d49c" * 127 + letter for letter in ("a", "b", "c")]
    for doctor_id in wide:
        storage.doctors.create(Doctor(doctor_id, "Dr. Ancho", "Cardiología"))
        storage.slots.add_many([Slot(doctor_id, at(1, 9)), Slot(doctor_id, at(1, 10))])
    with freeze_time(NOW):
        cursor = None
        for _ in range(3):  # into the second group's first page
            cursor = availability.find_availability(
                storage, "cardiologia", at(1, 0), at(3, 23), 1, cursor, caller=AGENT_CALLER
            ).next_cursor

    assert len(sign_cursor(b"k" * 32, cursor)) <= MAX_CURSOR_LENGTH
