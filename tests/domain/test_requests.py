"""The parameter objects the repositories take: their defaults are what the long parameter lists
they replace defaulted to, and they are values (frozen), so a caller cannot change one in flight."""

from __future__ import annotations

import dataclasses

import pytest

from health_api.domain.models import SlotKey
from health_api.domain.requests import (
    BookingRequest,
    FreeSlotSearch,
    HoldRequest,
    SessionPatch,
    SlotRange,
    UserBookings,
)

KEY = SlotKey("doc-1", "2030-01-01T09:00:00Z")


def test_a_slot_range_asks_for_a_consistent_first_page_of_twenty_in_any_state() -> None:
    query = SlotRange("doc-1", "2030-01-01T00:00:00Z", "2030-01-31T00:00:00Z")

    assert (query.estado, query.limit, query.cursor, query.consistent) == (None, 20, None, True)


def test_a_users_bookings_are_asked_from_the_start_twenty_at_a_time() -> None:
    assert UserBookings("user-a") == UserBookings("user-a", desde=None, limit=20, cursor=None)


def test_a_free_slot_search_has_no_position_and_no_shared_budget_unless_given() -> None:
    search = FreeSlotSearch(["doc-1"], "2030-01-01T00:00:00Z", "2030-01-02T00:00:00Z", 5)

    assert (search.after, search.read_budget) == (None, None)


def test_a_booking_names_no_motivo_and_no_hold_unless_given() -> None:
    assert BookingRequest(KEY, "user-a") == BookingRequest(KEY, "user-a", None, hold_nonce=None)


def test_a_session_patch_slides_by_the_remembered_lifetime_unless_given_one() -> None:
    patch = SessionPatch({"paso": 1})

    assert (patch.ttl_seconds, patch.default_ttl) == (None, None)


@pytest.mark.parametrize(
    ("request_value", "field"),
    [
        (SlotRange("doc-1", "a", "b"), "limit"),
        (UserBookings("user-a"), "cursor"),
        (FreeSlotSearch(["doc-1"], "a", "b", 1), "after"),
        (HoldRequest(KEY, "user-a", "n1", "2030-01-01T08:05:00Z", 3), "max_per_user"),
        (BookingRequest(KEY, "user-a"), "hold_nonce"),
        (SessionPatch({}), "ttl_seconds"),
    ],
)
def test_a_request_cannot_be_changed_once_made(request_value, field: str) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(request_value, field, None)
