"""Holds on DynamoDB: the hold on the slot item, and each user's seats item for the limit.

A hold lives on the slot (``estado = retenido``, ``retenido_por``, ``retenido_hasta``, the nonce
``retencion`` and the seat it took, ``retenido_asiento``); the holder never goes into
``user_id``, so holds stay out of ``user_id-index``. An expired hold needs no sweeper: every
condition that wants a free slot also accepts ``retenido`` with ``retenido_hasta <= :now``.

``HOLD_MAX_PER_USER`` is exact although holds expire lazily: each user has one seats item in the
same table (hash key ``"#holds#" + user_id``, which no doctor id can be, range key ``"#seats"``)
with up to ``max_per_user`` seats ``s0``, ``s1``... each ``{hasta, nonce, slot}``; a seat whose
``hasta`` has passed is free. Taking a hold is ONE ``TransactWriteItems``: the slot's update and
the update of one seat conditioned on that seat being free, so two parallel holds can never take
the same seat. A failed seat condition returns the seats item (``ALL_OLD``), from which the next
free seat is chosen, a bounded number of times. Consuming (booking) or releasing a hold frees its
seat in the same transaction, conditioned on the seat still carrying the hold's nonce; should it
not (the seat was reused after the hold expired), the slot is written alone.
"""

from __future__ import annotations

from typing import Any

from health_api.domain.errors import (
    AlreadyBookedError,
    HoldLimitError,
    NotFoundError,
    SlotBlockedError,
    SlotTakenError,
    StorageUnavailableError,
)
from health_api.domain.models import (
    BLOQUEADO,
    DISPONIBLE,
    RESERVADO,
    RETENIDO,
    Hold,
    HoldResult,
    SlotKey,
    hold_of,
)
from health_api.storage.dynamodb.items import ConditionFailed, TableRef, call, values
from health_api.storage.dynamodb.seats import (
    free_seats,
    live_seat,
    seat_names,
    seats_key,
    write_freeing_seat,
)
from health_api.storage.dynamodb.slot_queries import live_hold_of, plain_to_slot

HOLD_FIELDS = ("retenido_por", "retenido_hasta", "retencion", "retenido_asiento")
# Free at :now: disponible, or held with the hold expired.
FREE_AT = "(#estado = :disponible OR (#estado = :retenido AND #retenido_hasta <= :now))"


def hold(
    client: Any,
    table: TableRef,
    key: SlotKey,
    user_id: str,
    nonce: str,
    expires_at: str,
    now: str,
    max_per_user: int,
) -> HoldResult:
    """Hold the slot for ``user_id``: one transaction (slot + one free seat); see the module."""
    seats = seat_names(max_per_user)
    seat = seats[0]
    for _ in range(max_per_user + 2):
        try:
            _take(client, table, key, user_id, nonce, expires_at, now, seat)
        except ConditionFailed as failed:
            slot_reason, seat_reason = [*failed.reasons, {}, {}][:2]
            if slot_reason.get("code") == "ConditionalCheckFailed" or not failed.reasons:
                return _explain(slot_reason.get("item"), user_id, nonce, failed)
            free = free_seats(seat_reason.get("item"), max_per_user, now)
            if not free:
                return _at_limit(client, table, key, seat_reason.get("item"), user_id, now)
            seat = free[0]
            continue
        slot = {
            "doctor_id": key.doctor_id,
            "fecha_hora": key.fecha_hora,
            "estado": RETENIDO,
            "retenido_por": user_id,
            "retenido_hasta": expires_at,
            "retencion": nonce,
        }
        return HoldResult(_hold_after_write(client, table, key, slot), created=True)
    raise StorageUnavailableError("the user's hold seats kept changing; try again")


