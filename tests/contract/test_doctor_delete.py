"""Deleting a doctor in bounded steps, on every engine: the mark, the guarded slot creation, the
conditional deletion of free future slots, and the service's 204 / 202 / 409 outcomes."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from freezegun import freeze_time

from health_api.domain.errors import ConflictError, DoctorDeletionStoppedError, NotFoundError
from health_api.domain.models import RESERVADO, Doctor, Slot, SlotKey
from health_api.domain.requests import BookingRequest, HoldRequest, SlotRange
from health_api.services import booking, doctors, schedules
from tests.callers import ADMIN_CALLER, AGENT_CALLER

NOW = "2026-12-01T08:00:00Z"
MARK = "2026-12-01T08:00:00Z a1b2c3d4"


def at(day: int, hour: int, minute: int = 0) -> str:
    return f"2026-12-{day:02d}T{hour:02d}:{minute:02d}:00Z"


def future_slots(count: int, day: int = 2) -> list[str]:
    """``count`` slot starts, 10 minutes apart from 00:00 of ``day`` (at most 144 a day)."""
    return [at(day + n // 144, (n % 144) // 6, 10 * (n % 6)) for n in range(count)]


@pytest.fixture
def frozen():
    with freeze_time(NOW) as frozen_time:
        yield frozen_time


@pytest.fixture
def clinic(storage):
    """Doctor ``doc-1`` with a past slot and five future ones; ``doc-2`` with one."""
    storage.doctors.create(Doctor("doc-1", "Dra. Uno", "Cardiología"))
    storage.doctors.create(Doctor("doc-2", "Dr. Dos", "Cardiología"))
    times = [at(1, 7), *future_slots(5)]
    storage.slots.add_many([Slot("doc-1", t) for t in times])
    storage.slots.add_many([Slot("doc-2", at(2, 9))])
    return storage


def remaining(storage, doctor_id: str = "doc-1") -> list[str]:
    page = storage.slots.list_range(SlotRange(doctor_id, at(1, 0), at(31, 0), limit=100))
    return [slot.fecha_hora for slot in page.items]


# --- the repositories ---------------------------------------------------------------------


def test_marking_keeps_the_first_mark_and_refuses_an_unknown_doctor(clinic) -> None:
    assert clinic.doctors.mark_deletion("doc-1", MARK) == MARK
    assert clinic.doctors.mark_deletion("doc-1", "a later mark") == MARK

    with pytest.raises(NotFoundError):
        clinic.doctors.mark_deletion("ghost", MARK)


def test_a_marked_doctor_still_reads_as_before(clinic) -> None:
    clinic.doctors.mark_deletion("doc-1", MARK)

    assert clinic.doctors.get("doc-1") == Doctor("doc-1", "Dra. Uno", "Cardiología")


def test_adding_slots_to_a_marked_doctor_is_a_conflict_and_adds_nothing(clinic) -> None:
    clinic.doctors.mark_deletion("doc-1", MARK)

    with pytest.raises(ConflictError, match="being deleted"):
        clinic.slots.add_for_doctor("doc-1", [Slot("doc-1", at(9, 9)), Slot("doc-1", at(9, 10))])

    assert at(9, 9) not in remaining(clinic)


def test_adding_slots_to_an_unknown_doctor_is_not_found(clinic) -> None:
    with pytest.raises(NotFoundError):
        clinic.slots.add_for_doctor("ghost", [Slot("ghost", at(9, 9))])

    assert remaining(clinic, "ghost") == []


def test_adding_slots_to_a_doctor_skips_existing_ones(clinic) -> None:
    existing = future_slots(1)[0]

    result = clinic.slots.add_for_doctor(
        "doc-1", [Slot("doc-1", existing), Slot("doc-1", at(9, 9))]
    )

    assert (result.created, result.skipped) == (1, 1)


def test_more_slots_than_one_transaction_holds_are_all_added(clinic) -> None:
    times = future_slots(150, day=10)

    result = clinic.slots.add_for_doctor("doc-2", [Slot("doc-2", t) for t in times])

    assert (result.created, result.skipped) == (150, 0)


def test_clearing_someone_elses_mark_changes_nothing(clinic) -> None:
    clinic.doctors.mark_deletion("doc-1", MARK)

    clinic.doctors.unmark_deletion("doc-1", "another deletion's mark")
    with pytest.raises(ConflictError):
        clinic.slots.add_for_doctor("doc-1", [Slot("doc-1", at(9, 9))])

    clinic.doctors.unmark_deletion("doc-1", MARK)
    assert clinic.slots.add_for_doctor("doc-1", [Slot("doc-1", at(9, 9))]).created == 1


def test_the_doctor_is_deleted_only_under_its_own_mark(clinic) -> None:
    clinic.doctors.mark_deletion("doc-1", MARK)

    with pytest.raises(ConflictError):
        clinic.doctors.delete("doc-1", mark="another deletion's mark")
    clinic.doctors.delete("doc-1", mark=MARK)

    with pytest.raises(NotFoundError):
        clinic.doctors.get("doc-1")
    with pytest.raises(NotFoundError):
        clinic.doctors.delete("doc-1", mark=MARK)


def test_reading_the_future_schedule_lists_free_slots_in_time_order(clinic) -> None:
    times = future_slots(5)

    future = clinic.slots.read_future("doc-1", NOW, NOW)

    assert (future.free, future.taken_at) == (times, None)  # the past slot is not in it


def test_reading_the_future_schedule_stops_at_a_booked_or_live_held_slot(clinic) -> None:
    times = future_slots(5)
    clinic.slots.hold(HoldRequest(SlotKey("doc-1", times[1]), "user-b", "n1", at(1, 8, 5), 3), NOW)
    clinic.slots.book(BookingRequest(SlotKey("doc-1", times[3]), "user-a"), NOW)

    held = clinic.slots.read_future("doc-1", NOW, NOW)
    after_the_hold = clinic.slots.read_future("doc-1", NOW, at(1, 8, 5))

    assert (held.free, held.taken_at) == (times[:1], times[1])
    assert (after_the_hold.free, after_the_hold.taken_at) == (times[:3], times[3])


def test_deleting_free_slots_removes_the_ones_named(clinic) -> None:
    times = future_slots(5)

    step = clinic.slots.delete_free("doc-1", times[:3], NOW)

    assert (step.removed, step.taken_at) == (3, None)
    assert remaining(clinic) == [at(1, 7), *times[3:]]
    assert remaining(clinic, "doc-2") == [at(2, 9)]


def test_deleting_free_slots_leaves_booked_and_live_held_ones(clinic) -> None:
    times = future_slots(5)
    clinic.slots.hold(HoldRequest(SlotKey("doc-1", times[4]), "user-b", "n1", at(1, 8, 5), 3), NOW)
    clinic.slots.book(BookingRequest(SlotKey("doc-1", times[2]), "user-a"), NOW)

    step = clinic.slots.delete_free("doc-1", times, NOW)

    assert (step.removed, step.taken_at) == (3, times[2])
    assert remaining(clinic) == [at(1, 7), times[2], times[4]]
    assert clinic.slots.get(SlotKey("doc-1", times[2])).estado == RESERVADO


def test_deleting_free_slots_takes_a_lapsed_hold_and_ignores_a_gone_slot(clinic) -> None:
    times = future_slots(5)
    clinic.slots.hold(HoldRequest(SlotKey("doc-1", times[0]), "user-b", "n1", at(1, 8, 5), 3), NOW)

    step = clinic.slots.delete_free("doc-1", [*times[:2], at(20, 0)], at(1, 8, 5))

    assert (step.removed, step.taken_at) == (2, None)
    assert remaining(clinic) == [at(1, 7), *times[2:]]


# --- the service --------------------------------------------------------------------------


def test_a_deletion_within_budget_removes_future_slots_then_the_doctor(clinic, frozen) -> None:
    result = doctors.delete_doctor(clinic, "doc-1", caller=ADMIN_CALLER)

    assert (result.done, result.removed) == (True, 5)
    with pytest.raises(NotFoundError):
        clinic.doctors.get("doc-1")
    assert remaining(clinic) == [at(1, 7)]  # history stays


def test_a_deletion_past_its_budget_is_unfinished_and_refuses_new_slots(clinic, frozen) -> None:
    first = doctors.delete_doctor(clinic, "doc-1", max_removed=2, caller=ADMIN_CALLER)

    assert (first.done, first.removed) == (False, 2)
    assert clinic.doctors.get("doc-1").nombre == "Dra. Uno"
    with pytest.raises(ConflictError, match="being deleted"):
        schedules.add_slots(clinic, "doc-1", [(at(9, 9), 30)], caller=ADMIN_CALLER)

    second = doctors.delete_doctor(clinic, "doc-1", max_removed=2, caller=ADMIN_CALLER)
    third = doctors.delete_doctor(clinic, "doc-1", max_removed=2, caller=ADMIN_CALLER)

    assert [(second.done, second.removed), (third.done, third.removed)] == [
        (False, 2),
        (True, 1),
    ]
    with pytest.raises(NotFoundError):
        clinic.doctors.get("doc-1")


def test_a_future_booking_is_a_conflict_that_changes_nothing(clinic, frozen) -> None:
    times = future_slots(5)
    booking.book_slot(clinic, SlotKey("doc-1", times[3]), "user-a", None, caller=AGENT_CALLER)

    with pytest.raises(DoctorDeletionStoppedError, match="cancel them first") as stopped:
        doctors.delete_doctor(clinic, "doc-1", caller=ADMIN_CALLER)

    assert stopped.value.slots_eliminados == 0
    assert remaining(clinic) == [at(1, 7), *times]
    assert clinic.doctors.get("doc-1").nombre == "Dra. Uno"
    # The mark is gone: the doctor takes slots again.
    assert schedules.add_slots(clinic, "doc-1", [(at(9, 9), 30)], caller=ADMIN_CALLER).created == 1


def test_a_live_hold_is_a_conflict_that_changes_nothing(clinic, frozen) -> None:
    times = future_slots(5)
    clinic.slots.hold(HoldRequest(SlotKey("doc-1", times[2]), "user-b", "n1", at(1, 8, 5), 3), NOW)

    with pytest.raises(DoctorDeletionStoppedError) as stopped:
        doctors.delete_doctor(clinic, "doc-1", caller=ADMIN_CALLER)

    assert stopped.value.slots_eliminados == 0
    assert remaining(clinic) == [at(1, 7), *times]
    assert clinic.slots.get(SlotKey("doc-1", times[2])).retenido_por == "user-b"


def test_a_lapsed_hold_does_not_stop_the_deletion(clinic, frozen) -> None:
    times = future_slots(5)
    clinic.slots.hold(HoldRequest(SlotKey("doc-1", times[2]), "user-b", "n1", at(1, 8, 5), 3), NOW)
    frozen.move_to(at(1, 8, 5))

    assert doctors.delete_doctor(clinic, "doc-1", caller=ADMIN_CALLER).done

    assert remaining(clinic) == [at(1, 7)]


def test_a_booking_landing_during_the_deletion_stops_it_and_says_what_it_removed(
    clinic, frozen
) -> None:
    times = future_slots(5)
    read_future = clinic.slots.read_future

    def read_then_a_booking_lands(doctor_id: str, desde: str, now: str):
        future = read_future(doctor_id, desde, now)
        clinic.slots.book(BookingRequest(SlotKey("doc-1", times[3]), "user-a"), NOW)
        return future

    clinic.slots.read_future = read_then_a_booking_lands

    with pytest.raises(DoctorDeletionStoppedError) as stopped:
        doctors.delete_doctor(clinic, "doc-1", caller=ADMIN_CALLER)

    assert stopped.value.slots_eliminados == 4
    assert remaining(clinic) == [at(1, 7), times[3]]
    assert clinic.slots.get(SlotKey("doc-1", times[3])).user_id == "user-a"
    assert schedules.add_slots(clinic, "doc-1", [(at(9, 9), 30)], caller=ADMIN_CALLER).created == 1


def test_a_booking_made_between_two_requests_of_a_deletion_stops_it(clinic, frozen) -> None:
    times = future_slots(5)
    assert not doctors.delete_doctor(clinic, "doc-1", max_removed=2, caller=ADMIN_CALLER).done
    booking.book_slot(clinic, SlotKey("doc-1", times[4]), "user-a", None, caller=AGENT_CALLER)

    with pytest.raises(DoctorDeletionStoppedError, match="earlier DELETEs") as stopped:
        doctors.delete_doctor(clinic, "doc-1", caller=ADMIN_CALLER)

    assert stopped.value.slots_eliminados == 0
    assert remaining(clinic) == [at(1, 7), times[2], times[3], times[4]]


def test_a_deletion_called_off_meanwhile_leaves_the_doctor(clinic, frozen) -> None:
    # Another DELETE met a booking and cleared the mark between this one's steps: slots may
    # have been added since, so this deletion must not delete the doctor item.
    marks: list[str] = []
    original = clinic.doctors.mark_deletion

    def mark_then_lose_it(doctor_id: str, mark: str) -> str:
        marks.append(original(doctor_id, mark))
        clinic.doctors.unmark_deletion(doctor_id, marks[-1])
        return marks[-1]

    clinic.doctors.mark_deletion = mark_then_lose_it

    result = doctors.delete_doctor(clinic, "doc-1", caller=ADMIN_CALLER)

    assert result.done is False
    assert clinic.doctors.get("doc-1").nombre == "Dra. Uno"


def test_an_unknown_doctor_is_not_found(storage, frozen) -> None:
    with pytest.raises(NotFoundError):
        doctors.delete_doctor(storage, "ghost", caller=ADMIN_CALLER)


def test_slots_that_became_past_between_two_requests_stay(clinic, frozen) -> None:
    times = future_slots(5)
    doctors.delete_doctor(clinic, "doc-1", max_removed=2, caller=ADMIN_CALLER)
    frozen.move_to(times[3])
    frozen.tick(timedelta(seconds=1))

    assert doctors.delete_doctor(clinic, "doc-1", caller=ADMIN_CALLER).done

    assert remaining(clinic) == [at(1, 7), times[2], times[3]]


def test_bookings_racing_a_deletion_leave_no_orphan_and_lose_no_booking(
    clinic, backend, frozen
) -> None:
    if backend == "moto":
        pytest.skip("in-process moto serialises nothing under threads; DynamoDB Local races")
    times = future_slots(60, day=3)
    clinic.slots.add_many([Slot("doc-2", t) for t in times])
    booked: list[str] = []
    start = threading.Barrier(4)

    def booker(offset: int) -> None:
        start.wait()
        for fecha_hora in times[offset::3]:
            try:
                clinic.slots.book(
                    BookingRequest(SlotKey("doc-2", fecha_hora), f"user-{offset}"), NOW
                )
            except NotFoundError:
                continue  # the deletion got there first
            booked.append(fecha_hora)

    threads = [threading.Thread(target=booker, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    start.wait()
    outcome = "unfinished"
    while outcome == "unfinished":
        try:
            done = doctors.delete_doctor(clinic, "doc-2", max_removed=5, caller=ADMIN_CALLER).done
        except ConflictError:
            outcome = "conflict"
        else:
            outcome = "done" if done else "unfinished"
    for thread in threads:
        thread.join()

    left = {
        slot.fecha_hora: slot
        for slot in clinic.slots.list_range(SlotRange("doc-2", NOW, at(31, 0), limit=100)).items
    }
    if outcome == "done":
        # Nobody's booking landed (a booked slot would have stopped it), and nothing is left.
        assert booked == []
        assert left == {}
        with pytest.raises(NotFoundError):
            clinic.doctors.get("doc-2")
    else:
        assert booked
        for fecha_hora in booked:
            assert left[fecha_hora].estado == RESERVADO
        assert clinic.doctors.get("doc-2").nombre == "Dr. Dos"
