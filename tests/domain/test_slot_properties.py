"""Properties of the state machine over every slot this package can store, with no storage.

- Every ``Write`` the domain answers for a stored slot meets its own precondition on that slot
  (so a backend that read the slot in its transaction makes it without fail), and applied to the
  slot it gives the state the action promises; asked again, the action then changes nothing.
- The write an action makes before any read (``booking_write``, ``hold_write``,
  ``cancel_write``, ``release_write``) is what the action answers for every slot meeting its
  condition, and never what it answers for a slot that fails it (a backend asking after a
  failed write cannot loop).
- Only a retried write finds its own work (``Keep(created=True)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from itertools import product

import pytest

from health_api.domain import slots as rules
from health_api.domain.errors import HealthApiError
from health_api.domain.models import DISPONIBLE, RESERVADO, RETENIDO, Slot
from health_api.domain.slots import Keep, Move, Write, meets
from tests.domain.states import (
    EXPIRY,
    MOTIVO,
    NEW_NONCE,
    NOW,
    OTHER_NONCE,
    OTHER_TIME,
    USER,
    USER_NONCE,
    every_stored_slot,
)

SLOTS = every_stored_slot()
NONCES = (None, USER_NONCE, OTHER_NONCE, NEW_NONCE)


def answer(ask: Callable[[], object]) -> object:
    """The action's answer, or the domain error it raised."""
    try:
        return ask()
    except HealthApiError as exc:
        return exc


def hold(slot: Slot | None, nonce: str | None, retried: bool) -> object:
    return rules.hold(slot, USER, nonce or NEW_NONCE, EXPIRY, NOW, retried=retried)


def book(slot: Slot | None, nonce: str | None, retried: bool) -> object:
    return rules.book(slot, USER, MOTIVO, NOW, nonce, retried=retried)


def cancel(slot: Slot | None, nonce: str | None, retried: bool) -> object:
    return rules.cancel(slot, USER, NOW)


def release(slot: Slot | None, nonce: str | None, retried: bool) -> object:
    return rules.release(slot, nonce or USER_NONCE)


def is_free(slot: Slot) -> bool:
    return slot.estado == DISPONIBLE and not any(
        getattr(slot, name) for name in (*rules.BOOKING_FIELDS, *rules.HOLD_FIELDS)
    )


def booked_by_the_user(slot: Slot, motivo: str | None) -> bool:
    return (slot.estado, slot.user_id, slot.motivo, slot.reservado_en) == (
        RESERVADO,
        USER,
        motivo,
        NOW,
    ) and not any(getattr(slot, name) for name in rules.HOLD_FIELDS)


def held_by_the_user(slot: Slot, nonce: str) -> bool:
    found = rules.live_hold(slot, nonce, NOW)
    return slot.estado == RETENIDO and (found.user_id, found.expires_at) == (USER, EXPIRY)


# Each action: how to ask it, and what its write promises of the slot it leaves.
ACTIONS = {
    "hold": (hold, lambda after, nonce: held_by_the_user(after, nonce or NEW_NONCE)),
    "book": (book, lambda after, nonce: booked_by_the_user(after, MOTIVO)),
    "cancel": (cancel, lambda after, nonce: is_free(after)),
    "release": (release, lambda after, nonce: is_free(after)),
}
CASES = [
    pytest.param(
        action, nonce, retried, id=f"{action}-nonce-{nonce}-{'retried' if retried else 'first'}"
    )
    for action, nonce, retried in product(ACTIONS, NONCES, (False, True))
]


@pytest.mark.parametrize(("action", "nonce", "retried"), CASES)
def test_every_write_meets_its_own_condition_and_leaves_the_promised_state(
    action, nonce, retried
) -> None:
    ask, promise = ACTIONS[action]
    for slot in SLOTS:
        outcome = answer(lambda s=slot: ask(s, nonce, retried))
        if not isinstance(outcome, Write):
            continue
        assert meets(outcome.when, slot, USER, NOW, outcome.nonce), slot
        after = outcome.applied_to(slot)
        assert (after.doctor_id, after.fecha_hora, after.duracion_min) == (
            slot.doctor_id,
            slot.fecha_hora,
            slot.duracion_min,
        )
        assert promise(after, nonce), slot
        # Asked again, the action has nothing left to write (a retry is safe).
        again = answer(lambda a=after: ask(a, nonce, False))
        assert again is None or isinstance(again, Keep), slot