def _take(
    client: Any,
    table: TableRef,
    key: SlotKey,
    user_id: str,
    nonce: str,
    expires_at: str,
    now: str,
    seat: str,
) -> None:
    held = {
        "estado": RETENIDO,
        "retenido_por": user_id,
        "retenido_hasta": expires_at,
        "retencion": nonce,
        "retenido_asiento": seat,
    }
    slot_update = {
        "Update": {
            "TableName": table.name,
            "Key": table.key(doctor_id=key.doctor_id, fecha_hora=key.fecha_hora),
            "UpdateExpression": "SET " + ", ".join(f"#{n} = :{n}" for n in held),
            # It must exist (no upsert) and be free at :now (an expired hold is free).
            "ConditionExpression": f"attribute_exists(#fecha_hora) AND {FREE_AT}",
            "ExpressionAttributeNames": table.names("fecha_hora", *held),
            "ExpressionAttributeValues": values(
                **held, disponible=DISPONIBLE, retenido=RETENIDO, now=now
            ),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }
    seat_update = {
        "Update": {
            "TableName": table.name,
            "Key": seats_key(table, user_id),
            "UpdateExpression": "SET #seat = :seat",
            # This seat is free: never taken, or its hold's expiry has passed.
            "ConditionExpression": "attribute_not_exists(#seat) OR #seat.#hasta <= :now",
            "ExpressionAttributeNames": {"#seat": seat, "#hasta": "hasta"},
            "ExpressionAttributeValues": values(
                seat={
                    "hasta": expires_at,
                    "nonce": nonce,
                    "slot": f"{key.doctor_id}|{key.fecha_hora}",
                },
                now=now,
            ),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }
    call(client, "transact_write_items", table, TransactItems=[slot_update, seat_update])


def _hold_after_write(client: Any, table: TableRef, key: SlotKey, held: dict) -> Hold:
    # The transaction returns no item: the hold is what was read plus what was written. The
    # slot's duracion_min is not known here; one consistent read gives the whole slot.
    response = call(
        client,
        "get_item",
        table,
        Key=table.key(doctor_id=key.doctor_id, fecha_hora=key.fecha_hora),
        ConsistentRead=True,
    )
    item = table.from_item(response.get("Item")) or held
    return hold_of(plain_to_slot(item))


def _explain(
    old: dict[str, Any] | None, user_id: str, nonce: str, failed: ConditionFailed
) -> HoldResult:
    """The domain answer to a hold whose slot condition failed, from the slot as it was."""
    if old is None:
        raise NotFoundError("slot not found") from failed
    if old.get("estado") == BLOQUEADO:
        raise SlotBlockedError("the slot is blocked and cannot be held") from failed
    if old.get("estado") == RESERVADO:
        if old.get("user_id") == user_id:
            raise AlreadyBookedError() from failed
        raise SlotTakenError("the slot is booked by another user") from failed
    held = live_hold_of(old)
    if held is not None and held.retenido_por == user_id:
        # This user's live hold, unchanged; when botocore resent this very call after its first
        # attempt committed, the hold carries this call's nonce: still the one it created.
        ours = failed.retried and held.retencion == nonce
        return HoldResult(hold_of(held), created=ours)
    raise SlotTakenError("the slot is held by another user") from failed


def _at_limit(
    client: Any,
    table: TableRef,
    key: SlotKey,
    seats: dict[str, Any] | None,
    user_id: str,
    now: str,
) -> HoldResult:
    """Every seat is live: ``HoldLimitError``, unless one of them is this very slot's hold
    (a repeat, which never counts twice)."""
    wanted = f"{key.doctor_id}|{key.fecha_hora}"
    if any(live_seat(s, now) and s.get("slot") == wanted for s in (seats or {}).values()):
        response = call(
            client,
            "get_item",
            table,
            Key=table.key(doctor_id=key.doctor_id, fecha_hora=key.fecha_hora),
            ConsistentRead=True,
        )
        item = table.from_item(response.get("Item"))
        held = live_hold_of(item, now) if item else None
        if held is not None and held.retenido_por == user_id:
            return HoldResult(hold_of(held), created=False)
    raise HoldLimitError()


def get_hold(client: Any, table: TableRef, key: SlotKey, nonce: str, now: str) -> Hold:
    """The live hold with ``nonce`` on the slot (one consistent GetItem), else NotFound."""
    response = call(
        client,
        "get_item",
        table,
        Key=table.key(doctor_id=key.doctor_id, fecha_hora=key.fecha_hora),
        ConsistentRead=True,
    )
    item = table.from_item(response.get("Item"))
    held = live_hold_of(item, now) if item else None
    if held is None or held.retencion != nonce:
        raise NotFoundError("hold not found")
    return hold_of(held)


def release_update(table: TableRef, key: SlotKey, condition: str, **given: Any) -> dict:
    """The transaction item that frees a held slot (``disponible``, hold fields removed) under
    ``condition`` (over ``#estado``, ``#retenido_por``, ``#retencion``, ``#retenido_hasta``)."""
    return {
        "Update": {
            "TableName": table.name,
            "Key": table.key(doctor_id=key.doctor_id, fecha_hora=key.fecha_hora),
            "UpdateExpression": "SET #estado = :disponible REMOVE "
            + ", ".join(f"#{n}" for n in HOLD_FIELDS),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": table.names("estado", *HOLD_FIELDS),
            "ExpressionAttributeValues": values(disponible=DISPONIBLE, **given),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def release_hold(client: Any, table: TableRef, key: SlotKey, nonce: str) -> None:
    """Clear the hold with ``nonce`` if the slot still carries it, and free its seat; gone
    already is fine. One consistent read (the seat and holder), then one transaction."""
    response = call(
        client,
        "get_item",
        table,
        Key=table.key(doctor_id=key.doctor_id, fecha_hora=key.fecha_hora),
        ConsistentRead=True,
    )
    old = table.from_item(response.get("Item"))
    if not old or old.get("estado") != RETENIDO or old.get("retencion") != nonce:
        return
    # Still this very hold (expired or not: clearing it is harmless).
    update = release_update(
        table,
        key,
        "#estado = :retenido AND #retencion = :nonce",
        retenido=RETENIDO,
        nonce=nonce,
    )
    try:
        write_freeing_seat(client, table, update, old)
    except ConditionFailed:
        return  # released or replaced meanwhile: gone either way
