"""The slot's state machine by table, with no storage at all: every stored state x every action.

Each table names, for each stored state (``states.STATE_NAMES``), what the action answers: a
``Write`` under which precondition with which changes, a ``Keep`` (of the slot as stored, or as it
is at now), or which error. Every row runs for a slot in the future and one in the past: the
answer is the same, since the past is refused by ``require_future`` before storage is asked.
"""

from __future__ import annotations

import pytest

from health_api.domain import slots as rules
from health_api.domain.errors import (
    AlreadyBookedError,
    HoldInvalidError,
    NotFoundError,
    RescheduleError,
    SlotBlockedError,
    SlotTakenError,
)
from tests.domain.outcomes import (
    BOOKED_BY,
    CARRIES_HOLD,
    FREE,
    HELD_LIVE_BY,
    NOTHING,
    Keeps,
    KeepsTarget,
    Moves,
    Raises,
    Writes,
    check,
    rows,
)
from tests.domain.states import (
    EXPIRY,
    MOTIVO,
    NEW_NONCE,
    NOW,
    OTHER_NONCE,
    OTHER_TIME,
    STATE_NAMES,
    USER,
    USER_NONCE,
    WRONG_NONCE,
    state,
)

HOLD = {
    "missing": Raises(NotFoundError),
    "free": Writes(FREE, "hold"),
    "held live by the user": Keeps(),  # a repeat never counts twice
    "held live by another": Raises(SlotTakenError),
    "held lapsed by the user": Writes(FREE, "hold"),
    "held lapsed by another": Writes(FREE, "hold"),
    "booked by the user": Raises(AlreadyBookedError),
    "booked by the user at now": Raises(AlreadyBookedError),
    "booked by another": Raises(SlotTakenError),
    "blocked": Raises(SlotBlockedError),
}


@pytest.mark.parametrize(("name", "outcome", "fecha_hora"), rows(HOLD))
def test_holding_a_slot_in_each_state(name, outcome, fecha_hora) -> None:
    stored = state(name, fecha_hora)
    check(lambda: rules.hold(stored, USER, NEW_NONCE, EXPIRY, NOW), outcome, stored)


BOOK = {
    "missing": Raises(NotFoundError),
    "free": Writes(FREE, "booking"),
    "held live by the user": Writes(HELD_LIVE_BY, "booking", USER_NONCE),  # the hold consumed
    "held live by another": Raises(SlotTakenError),
    "held lapsed by the user": Writes(FREE, "booking"),
    "held lapsed by another": Writes(FREE, "booking"),
    "booked by the user": Keeps(),  # a safe retry, nothing rewritten
    "booked by the user at now": Keeps(),
    "booked by another": Raises(SlotTakenError),
    "blocked": Raises(SlotBlockedError),
}


@pytest.mark.parametrize(("name", "outcome", "fecha_hora"), rows(BOOK))
def test_booking_a_slot_without_a_hold_in_each_state(name, outcome, fecha_hora) -> None:
    stored = state(name, fecha_hora)
    check(lambda: rules.book(stored, USER, MOTIVO, NOW), outcome, stored)


BOOK_WITH_THE_USERS_HOLD = {
    "missing": Raises(NotFoundError),
    "free": Raises(HoldInvalidError),
    "held live by the user": Writes(HELD_LIVE_BY, "booking", USER_NONCE),
    "held live by another": Raises(HoldInvalidError),
    "held lapsed by the user": Raises(HoldInvalidError),
    "held lapsed by another": Raises(HoldInvalidError),
    "booked by the user": Keeps(),  # whatever the hold says
    "booked by the user at now": Keeps(),
    "booked by another": Raises(HoldInvalidError),
    "blocked": Raises(HoldInvalidError),
}


@pytest.mark.parametrize(("name", "outcome", "fecha_hora"), rows(BOOK_WITH_THE_USERS_HOLD))
def test_booking_under_the_users_hold_nonce_in_each_state(name, outcome, fecha_hora) -> None:
    stored = state(name, fecha_hora)
    check(lambda: rules.book(stored, USER, MOTIVO, NOW, USER_NONCE), outcome, stored)


BOOK_WITH_A_WRONG_HOLD = {
    **BOOK_WITH_THE_USERS_HOLD,
    "held live by the user": Raises(HoldInvalidError),  # another hold than the one named
}


@pytest.mark.parametrize(("name", "outcome", "fecha_hora"), rows(BOOK_WITH_A_WRONG_HOLD))
def test_booking_under_a_wrong_hold_nonce_in_each_state(name, outcome, fecha_hora) -> None:
    stored = state(name, fecha_hora)
    check(lambda: rules.book(stored, USER, MOTIVO, NOW, WRONG_NONCE), outcome, stored)


@pytest.mark.parametrize(("name", "outcome", "fecha_hora"), rows(BOOK_WITH_A_WRONG_HOLD))
def test_booking_under_another_users_hold_nonce_in_each_state(name, outcome, fecha_hora) -> None:
    stored = state(name, fecha_hora)
    check(lambda: rules.book(stored, USER, MOTIVO, NOW, OTHER_NONCE), outcome, stored)


