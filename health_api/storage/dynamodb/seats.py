"""Each user's seats item on DynamoDB: what makes ``HOLD_MAX_PER_USER`` exact.

One item per user in ``horarios_doctores``: hash key ``"#holds#" + user_id`` (no doctor id can
start with ``#``), range key ``"#seats"``, never a ``user_id`` attribute (so it stays out of
``user_id-index``). It holds up to ``max_per_user`` seats ``s0``, ``s1``... each a map
``{hasta, nonce, slot}``; a seat whose ``hasta`` has passed is free. A hold takes one seat in
the transaction that takes the slot (:mod:`.holds`); consuming or releasing a hold frees its
seat in the transaction that changes the slot, while the seat still carries the hold's nonce.
"""

from __future__ import annotations

from typing import Any

from health_api.storage.dynamodb.items import ConditionFailed, TableRef, call, values

SEATS_PREFIX = "#holds#"  # hash key prefix of a user's seats item (ID_PATTERN forbids "#")
SEATS_RANGE = "#seats"


def seats_key(table: TableRef, user_id: str) -> dict[str, Any]:
    """The primary key of ``user_id``'s seats item."""
    return table.key(doctor_id=SEATS_PREFIX + user_id, fecha_hora=SEATS_RANGE)


def seat_names(max_per_user: int) -> list[str]:
    """The seats of a user, in the fixed order they are tried."""
    return [f"s{i}" for i in range(max_per_user)]


def free_seats(seats: dict[str, Any] | None, max_per_user: int, now: str) -> list[str]:
    """The seats free at ``now`` in a seats item (None: no item yet, all free)."""
    seats = seats or {}
    return [s for s in seat_names(max_per_user) if not live_seat(seats.get(s), now)]


def live_seat(seat: Any, now: str) -> bool:
    """Whether ``seat`` (a seat's map, or None) is taken at ``now``."""
    return isinstance(seat, dict) and str(seat.get("hasta", "")) > now


def free_seat_update(table: TableRef, user_id: str, seat: str, nonce: str) -> dict[str, Any]:
    """The transaction item freeing ``seat`` while it still carries the hold ``nonce``."""
    return {
        "Update": {
            "TableName": table.name,
            "Key": seats_key(table, user_id),
            "UpdateExpression": "REMOVE #seat",
            # Only this hold's seat: one reused after the hold expired is another hold's.
            "ConditionExpression": "#seat.#nonce = :nonce",
            "ExpressionAttributeNames": {"#seat": seat, "#nonce": "nonce"},
            "ExpressionAttributeValues": values(nonce=nonce),
        }
    }


def write_freeing_seat(client: Any, table: TableRef, slot_update: dict, old: dict) -> None:
    """Apply ``slot_update`` (a transaction item on the slot) and free the seat of the hold
    ``old`` carried, in one transaction; when only the seat's condition failed (reused after
    the hold expired), the slot update alone. ``ConditionFailed`` when the slot's failed."""
    seat, user, nonce = old.get("retenido_asiento"), old.get("retenido_por"), old.get("retencion")
    if not (seat and user and nonce):
        _single(client, table, slot_update)
        return
    try:
        call(
            client,
            "transact_write_items",
            table,
            TransactItems=[slot_update, free_seat_update(table, user, seat, nonce)],
        )
    except ConditionFailed as failed:
        slot_reason = ([*failed.reasons, {}])[0]
        if slot_reason.get("code") == "ConditionalCheckFailed":
            raise ConditionFailed(slot_reason.get("item"), retried=failed.retried) from failed
        _single(client, table, slot_update)


def _single(client: Any, table: TableRef, slot_update: dict) -> None:
    request = {k: v for k, v in slot_update["Update"].items() if k != "TableName"}
    call(client, "update_item", table, **request)
