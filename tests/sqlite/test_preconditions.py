"""SQLite renders the domain's preconditions and writes faithfully: each ``WHERE`` fragment
selects exactly the rows that ``meets`` says are in that state, and each ``UPDATE`` leaves the
row that ``Write.applied_to`` promises."""

from __future__ import annotations

from dataclasses import replace
from itertools import product

import pytest

from health_api.domain import slots as rules
from health_api.domain.errors import HealthApiError
from health_api.domain.models import DISPONIBLE, RESERVADO, RETENIDO, Slot, SlotKey
from health_api.domain.requests import BookingRequest
from health_api.domain.slots import Precondition, Write, meets
from health_api.storage.sqlite import booking
from tests.domain.states import (
    EXPIRY,
    MOTIVO,
    NEW_NONCE,
    NOW,
    OTHER,
    OTHER_NONCE,
    USER,
    USER_NONCE,
    every_stored_slot,
    key,
)

NONCES = (None, USER_NONCE, OTHER_NONCE, NEW_NONCE)


@pytest.fixture
def stored(store) -> list[Slot]:
    """Every stored slot of the domain's tests, each under its own key."""
    slots = [
        replace(slot, fecha_hora=f"2027-01-01T00:{index // 60:02d}:{index % 60:02d}Z")
        for index, slot in enumerate(s for s in every_stored_slot() if s is not None)
    ]
    assert store.slots.add_many(slots).created == len(slots)
    return slots


@pytest.mark.parametrize(
    ("when", "user_id", "nonce"),
    [
        pytest.param(when, user, nonce, id=f"{when.value}-{user}-{nonce}")
        for when, user, nonce in product(Precondition, (USER, OTHER), NONCES)
    ],
)
def test_each_precondition_selects_exactly_the_rows_in_its_state(
    store, stored, when, user_id, nonce
) -> None:
    condition, values = booking.where(when, user_id, NOW, nonce)
    with store.slots._db.read() as conn:
        found = {
            row[0]
            for row in conn.execute(
                f"SELECT fecha_hora FROM {store.slots._table} WHERE {condition}",  # noqa: S608
                values,
            )
        }

    assert found == {s.fecha_hora for s in stored if meets(when, s, user_id, NOW, nonce)}


def every_write(slot: Slot) -> list[Write]:
    """Every write the domain answers for ``slot``, whatever the action."""
    asks = [
        lambda: rules.hold(slot, USER, NEW_NONCE, EXPIRY, NOW),
        lambda: rules.cancel(slot, USER, NOW),
        *[lambda n=n: rules.book(slot, USER, MOTIVO, NOW, n) for n in NONCES],
        *[lambda n=n: rules.release(slot, n or USER_NONCE) for n in NONCES],
    ]
    writes = []
    for ask in asks:
        try:
            outcome = ask()
        except HealthApiError:
            continue
        if isinstance(outcome, Write):
            writes.append(outcome)
    return writes


def test_each_write_leaves_the_row_the_domain_promises(store, stored) -> None:
    made = 0
    for slot, write in ((s, w) for s in stored for w in every_write(s)):
        key = SlotKey(slot.doctor_id, slot.fecha_hora)
        with store.slots._db.write() as conn:
            conn.execute("SAVEPOINT probe")
            after = booking.apply(conn, store.slots._table, key, write, USER, NOW)
            conn.execute("ROLLBACK TO probe")
            conn.execute("RELEASE probe")
        assert after == write.applied_to(slot), (slot, write)
        made += 1

    assert made > 40  # every kind of write was made


@pytest.mark.parametrize("action", ["book", "cancel"])
def test_booking_or_cancelling_ones_own_hold_is_one_update_and_no_read(store, action) -> None:
    # The user's own live hold is consumed (book) or released (cancel) by the same statement
    # that would book a free slot or free the user's booking: no read, as before the domain.
    slot_key = key()
    held = Slot(
        slot_key.doctor_id,
        slot_key.fecha_hora,
        estado=RETENIDO,
        retenido_por=USER,
        retenido_hasta=EXPIRY,
        retencion=USER_NONCE,
    )
    store.slots.add_many([held])
    statements: list[str] = []
    store.db.set_trace(statements.append)
    try:
        if action == "book":
            result = store.slots.book(BookingRequest(slot_key, USER, MOTIVO), NOW)
            assert (result.created, result.slot.estado) == (True, RESERVADO)
        else:
            assert store.slots.cancel(slot_key, USER, NOW).estado == DISPONIBLE
    finally:
        store.db.set_trace(None)

    touched = [s.split()[0] for s in statements if s.split()[0] in ("SELECT", "UPDATE")]
    assert touched == ["UPDATE"]