@pytest.mark.parametrize(("action", "nonce", "retried"), CASES)
def test_only_a_retried_write_finds_its_own_work(action, nonce, retried) -> None:
    ask, _ = ACTIONS[action]
    created = [
        slot
        for slot in SLOTS
        if isinstance(outcome := answer(lambda s=slot: ask(s, nonce, retried)), Keep)
        and outcome.created
    ]
    if not retried:
        assert created == []


FIRST_WRITES = [
    pytest.param(first, ask, id=name)
    for name, first, ask in [
        ("book", rules.booking_write(USER, MOTIVO, NOW), lambda s: book(s, None, False)),
        *[
            (
                f"book-under-{nonce}",
                rules.booking_write(USER, MOTIVO, NOW, nonce),
                lambda s, n=nonce: book(s, n, False),
            )
            for nonce in (USER_NONCE, OTHER_NONCE)
        ],
        ("hold", rules.hold_write(USER, NEW_NONCE, EXPIRY), lambda s: hold(s, None, False)),
        ("cancel", rules.cancel_write(), lambda s: cancel(s, None, False)),
        *[
            (
                f"release-{nonce}",
                rules.release_write(nonce),
                lambda s, n=nonce: release(s, n, False),
            )
            for nonce in (USER_NONCE, OTHER_NONCE)
        ],
    ]
]


@pytest.mark.parametrize(("first", "ask"), FIRST_WRITES)
def test_the_write_before_any_read_is_the_answer_exactly_where_its_condition_holds(
    first, ask
) -> None:
    for slot in SLOTS:
        outcome = answer(lambda s=slot: ask(s))
        if meets(first.when, slot, USER, NOW, first.nonce):
            assert outcome == first, slot
        else:
            assert outcome != first, slot  # the answer after a failed write is something else


@pytest.mark.parametrize(
    ("firsts", "ask"),
    [
        pytest.param(
            rules.with_own_hold(rules.booking_write(USER, MOTIVO, NOW)),
            lambda s: book(s, None, False),
            id="book",
        ),
        pytest.param(
            rules.with_own_hold(rules.cancel_write()), lambda s: cancel(s, None, False), id="cancel"
        ),
    ],
)
def test_one_statement_under_either_condition_makes_exactly_the_answer_where_one_holds(
    firsts, ask
) -> None:
    # What SQLite sends as one UPDATE: where either condition holds the action answers a write of
    # that very change under a precondition the slot meets (the user's own hold under the nonce
    # it carries); where neither holds, no write of that change.
    changes = firsts[0].changes
    for slot in SLOTS:
        outcome = answer(lambda s=slot: ask(s))
        met = [w for w in firsts if meets(w.when, slot, USER, NOW, w.nonce)]
        if met:
            assert isinstance(outcome, Write), slot
            assert outcome.changes == changes, slot
            assert meets(outcome.when, slot, USER, NOW, outcome.nonce), slot
            assert outcome.when in {w.when for w in met}, slot
        else:
            assert not (isinstance(outcome, Write) and outcome.changes == changes), slot


def test_the_optimistic_booking_is_the_booking_write_without_a_hold() -> None:
    assert rules.booking_write(USER, MOTIVO, NOW).when is rules.OPTIMISTIC_BOOKING


def elsewhere(slot: Slot | None) -> Slot | None:
    return None if slot is None else replace(slot, fecha_hora=OTHER_TIME)


MOVES = [
    pytest.param(source, id=f"from-{index}-{source and source.estado}")
    for index, source in enumerate(SLOTS)
]


@pytest.mark.parametrize("source", MOVES)
def test_every_move_meets_both_conditions_and_moves_the_booking(source) -> None:
    for target in map(elsewhere, SLOTS):
        check_move(source, target)


def check_move(source: Slot | None, target: Slot | None) -> None:
    """The move from ``source`` to ``target`` keeps the properties (see the module)."""
    outcome = answer(lambda: rules.reschedule(source, target, USER, NOW))
    if isinstance(outcome, Keep):
        assert outcome.slot == target
        assert (target.estado, target.user_id) == (RESERVADO, USER)
        return
    if not isinstance(outcome, Move):
        return
    assert meets(outcome.release.when, source, USER, NOW, outcome.release.nonce)
    assert meets(outcome.take.when, target, USER, NOW, outcome.take.nonce)
    freed, moved = outcome.release.applied_to(source), outcome.take.applied_to(target)
    assert is_free(freed)
    assert booked_by_the_user(moved, source.motivo)  # the old booking's motivo travels
    # A retry after this success answers the target as it now is, writing nothing.
    assert rules.reschedule(freed, moved, USER, NOW) == Keep(moved)
    assert rules.reschedule(None, moved, USER, NOW) == Keep(moved)  # the freed source deleted
