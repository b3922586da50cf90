"""Holds in storage, on every engine: take, expire, retake, the per-user limit, and how booking,
cancelling, deleting, rescheduling and every read treat a live or an expired hold."""

from __future__ import annotations

import pytest
from freezegun import freeze_time

from health_api.domain.errors import (
    AlreadyBookedError,
    ConflictError,
    HoldInvalidError,
    HoldLimitError,
    NotFoundError,
    RescheduleError,
    SlotBlockedError,
    SlotTakenError,
)
from health_api.domain.models import BLOQUEADO, DISPONIBLE, RESERVADO, RETENIDO, Slot, SlotKey
from health_api.domain.requests import (
    BookingRequest,
    FreeSlotSearch,
    HoldRequest,
    SlotRange,
    UserBookings,
)

NOW = "2026-12-01T08:00:00Z"
SOON = "2026-12-01T08:02:00Z"
EXPIRY = "2026-12-01T08:05:00Z"  # the holds' expiry in these tests
AFTER = "2026-12-01T08:06:00Z"  # past EXPIRY
LATER_EXPIRY = "2026-12-01T08:11:00Z"
A = SlotKey("doc-1", "2026-12-02T09:00:00Z")
B = SlotKey("doc-1", "2026-12-02T09:30:00Z")
C = SlotKey("doc-1", "2026-12-02T10:00:00Z")
D = SlotKey("doc-1", "2026-12-02T10:30:00Z")
BLOCKED = SlotKey("doc-1", "2026-12-02T11:00:00Z")
DAY = ("2026-12-02T00:00:00Z", "2026-12-02T23:59:59Z")


@pytest.fixture
def slots(storage):
    storage.slots.add_many([Slot(k.doctor_id, k.fecha_hora) for k in (A, B, C, D)])
    storage.slots.add_many([Slot(BLOCKED.doctor_id, BLOCKED.fecha_hora, estado=BLOQUEADO)])
    return storage.slots


def hold(slots, key, user="user-a", nonce="n1", expires=EXPIRY, now=NOW, limit=3):
    return slots.hold(HoldRequest(key, user, nonce, expires, limit), now)


def test_holding_a_free_slot_keeps_it_for_the_user_until_it_expires(slots) -> None:
    result = hold(slots, A)

    assert result.created is True
    assert (result.hold.user_id, result.hold.nonce, result.hold.expires_at) == (
        "user-a",
        "n1",
        EXPIRY,
    )
    stored = slots.get(A, now=SOON)
    assert (stored.estado, stored.retenido_por, stored.retenido_hasta) == (
        RETENIDO,
        "user-a",
        EXPIRY,
    )
    assert stored.user_id is None  # the holder never goes into user_id (user_id-index)
    assert slots.get_hold(A, "n1", SOON).user_id == "user-a"


def test_the_same_user_holding_again_gets_the_same_hold_unchanged(slots) -> None:
    first = hold(slots, A)

    again = hold(slots, A, nonce="n2", expires=LATER_EXPIRY, now=SOON)

    assert again.created is False
    assert again.hold == first.hold
    assert slots.get(A, now=SOON).retenido_hasta == EXPIRY


def test_a_live_hold_of_another_user_makes_the_slot_taken(slots) -> None:
    hold(slots, A)

    with pytest.raises(SlotTakenError):
        hold(slots, A, user="user-b", nonce="n2", now=SOON)
    with pytest.raises(SlotTakenError):
        slots.book(BookingRequest(A, "user-b"), SOON)


def test_after_expiry_another_user_holds_or_books_the_slot(slots) -> None:
    hold(slots, A)
    hold(slots, B)

    taken = hold(slots, A, user="user-b", nonce="n2", expires=LATER_EXPIRY, now=AFTER)
    booked = slots.book(BookingRequest(B, "user-b", "control"), AFTER)

    assert taken.created is True
    assert taken.hold.user_id == "user-b"
    assert booked.created is True
    assert booked.slot.estado == RESERVADO
    assert booked.slot.retenido_por is None


def test_the_same_user_after_expiry_gets_a_new_hold(slots) -> None:
    hold(slots, A)

    renewed = hold(slots, A, nonce="n2", expires=LATER_EXPIRY, now=AFTER)

    assert renewed.created is True
    assert (renewed.hold.nonce, renewed.hold.expires_at) == ("n2", LATER_EXPIRY)
    with pytest.raises(NotFoundError):
        slots.get_hold(A, "n1", AFTER)


def test_holding_refuses_missing_blocked_and_booked_slots(slots) -> None:
    slots.book(BookingRequest(B, "user-a"), NOW)
    slots.book(BookingRequest(C, "user-b"), NOW)

    with pytest.raises(NotFoundError):
        hold(slots, SlotKey("doc-1", "2026-12-09T09:00:00Z"))
    with pytest.raises(SlotBlockedError):
        hold(slots, BLOCKED)
    with pytest.raises(AlreadyBookedError):
        hold(slots, B)
    with pytest.raises(SlotTakenError):
        hold(slots, C)


