"""Each precondition's condition expression means on DynamoDB what the domain's ``meets`` says.

Every ``Precondition`` is rendered once (``dynamodb/slot_table.py``); here each rendering is sent
against a slot in every state (missing, free, held live or lapsed by this or another user under
this or another nonce, booked by this or another user, blocked) and must apply exactly when
``meets`` holds; when it does not, the old item DynamoDB returns is the slot as stored, which is
what the domain is then asked about.
"""

from __future__ import annotations

import pytest

from health_api.domain.models import BLOQUEADO, RESERVADO, RETENIDO, Slot, SlotKey
from health_api.domain.slots import Precondition, Write, meets
from health_api.storage.dynamodb.items import ConditionFailed
from health_api.storage.dynamodb.slot_table import slot_of, slot_to_plain

NOW = "2030-01-01T00:00:00Z"
LATER, EARLIER = "2030-01-01T00:05:00Z", "2029-12-31T23:55:00Z"
KEY = SlotKey("d1", "2030-01-02T09:00:00Z")


def _held(by: str, nonce: str, until: str) -> Slot:
    return Slot(*_key(), estado=RETENIDO, retenido_por=by, retenido_hasta=until, retencion=nonce)


def _key() -> tuple[str, str]:
    return KEY.doctor_id, KEY.fecha_hora


STATES: dict[str, Slot | None] = {
    "missing": None,
    "free": Slot(*_key()),
    "held live by u1 under n1": _held("u1", "n1", LATER),
    "held live by u1 under n2": _held("u1", "n2", LATER),
    "held live by u2 under n1": _held("u2", "n1", LATER),
    "held by u1 under n1, lapsed": _held("u1", "n1", EARLIER),
    "held by u1 under n1, lapsing at now": _held("u1", "n1", NOW),
    "booked by u1": Slot(*_key(), estado=RESERVADO, user_id="u1", reservado_en=EARLIER),
    "booked by u2": Slot(*_key(), estado=RESERVADO, user_id="u2", reservado_en=EARLIER),
    "blocked": Slot(*_key(), estado=BLOQUEADO),
}


@pytest.mark.parametrize("when", list(Precondition), ids=lambda p: p.value)
def test_a_rendered_precondition_applies_exactly_when_the_domain_says_it_is_met(
    on_moto, when
) -> None:
    storage, client, table = on_moto
    repository = storage.slots
    for state, slot in STATES.items():
        client.delete_item(TableName=table, Key=repository._key(KEY))
        if slot is not None:
            client.put_item(TableName=table, Item=repository._table.to_item(slot_to_plain(slot)))
        write = Write(when, {"motivo": "probe"}, "n1")

        try:
            repository._update_alone(repository._update(KEY, write, "u1", NOW))
            applied, old = True, None
        except ConditionFailed as failed:
            applied, old = False, failed.item

        assert applied is meets(when, slot, "u1", NOW, "n1"), state
        if not applied:
            assert slot_of(old) == slot, state  # ALL_OLD: the slot as stored, for the domain
