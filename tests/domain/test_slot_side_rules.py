"""The state machine's smaller rules, with no storage at all: reading a live hold, retried
writes, the past, a move onto the same slot, the hold limit, and the problems' messages (which
every backend now shares: they come from the domain)."""

from __future__ import annotations

import pytest

from health_api.domain import slots as rules
from health_api.domain.errors import (
    ConflictError,
    HoldLimitError,
    InvalidRequestError,
    NotFoundError,
    RescheduleError,
)
from health_api.domain.slots import Keep, Precondition, Write, meets
from tests.domain.outcomes import HELD_LIVE_BY, Raises, rows
from tests.domain.states import (
    EXPIRY,
    FUTURE,
    MOTIVO,
    NEW_NONCE,
    NOW,
    OTHER,
    OTHER_NONCE,
    OTHER_TIME,
    PAST,
    USER,
    USER_NONCE,
    WRONG_NONCE,
    key,
    state,
)

LIVE_HOLD = {
    "missing": Raises(NotFoundError),
    "free": Raises(NotFoundError),
    "held live by the user": "the hold",
    "held live by another": Raises(NotFoundError),  # another nonce than the one asked for
    "held lapsed by the user": Raises(NotFoundError),
    "held lapsed by another": Raises(NotFoundError),
    "booked by the user": Raises(NotFoundError),
    "booked by the user at now": Raises(NotFoundError),
    "booked by another": Raises(NotFoundError),
    "blocked": Raises(NotFoundError),
}


@pytest.mark.parametrize(("name", "outcome", "fecha_hora"), rows(LIVE_HOLD))
def test_reading_the_users_live_hold_in_each_state(name, outcome, fecha_hora) -> None:
    stored = state(name, fecha_hora)
    if isinstance(outcome, Raises):
        with pytest.raises(outcome.error):
            rules.live_hold(stored, USER_NONCE, NOW)
        return
    found = rules.live_hold(stored, USER_NONCE, NOW)
    assert (found.user_id, found.nonce, found.expires_at, found.slot) == (
        USER,
        USER_NONCE,
        stored.retenido_hasta,
        stored,
    )


# Retried: the store says the write was resent after a first attempt that may have committed.
RETRIED = [
    pytest.param(
        lambda s: rules.hold(s, USER, USER_NONCE, EXPIRY, NOW, retried=True),
        "held live by the user",
        True,
        id="hold-retried-finding-its-own-nonce-created-it",
    ),
    pytest.param(
        lambda s: rules.hold(s, USER, NEW_NONCE, EXPIRY, NOW, retried=True),
        "held live by the user",
        False,
        id="hold-retried-finding-another-nonce-of-the-user-did-not",
    ),
    pytest.param(
        lambda s: rules.hold(s, USER, USER_NONCE, EXPIRY, NOW),
        "held live by the user",
        False,
        id="hold-not-retried-finding-its-own-nonce-is-a-repeat",
    ),
    pytest.param(
        lambda s: rules.book(s, USER, MOTIVO, NOW, retried=True),
        "booked by the user at now",
        True,
        id="book-retried-finding-its-own-stamp-created-it",
    ),
    pytest.param(
        lambda s: rules.book(s, USER, MOTIVO, NOW, USER_NONCE, retried=True),
        "booked by the user at now",
        True,
        id="book-with-hold-retried-finding-its-own-stamp-created-it",
    ),
    pytest.param(
        lambda s: rules.book(s, USER, MOTIVO, NOW, retried=True),
        "booked by the user",
        False,
        id="book-retried-finding-an-older-stamp-did-not",
    ),
    pytest.param(
        lambda s: rules.book(s, USER, MOTIVO, NOW),
        "booked by the user at now",
        False,
        id="book-not-retried-finding-its-stamp-is-a-repeat",
    ),
]


@pytest.mark.parametrize(("act", "name", "created"), RETRIED)
def test_a_retried_write_that_committed_is_this_requests_own_work(act, name, created) -> None:
    stored = state(name)

    assert act(stored) == Keep(stored, created=created)


@pytest.mark.parametrize("name", ["free", "held lapsed by the user", "held lapsed by another"])
def test_a_retry_changes_nothing_for_a_slot_still_to_write(name) -> None:
    stored = state(name)

    assert rules.hold(stored, USER, NEW_NONCE, EXPIRY, NOW, retried=True) == rules.hold(
        stored, USER, NEW_NONCE, EXPIRY, NOW
    )
    assert rules.book(stored, USER, MOTIVO, NOW, retried=True) == rules.book(
        stored, USER, MOTIVO, NOW
    )


@pytest.mark.parametrize(
    ("fecha_hora", "refused"),
    [
        pytest.param(PAST, True, id="past"),
        pytest.param(NOW, True, id="starting-at-now"),
        pytest.param(FUTURE, False, id="future"),
    ],
)
def test_a_slot_that_has_started_is_refused_before_storage_is_asked(fecha_hora, refused) -> None:
    if not refused:
        rules.require_future(fecha_hora, NOW)
        return
    with pytest.raises(InvalidRequestError) as caught:
        rules.require_future(fecha_hora, NOW, "the appointment")
    assert str(caught.value) == f"the appointment at {fecha_hora} is in the past"


def test_a_move_onto_the_same_slot_is_refused_before_any_read() -> None:
    with pytest.raises(RescheduleError) as caught:
        rules.require_distinct(key(), key())
    assert caught.value.reason == "same_slot"
    rules.require_distinct(key(), key(OTHER_TIME))