CANCEL = {
    "missing": Raises(NotFoundError),
    "free": Keeps(),  # a retried cancel
    "held live by the user": Writes(HELD_LIVE_BY, "freeing", USER_NONCE),  # the hold released
    "held live by another": Raises(SlotTakenError),
    "held lapsed by the user": Keeps("free at now"),
    "held lapsed by another": Keeps("free at now"),
    "booked by the user": Writes(BOOKED_BY, "freeing"),
    "booked by the user at now": Writes(BOOKED_BY, "freeing"),
    "booked by another": Raises(SlotTakenError),
    "blocked": Keeps(),  # nothing to undo
}


@pytest.mark.parametrize(("name", "outcome", "fecha_hora"), rows(CANCEL))
def test_cancelling_a_slot_in_each_state(name, outcome, fecha_hora) -> None:
    stored = state(name, fecha_hora)
    check(lambda: rules.cancel(stored, USER, NOW), outcome, stored)


RELEASE_WITH_THE_CARRIED_NONCE = {
    "missing": NOTHING,
    "free": NOTHING,
    "held live by the user": Writes(CARRIES_HOLD, "freeing", USER_NONCE),
    "held live by another": Writes(CARRIES_HOLD, "freeing", OTHER_NONCE),  # the nonce is the key
    "held lapsed by the user": Writes(CARRIES_HOLD, "freeing", USER_NONCE),  # harmless to clear
    "held lapsed by another": Writes(CARRIES_HOLD, "freeing", OTHER_NONCE),
    "booked by the user": NOTHING,
    "booked by the user at now": NOTHING,
    "booked by another": NOTHING,
    "blocked": NOTHING,
}


@pytest.mark.parametrize(("name", "outcome", "fecha_hora"), rows(RELEASE_WITH_THE_CARRIED_NONCE))
def test_releasing_the_hold_a_slot_carries_in_each_state(name, outcome, fecha_hora) -> None:
    stored = state(name, fecha_hora)
    carried = stored.retencion if stored is not None and stored.retencion else USER_NONCE
    check(lambda: rules.release(stored, carried), outcome, stored)


@pytest.mark.parametrize(
    ("name", "outcome", "fecha_hora"), rows(dict.fromkeys(STATE_NAMES, NOTHING))
)
def test_releasing_another_nonce_than_the_carried_one_does_nothing(
    name, outcome, fecha_hora
) -> None:
    stored = state(name, fecha_hora)
    check(lambda: rules.release(stored, WRONG_NONCE), outcome, stored)


def from_not_held() -> Raises:
    return Raises(RescheduleError, "from_not_held")


RESCHEDULE_FROM = {  # the state is the source; the target is free
    "missing": Raises(RescheduleError, "from_not_found"),
    "free": from_not_held(),
    "held live by the user": from_not_held(),  # a hold is not a booking to move
    "held live by another": from_not_held(),
    "held lapsed by the user": from_not_held(),
    "held lapsed by another": from_not_held(),
    "booked by the user": Moves(FREE),
    "booked by the user at now": Moves(FREE),
    "booked by another": from_not_held(),
    "blocked": from_not_held(),
}


@pytest.mark.parametrize(("name", "outcome", "fecha_hora"), rows(RESCHEDULE_FROM))
def test_rescheduling_from_a_slot_in_each_state(name, outcome, fecha_hora) -> None:
    source = state(name, fecha_hora)
    target = state("free", OTHER_TIME)
    check(lambda: rules.reschedule(source, target, USER, NOW), outcome, source)


def to_taken() -> Raises:
    return Raises(RescheduleError, "to_taken")


RESCHEDULE_TO = {  # the state is the target; the source is the user's booking
    "missing": Raises(RescheduleError, "to_not_found"),
    "free": Moves(FREE),
    "held live by the user": Moves(HELD_LIVE_BY, USER_NONCE),  # the user's hold consumed
    "held live by another": to_taken(),
    "held lapsed by the user": Moves(FREE),
    "held lapsed by another": Moves(FREE),
    "booked by the user": to_taken(),  # the user has both: nothing to move onto
    "booked by the user at now": to_taken(),
    "booked by another": to_taken(),
    "blocked": Raises(RescheduleError, "to_blocked"),
}


@pytest.mark.parametrize(("name", "outcome", "fecha_hora"), rows(RESCHEDULE_TO))
def test_rescheduling_to_a_slot_in_each_state(name, outcome, fecha_hora) -> None:
    source = state("booked by the user", OTHER_TIME)
    target = state(name, fecha_hora)
    check(lambda: rules.reschedule(source, target, USER, NOW), outcome, target)


RESCHEDULE_RETRIED = {  # the state is the source; the target is already the user's booking
    **dict.fromkeys(STATE_NAMES, KeepsTarget()),  # the first attempt's work, answered again
    "booked by the user": to_taken(),  # not a retry: the user has both slots
    "booked by the user at now": to_taken(),
}


@pytest.mark.parametrize(("name", "outcome", "fecha_hora"), rows(RESCHEDULE_RETRIED))
def test_a_reschedule_retried_after_success_from_each_state(name, outcome, fecha_hora) -> None:
    source = state(name, fecha_hora)
    target = state("booked by the user", OTHER_TIME)
    check(lambda: rules.reschedule(source, target, USER, NOW), outcome, source)