def test_a_user_holds_at_most_the_limit_and_a_repeat_does_not_count(slots) -> None:
    hold(slots, A, nonce="na", limit=2)
    hold(slots, B, nonce="nb", limit=2)

    assert hold(slots, A, nonce="nx", limit=2).created is False
    with pytest.raises(HoldLimitError):
        hold(slots, C, nonce="nc", limit=2)
    assert hold(slots, C, user="user-b", nonce="nc", limit=2).created is True


@pytest.mark.parametrize("freeing", ["release", "consume", "consume_with_nonce", "expire"])
def test_a_released_consumed_or_expired_hold_frees_its_place(slots, freeing) -> None:
    hold(slots, A, nonce="na", limit=2)
    hold(slots, B, nonce="nb", limit=2)
    now = SOON
    if freeing == "release":
        slots.release_hold(A, "na", SOON)
        assert slots.get(A, now=SOON).estado == DISPONIBLE
    elif freeing == "consume":
        slots.book(BookingRequest(A, "user-a"), SOON)
    elif freeing == "consume_with_nonce":
        slots.book(BookingRequest(A, "user-a", hold_nonce="na"), SOON)
    else:
        hold(slots, B, nonce="nb2", expires=LATER_EXPIRY, now=AFTER, limit=2)  # renewed
        now = AFTER

    result = hold(slots, C, nonce="nc", expires=LATER_EXPIRY, now=now, limit=2)

    assert result.created is True
    with pytest.raises(HoldLimitError):
        hold(slots, D, nonce="nd", expires=LATER_EXPIRY, now=now, limit=2)


def test_releasing_is_idempotent_and_only_clears_its_own_hold(slots) -> None:
    hold(slots, A)

    slots.release_hold(A, "other-nonce", SOON)
    assert slots.get(A, now=SOON).estado == RETENIDO
    slots.release_hold(A, "n1", SOON)
    slots.release_hold(A, "n1", SOON)

    assert slots.get(A, now=SOON).estado == DISPONIBLE
    with pytest.raises(NotFoundError):
        slots.get_hold(A, "n1", SOON)


def test_get_hold_is_not_found_for_a_wrong_nonce_or_an_expired_hold(slots) -> None:
    hold(slots, A)

    with pytest.raises(NotFoundError):
        slots.get_hold(A, "n2", SOON)
    with pytest.raises(NotFoundError):
        slots.get_hold(A, "n1", EXPIRY)
    with pytest.raises(NotFoundError):
        slots.get_hold(B, "n1", SOON)


@pytest.mark.parametrize("nonce", [None, "n1"])
def test_booking_by_the_holder_consumes_the_hold(slots, nonce) -> None:
    hold(slots, A)

    result = slots.book(BookingRequest(A, "user-a", "control", hold_nonce=nonce), SOON)

    assert result.created is True
    assert (result.slot.estado, result.slot.user_id, result.slot.motivo) == (
        RESERVADO,
        "user-a",
        "control",
    )
    assert result.slot.retenido_por is None
    assert slots.get(A, now=SOON) == result.slot
    with pytest.raises(NotFoundError):
        slots.get_hold(A, "n1", SOON)


def test_booking_with_a_wrong_expired_or_foreign_nonce_is_hold_invalid(slots) -> None:
    hold(slots, A)
    hold(slots, B, user="user-b", nonce="nb")

    with pytest.raises(HoldInvalidError):
        slots.book(BookingRequest(A, "user-a", hold_nonce="wrong"), SOON)
    with pytest.raises(HoldInvalidError):
        slots.book(BookingRequest(A, "user-a", hold_nonce="n1"), AFTER)
    with pytest.raises(HoldInvalidError):
        slots.book(BookingRequest(B, "user-a", hold_nonce="nb"), SOON)
    with pytest.raises(HoldInvalidError):
        slots.book(BookingRequest(C, "user-a", hold_nonce="n1"), SOON)


def test_a_slot_booked_by_this_user_answers_the_booking_whatever_the_nonce(slots) -> None:
    hold(slots, A)
    first = slots.book(BookingRequest(A, "user-a", "control", hold_nonce="n1"), SOON)

    again = slots.book(BookingRequest(A, "user-a", "control", hold_nonce="n1"), AFTER)
    other = slots.book(BookingRequest(A, "user-a", hold_nonce="anything"), AFTER)

    assert again.created is False
    assert other.created is False
    assert again.slot == first.slot == other.slot


