"""Reschedule on DynamoDB: free one slot and book another in one ``TransactWriteItems``.

Both updates carry a condition; if either fails DynamoDB applies neither and reports, per item,
``CancellationReasons`` with the item as it was (``ReturnValuesOnConditionCheckFailure=ALL_OLD``),
from which the ``RescheduleError`` reason is read.
"""

from __future__ import annotations

from typing import Any

from health_api.domain.errors import RescheduleError
from health_api.domain.models import BLOQUEADO, DISPONIBLE, RESERVADO, Slot, SlotKey
from health_api.storage.dynamodb.items import ConditionFailed, TableRef, call, set_clause, values
from health_api.storage.dynamodb.slot_queries import plain_to_slot

_MESSAGES = {
    "same_slot": "the source and the target are the same slot",
    "from_not_found": "the current slot does not exist",
    "from_not_held": "the user does not hold the current slot",
    "to_not_found": "the new slot does not exist",
    "to_taken": "the new slot is booked",
    "to_blocked": "the new slot is blocked",
}


def _error(reason: str) -> RescheduleError:
    return RescheduleError(reason, _MESSAGES[reason])


def _read(client: Any, table: TableRef, key: SlotKey) -> dict[str, Any] | None:
    response = call(
        client,
        "get_item",
        table,
        Key=table.key(doctor_id=key.doctor_id, fecha_hora=key.fecha_hora),
        ConsistentRead=True,
    )
    return table.from_item(response.get("Item"))


def _held_by(item: dict[str, Any] | None, user_id: str) -> bool:
    return bool(item) and item.get("estado") == RESERVADO and item.get("user_id") == user_id


def _target_reason(item: dict[str, Any] | None) -> str:
    if item is None:
        return "to_not_found"
    return "to_blocked" if item.get("estado") == BLOQUEADO else "to_taken"


def reschedule(
    client: Any, table: TableRef, user_id: str, source: SlotKey, target: SlotKey, now: str
) -> Slot:
    """Move ``user_id``'s booking from ``source`` to ``target``, all or nothing.

    The source is read first for its ``motivo`` (the transaction's conditions still guard
    against any change between that read and the write). A retry after success (the user
    holds the target and no longer the source) returns the target unchanged.
    """
    if source == target:
        raise _error("same_slot")
    old_source = _read(client, table, source)
    if not _held_by(old_source, user_id):
        old_target = _read(client, table, target)
        if _held_by(old_target, user_id):
            return plain_to_slot(old_target)
        raise _error("from_not_found" if old_source is None else "from_not_held")
    motivo = old_source.get("motivo")
    booking = {"estado": RESERVADO, "user_id": user_id, "reservado_en": now}
    if motivo is not None:
        booking["motivo"] = motivo
    target_set = set_clause(booking)
    release = {
        "Update": {
            "TableName": table.name,
            "Key": table.key(doctor_id=source.doctor_id, fecha_hora=source.fecha_hora),
            # REMOVE user_id: the freed slot leaves the sparse user_id-index.
            "UpdateExpression": "SET #estado = :disponible REMOVE #user_id, #motivo, #reservado_en",
            # Still held by this user at commit time, whatever happened since the read.
            "ConditionExpression": "#estado = :reservado AND #user_id = :user_id",
            "ExpressionAttributeNames": table.names("estado", "user_id", "motivo", "reservado_en"),
            "ExpressionAttributeValues": values(
                disponible=DISPONIBLE, reservado=RESERVADO, user_id=user_id
            ),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }
    take = {
        "Update": {
            "TableName": table.name,
            "Key": table.key(doctor_id=target.doctor_id, fecha_hora=target.fecha_hora),
            "UpdateExpression": target_set + ("" if motivo is not None else " REMOVE #motivo"),
            # The target must exist (no upsert) and be free at commit time.
            "ConditionExpression": "attribute_exists(#fecha_hora) AND #estado = :disponible",
            "ExpressionAttributeNames": table.names("fecha_hora", "motivo", *booking),
            "ExpressionAttributeValues": values(**booking, disponible=DISPONIBLE),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }
    try:
        call(client, "transact_write_items", table, TransactItems=[release, take])
    except ConditionFailed as failed:
        source_reason, target_reason = [*failed.reasons, {}, {}][:2]
        if source_reason.get("code") == "ConditionalCheckFailed":
            item = source_reason.get("item")
            raise _error("from_not_found" if item is None else "from_not_held") from failed
        raise _error(_target_reason(target_reason.get("item"))) from failed
    moved = _read(client, table, target)
    if moved is None:  # pragma: no cover - a booked slot cannot be deleted
        raise _error("to_not_found")
    return plain_to_slot(moved)