def test_a_move_onto_the_same_slot_read_twice_is_refused() -> None:
    booked = state("booked by the user")

    with pytest.raises(RescheduleError) as caught:
        rules.reschedule(booked, booked, USER, NOW)
    assert caught.value.reason == "same_slot"


@pytest.mark.parametrize(
    ("live", "limit", "refused"),
    [(0, 1, False), (2, 3, False), (3, 3, True), (4, 3, True), (1, 1, True)],
    ids=lambda v: str(v),
)
def test_the_hold_limit_counts_the_users_live_holds(live, limit, refused) -> None:
    if refused:
        with pytest.raises(HoldLimitError):
            rules.check_hold_limit(live, limit)
    else:
        rules.check_hold_limit(live, limit)


def said(text: str, act, name: str):
    return pytest.param(act, text, id=name)


MESSAGES = [
    said(
        "the slot is blocked and cannot be held",
        lambda: rules.hold(state("blocked"), USER, NEW_NONCE, EXPIRY, NOW),
        "hold-blocked",
    ),
    said(
        "the slot is booked by another user",
        lambda: rules.hold(state("booked by another"), USER, NEW_NONCE, EXPIRY, NOW),
        "hold-booked-by-another",
    ),
    said(
        "the slot is held by another user",
        lambda: rules.hold(state("held live by another"), USER, NEW_NONCE, EXPIRY, NOW),
        "hold-held-by-another",
    ),
    said(
        "the slot is already booked by this user",
        lambda: rules.hold(state("booked by the user"), USER, NEW_NONCE, EXPIRY, NOW),
        "hold-booked-by-the-user",
    ),
    said(
        "the slot is blocked and cannot be booked",
        lambda: rules.book(state("blocked"), USER, MOTIVO, NOW),
        "book-blocked",
    ),
    said(
        "the slot is booked by another user",
        lambda: rules.book(state("booked by another"), USER, MOTIVO, NOW),
        "book-booked-by-another",
    ),
    said(
        "the slot is held by another user",
        lambda: rules.book(state("held live by another"), USER, MOTIVO, NOW),
        "book-held-by-another",
    ),
    said(
        "the hold is expired, released or of another user or slot",
        lambda: rules.book(state("free"), USER, MOTIVO, NOW, WRONG_NONCE),
        "book-under-a-wrong-hold",
    ),
    said("slot not found", lambda: rules.book(None, USER, MOTIVO, NOW), "book-missing"),
    said(
        "the slot is booked or held by another user",
        lambda: rules.cancel(state("booked by another"), USER, NOW),
        "cancel-booked-by-another",
    ),
    said("slot not found", lambda: rules.cancel(None, USER, NOW), "cancel-missing"),
    said("hold not found", lambda: rules.live_hold(None, USER_NONCE, NOW), "read-hold-missing"),
    said(
        "the new slot is booked or held by another user",
        lambda: rules.reschedule(
            state("booked by the user"), state("booked by another", OTHER_TIME), USER, NOW
        ),
        "reschedule-to-taken",
    ),
    said(
        "the new slot is blocked",
        lambda: rules.reschedule(
            state("booked by the user"), state("blocked", OTHER_TIME), USER, NOW
        ),
        "reschedule-to-blocked",
    ),
    said(
        "the new slot does not exist",
        lambda: rules.reschedule(state("booked by the user"), None, USER, NOW),
        "reschedule-to-missing",
    ),
    said(
        "the user does not hold the current slot",
        lambda: rules.reschedule(state("free"), None, USER, NOW),
        "reschedule-from-not-held",
    ),
    said(
        "the current slot does not exist",
        lambda: rules.reschedule(None, state("free", OTHER_TIME), USER, NOW),
        "reschedule-from-missing",
    ),
    said(
        "the new slot is the current one",
        lambda: rules.require_distinct(key(), key()),
        "reschedule-same-slot",
    ),
    said(
        "the user holds the most slots allowed",
        lambda: rules.check_hold_limit(3, 3),
        "hold-limit",
    ),
]


@pytest.mark.parametrize(("act", "message"), MESSAGES)
def test_each_problem_says_what_happened_the_same_on_every_backend(act, message) -> None:
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the class is each table's
        act()
    assert str(caught.value) == message


def test_the_other_user_acting_sees_the_mirror_image() -> None:
    # The tables act as USER; acting as OTHER on the mirrored state gives the mirrored answer.
    theirs = state("held live by another")

    assert rules.book(theirs, OTHER, MOTIVO, NOW) == Write(
        HELD_LIVE_BY, rules.booking_changes(OTHER, MOTIVO, NOW), OTHER_NONCE
    )
    assert rules.cancel(state("booked by another"), OTHER, NOW) == rules.cancel_write()


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("missing", NotFoundError),
        ("booked by the user", ConflictError),
        ("booked by another", ConflictError),
        ("held live by another", ConflictError),
    ],
)
def test_a_failed_delete_is_named_from_the_slot_as_it_was(name, problem) -> None:
    assert type(rules.deletion_problem(state(name))) is problem
    assert not meets(Precondition.DELETABLE, state(name), USER, NOW, None)


@pytest.mark.parametrize("name", ["free", "held lapsed by another", "blocked"])
def test_a_slot_neither_booked_nor_held_live_is_deletable(name) -> None:
    assert meets(Precondition.DELETABLE, state(name), USER, NOW, None)