def test_cancel_respects_a_live_hold_of_another_user(slots) -> None:
    hold(slots, A)

    with pytest.raises(SlotTakenError):
        slots.cancel(A, "user-b", SOON)
    assert slots.get(A, now=SOON).estado == RETENIDO
    assert slots.cancel(A, "user-b", AFTER).estado == DISPONIBLE  # expired: nothing to undo


def test_cancel_by_the_holder_releases_the_hold_and_its_place(slots) -> None:
    hold(slots, A, limit=1)

    freed = slots.cancel(A, "user-a", SOON)

    assert freed.estado == DISPONIBLE
    assert freed.retenido_por is None
    assert hold(slots, B, nonce="nb", now=SOON, limit=1).created is True


def test_delete_refuses_a_live_hold_but_not_an_expired_one(slots) -> None:
    hold(slots, A)

    with pytest.raises(ConflictError):
        slots.delete(A, SOON)
    slots.delete(A, AFTER)

    with pytest.raises(NotFoundError):
        slots.get(A, now=AFTER)


def test_reschedule_onto_a_slot_the_user_holds_consumes_the_hold(slots) -> None:
    slots.book(BookingRequest(A, "user-a", "control"), NOW)
    hold(slots, B, nonce="nb", limit=1)

    moved = slots.reschedule("user-a", A, B, SOON)

    assert (moved.fecha_hora, moved.estado, moved.user_id, moved.motivo) == (
        B.fecha_hora,
        RESERVADO,
        "user-a",
        "control",
    )
    assert slots.get(B, now=SOON).retenido_por is None
    assert slots.get(A, now=SOON).estado == DISPONIBLE
    assert hold(slots, C, nonce="nc", now=SOON, limit=1).created is True


def test_reschedule_onto_a_slot_another_user_holds_is_taken_until_it_expires(slots) -> None:
    slots.book(BookingRequest(A, "user-a", "control"), NOW)
    hold(slots, B, user="user-b", nonce="nb")

    with pytest.raises(RescheduleError) as refused:
        slots.reschedule("user-a", A, B, SOON)
    assert refused.value.reason == "to_taken"

    assert slots.reschedule("user-a", A, B, AFTER).user_id == "user-a"


def test_listings_show_live_holds_and_treat_expired_ones_as_disponible(slots) -> None:
    hold(slots, A)
    hold(slots, B, user="user-b", nonce="nb", expires=LATER_EXPIRY)
    slots.book(BookingRequest(C, "user-c"), NOW)

    def estados(page):
        return [(s.fecha_hora, s.estado) for s in page.items]

    with freeze_time(SOON):
        free = slots.list_range(SlotRange("doc-1", *DAY, estado=DISPONIBLE))
        held = slots.list_range(SlotRange("doc-1", *DAY, estado=RETENIDO))
        everything = slots.list_range(SlotRange("doc-1", *DAY))
    assert [s.fecha_hora for s in free.items] == [D.fecha_hora]
    assert [s.fecha_hora for s in held.items] == [A.fecha_hora, B.fecha_hora]
    assert estados(everything)[:2] == [(A.fecha_hora, RETENIDO), (B.fecha_hora, RETENIDO)]

    with freeze_time(AFTER):
        free = slots.list_range(SlotRange("doc-1", *DAY, estado=DISPONIBLE))
        held = slots.list_range(SlotRange("doc-1", *DAY, estado=RETENIDO))
        first = slots.get(A)
    assert [s.fecha_hora for s in free.items] == [A.fecha_hora, D.fecha_hora]
    assert all(s.retenido_por is None for s in free.items)
    assert [s.fecha_hora for s in held.items] == [B.fecha_hora]
    assert (first.estado, first.retenido_hasta) == (DISPONIBLE, None)


def test_availability_treats_expired_holds_as_free_and_live_ones_as_not(slots) -> None:
    hold(slots, A)

    live = slots.list_free_of_doctors(FreeSlotSearch(["doc-1"], *DAY, 10), now=SOON)
    with freeze_time(AFTER):
        expired = slots.list_free_of_doctors(FreeSlotSearch(["doc-1"], *DAY, 10))

    assert [s.fecha_hora for s in live.slots] == [B.fecha_hora, C.fecha_hora, D.fecha_hora]
    assert expired.slots[0].fecha_hora == A.fecha_hora
    assert expired.slots[0].estado == DISPONIBLE


def test_a_user_s_appointments_never_list_holds(slots) -> None:
    hold(slots, A)
    slots.book(BookingRequest(B, "user-a"), NOW)

    with freeze_time(SOON):
        live = slots.list_for_user(UserBookings("user-a"))
    expired = slots.list_for_user(UserBookings("user-a"), now=AFTER)

    assert [s.fecha_hora for s in live.items] == [B.fecha_hora]
    assert [s.fecha_hora for s in expired.items] == [B.fecha_hora]
