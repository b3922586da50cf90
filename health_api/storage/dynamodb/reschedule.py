"""Reschedule on DynamoDB: read both slots in one consistent ``BatchGetItem``, then free one and
book the other in one ``TransactWriteItems``.

Both updates carry a condition; if either fails DynamoDB applies neither and reports, per item,
``CancellationReasons`` with the item as it was (``ReturnValuesOnConditionCheckFailure=ALL_OLD``),
from which the ``RescheduleError`` reason is read.
"""

from __future__ import annotations

from typing import Any

from health_api.domain.errors import RescheduleError
from health_api.domain.models import BLOQUEADO, DISPONIBLE, RESERVADO, RETENIDO, Slot, SlotKey
from health_api.storage.dynamodb import bounded
from health_api.storage.dynamodb.hold_bookings import booking_expression
from health_api.storage.dynamodb.holds import FREE_AT, HOLD_FIELDS
from health_api.storage.dynamodb.items import ConditionFailed, TableRef, call, values
from health_api.storage.dynamodb.seats import free_seat_update
from health_api.storage.dynamodb.slot_queries import live_hold_of, plain_to_slot

_MESSAGES = {
    "same_slot": "the source and the target are the same slot",
    "from_not_found": "the current slot does not exist",
    "from_not_held": "the user does not hold the current slot",
    "to_not_found": "the new slot does not exist",
    "to_taken": "the new slot is booked or held by another user",
    "to_blocked": "the new slot is blocked",
}


def _error(reason: str) -> RescheduleError:
    return RescheduleError(reason, _MESSAGES[reason])


def _read_both(
    client: Any, table: TableRef, source: SlotKey, target: SlotKey
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Source and target as they are now: one consistent ``BatchGetItem`` (one round trip)."""
    pair = [(k.doctor_id, k.fecha_hora) for k in (source, target)]
    found = bounded.read_many(client, table, pair)
    return found.get(pair[0]), found.get(pair[1])


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

    Two calls: one consistent read of both slots (the source for its ``motivo``, the target
    for the answer's ``duracion_min``), then the transaction, whose conditions decide whatever
    changed since that read. A retry after success (the user holds the target and no longer the
    source) returns the target unchanged.
    """
    if source == target:
        raise _error("same_slot")
    old_source, old_target = _read_both(client, table, source, target)
    if not _held_by(old_source, user_id):
        if _held_by(old_target, user_id):
            return plain_to_slot(old_target)
        raise _error("from_not_found" if old_source is None else "from_not_held")
    motivo = old_source.get("motivo")
    booking = {"estado": RESERVADO, "user_id": user_id, "reservado_en": now}
    if motivo is not None:
        booking["motivo"] = motivo
    own_hold = live_hold_of(old_target, now) if old_target else None
    if own_hold is not None and own_hold.retenido_por != user_id:
        own_hold = None
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
    take = _take(table, target, booking, own_hold.retencion if own_hold else None)
    items = [release, take]
    if own_hold is not None and old_target.get("retenido_asiento"):
        # The user's own hold on the target is consumed: its seat is freed in the same
        # transaction (retried without it should the seat have been reused meanwhile).
        seat = free_seat_update(table, user_id, old_target["retenido_asiento"], own_hold.retencion)
        items.append(seat)
    try:
        _transact(client, table, items)
    except ConditionFailed as failed:
        source_reason, target_reason = [*failed.reasons, {}, {}][:2]
        if source_reason.get("code") == "ConditionalCheckFailed":
            item = source_reason.get("item")
            raise _error("from_not_found" if item is None else "from_not_held") from failed
        raise _error(_target_reason(target_reason.get("item"))) from failed
    if old_target is None:  # pragma: no cover - created between the read and the write
        moved = bounded.read_many(client, table, [(target.doctor_id, target.fecha_hora)])
        old_target = moved.get((target.doctor_id, target.fecha_hora), {})
    # The transaction's condition held, so the target is what was read plus this booking.
    moved_to = {k: v for k, v in old_target.items() if k not in ("motivo", *HOLD_FIELDS)}
    return plain_to_slot({**moved_to, **booking})


def _take(table: TableRef, target: SlotKey, booking: dict[str, Any], nonce: str | None) -> dict:
    """The target's update: booked for the user, any hold fields removed."""
    if nonce is None:
        # The target must exist (no upsert) and be free at commit time (an expired hold is
        # free; :reservado_en is now).
        condition = f"attribute_exists(#fecha_hora) AND {FREE_AT.replace(':now', ':reservado_en')}"
        given = {"disponible": DISPONIBLE, "retenido": RETENIDO}
    else:
        # Still this user's live hold (the one read) at commit time: it is consumed.
        condition = (
            "#estado = :retenido AND #retenido_por = :user_id AND #retencion = :nonce"
            " AND #retenido_hasta > :reservado_en"
        )
        given = {"retenido": RETENIDO, "nonce": nonce}
    names = table.names("estado", "motivo", *booking, *HOLD_FIELDS)
    if nonce is None:
        names |= table.names("fecha_hora")
    return {
        "Update": {
            "TableName": table.name,
            "Key": table.key(doctor_id=target.doctor_id, fecha_hora=target.fecha_hora),
            "UpdateExpression": booking_expression(booking),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values(**booking, **given),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def _transact(client: Any, table: TableRef, items: list[dict]) -> None:
    """The transaction; when only the seat item (third) failed, again without it."""
    try:
        call(client, "transact_write_items", table, TransactItems=items)
    except ConditionFailed as failed:
        codes = [r.get("code") for r in failed.reasons]
        if (
            len(items) == 3
            and codes[:2] != ["ConditionalCheckFailed"] * 2
            and all(c != "ConditionalCheckFailed" for c in codes[:2])
        ):
            call(client, "transact_write_items", table, TransactItems=items[:2])
            return
        raise
