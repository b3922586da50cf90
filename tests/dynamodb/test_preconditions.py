"""Each precondition's condition expression means on DynamoDB what the domain's ``meets`` says.

Every ``Precondition`` is rendered once (``dynamodb/slot_table.py``), and a ``Write``'s changes
once as an update expression. Here each write the domain answers is sent against a slot in every
state it can be stored in (missing, free, blocked, held by this or another user under this or
another nonce with an expiry before, at or after now, booked by this or another user) and must
apply exactly when ``meets`` holds, leaving the slot ``Write.applied_to`` promises; when it does
not apply, the old item DynamoDB returns is the slot as stored, which the domain is then asked
about.
"""

from __future__ import annotations

from itertools import product

import pytest

from health_api.domain import slots as rules
from health_api.domain.errors import ConflictError, NotFoundError
from health_api.domain.models import BLOQUEADO, RESERVADO, RETENIDO, Slot, SlotKey
from health_api.domain.slots import Precondition, Write, meets
from health_api.storage.dynamodb.items import ConditionFailed
from health_api.storage.dynamodb.slot_table import slot_of, slot_to_plain

NOW = "2030-01-01T00:00:00Z"
LATER, EARLIER = "2030-01-01T00:05:00Z", "2029-12-31T23:55:00Z"
KEY = SlotKey("d1", "2030-01-02T09:00:00Z")
USER, NONCE = "u1", "n1"

WRITES = {
    "book a free slot": rules.booking_write(USER, "control", NOW),
    "book under the user's hold": rules.booking_write(USER, None, NOW, NONCE),
    "hold a free slot": Write(Precondition.FREE, rules.hold_changes(USER, NONCE, LATER)),
    "cancel the user's booking": rules.cancel_write(),
    "cancel the user's hold": Write(Precondition.HELD_LIVE_BY, rules.freeing_changes(), NONCE),
    "release the hold": rules.release_write(NONCE),
}


def every_stored_slot() -> list[Slot | None]:
    """No slot, a free and a blocked one, every hold and every booking the rules tell apart."""
    slots: list[Slot | None] = [None, Slot(*_at()), Slot(*_at(), estado=BLOQUEADO)]
    for user, nonce, until in product((USER, "u2"), (NONCE, "n2"), (EARLIER, NOW, LATER)):
        slots.append(
            Slot(*_at(), estado=RETENIDO, retenido_por=user, retenido_hasta=until, retencion=nonce)
        )
    for user, motivo in product((USER, "u2"), ("revision", None)):
        slots.append(
            Slot(*_at(), estado=RESERVADO, user_id=user, motivo=motivo, reservado_en=EARLIER)
        )
    return slots


def _at() -> tuple[str, str]:
    return KEY.doctor_id, KEY.fecha_hora


def test_the_renderings_cover_every_precondition() -> None:
    # DELETABLE guards a DeleteItem, not a write: the test after the next one holds it.
    assert {write.when for write in WRITES.values()} | {Precondition.DELETABLE} == set(Precondition)


@pytest.mark.parametrize("name", list(WRITES))
def test_a_write_applies_exactly_when_the_domain_says_its_precondition_is_met(
    on_moto, name
) -> None:
    storage, client, table = on_moto
    repository, write = storage.slots, WRITES[name]
    for slot in every_stored_slot():
        client.delete_item(TableName=table, Key=repository._key(KEY))
        if slot is not None:
            client.put_item(TableName=table, Item=repository._table.to_item(slot_to_plain(slot)))

        try:
            repository._update_alone(repository._update(KEY, write, USER, NOW))
            applied, old = True, None
        except ConditionFailed as failed:
            applied, old = False, failed.item

        assert applied is meets(write.when, slot, USER, NOW, write.nonce), slot
        if applied:
            assert slot is not None
            assert storage.slots.get(KEY, now=EARLIER) == write.applied_to(slot), slot
        else:
            assert slot_of(old) == slot, slot  # ALL_OLD: the slot as stored, for the domain


def test_a_delete_applies_exactly_when_the_domain_says_the_slot_is_deletable(on_moto) -> None:
    storage, client, table = on_moto
    repository = storage.slots
    for slot in every_stored_slot():
        client.delete_item(TableName=table, Key=repository._key(KEY))
        if slot is not None:
            client.put_item(TableName=table, Item=repository._table.to_item(slot_to_plain(slot)))

        try:
            repository.delete(KEY, now=NOW)
            deleted, problem = True, None
        except (NotFoundError, ConflictError) as exc:
            deleted, problem = False, exc

        assert deleted is meets(Precondition.DELETABLE, slot, USER, NOW, None), slot
        if not deleted:
            expected = rules.deletion_problem(slot)
            assert (type(problem), str(problem)) == (type(expected), str(expected)), slot
