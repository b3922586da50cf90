"""Booking and cancelling a slot that carries a live hold, on DynamoDB.

A plain booking of a free slot stays one conditional ``UpdateItem`` (``slots.py``). Booking a slot
the user holds consumes the hold and frees its seat in ONE ``TransactWriteItems`` (slot + seat,
see :mod:`.holds`): with ``hold_nonce`` after one consistent read of the slot (which names the
seat); without one, after the plain ``UpdateItem`` failed and its ``ALL_OLD`` showed this user's
live hold. A cancel by the holder releases the hold the same way.
"""

from __future__ import annotations

from typing import Any

from health_api.domain.errors import (
    HoldInvalidError,
    NotFoundError,
    SlotBlockedError,
    SlotTakenError,
)
from health_api.domain.models import (
    BLOQUEADO,
    DISPONIBLE,
    RESERVADO,
    RETENIDO,
    BookingResult,
    Slot,
    SlotKey,
    slot_at,
)
from health_api.storage.dynamodb.holds import HOLD_FIELDS, release_update
from health_api.storage.dynamodb.items import ConditionFailed, TableRef, call, set_clause, values
from health_api.storage.dynamodb.seats import write_freeing_seat
from health_api.storage.dynamodb.slot_queries import live_hold_of, plain_to_slot


def read(client: Any, table: TableRef, key: SlotKey) -> dict[str, Any] | None:
    """The slot item as it is now (one consistent GetItem), None when absent."""
    response = call(
        client,
        "get_item",
        table,
        Key=table.key(doctor_id=key.doctor_id, fecha_hora=key.fecha_hora),
        ConsistentRead=True,
    )
    return table.from_item(response.get("Item"))


def booking_fields(user_id: str, motivo: str | None, now: str) -> dict[str, Any]:
    """The attributes a booking sets (``motivo`` only when given)."""
    booking = {"estado": RESERVADO, "user_id": user_id, "reservado_en": now}
    if motivo is not None:
        booking["motivo"] = motivo
    return booking


def booking_expression(booking: dict[str, Any]) -> str:
    """SET the booking, REMOVE any hold (and ``motivo`` when the booking has none)."""
    removed = [*HOLD_FIELDS, *([] if "motivo" in booking else ["motivo"])]
    return set_clause(booking) + " REMOVE " + ", ".join(f"#{n}" for n in removed)


def book_held(
    client: Any,
    table: TableRef,
    key: SlotKey,
    user_id: str,
    motivo: str | None,
    now: str,
    hold_nonce: str | None,
    old: dict[str, Any] | None = None,
) -> BookingResult:
    """Book the slot ``user_id`` holds live, consuming the hold (``hold_nonce``: only that hold;
    None: whichever live hold of this user ``old`` shows). ``old`` is the slot as last seen
    (None: read it now). A slot booked by this user answers the booking (``created=False``)."""
    if old is None:
        old = read(client, table, key)
    answer = _answer(old, user_id, hold_nonce)
    if answer is not None:
        return answer
    held = live_hold_of(old, now)
    if held is None or held.retenido_por != user_id:
        if hold_nonce is not None:
            raise HoldInvalidError()
        raise SlotTakenError("the slot is held by another user")
    nonce = held.retencion if hold_nonce is None else hold_nonce
    if hold_nonce is not None and held.retencion != hold_nonce:
        raise HoldInvalidError()
    booking = booking_fields(user_id, motivo, now)
    update = {
        "Update": {
            "TableName": table.name,
            "Key": table.key(doctor_id=key.doctor_id, fecha_hora=key.fecha_hora),
            "UpdateExpression": booking_expression(booking),
            # Still this user's live hold with this nonce at commit time (:user_id and
            # :reservado_en, the booking's own values, are the holder and now).
            "ConditionExpression": (
                "#estado = :retenido AND #retenido_por = :user_id AND #retencion = :nonce"
                " AND #retenido_hasta > :reservado_en"
            ),
            "ExpressionAttributeNames": table.names("estado", *booking, "motivo", *HOLD_FIELDS),
            "ExpressionAttributeValues": values(**booking, retenido=RETENIDO, nonce=nonce),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }
    try:
        write_freeing_seat(client, table, update, old)
    except ConditionFailed as failed:
        current = failed.item
        if (
            current is not None
            and current.get("estado") == RESERVADO
            and current.get("user_id") == user_id
        ):
            ours = failed.retried and current.get("reservado_en") == now
            return BookingResult(plain_to_slot(current), created=ours)
        if hold_nonce is not None or current is None:
            raise HoldInvalidError() from failed
        return book_held(client, table, key, user_id, motivo, now, None, current)
    kept = {k: v for k, v in old.items() if k not in (*HOLD_FIELDS, "motivo")}
    return BookingResult(plain_to_slot({**kept, **booking}), created=True)


def _answer(
    old: dict[str, Any] | None, user_id: str, hold_nonce: str | None
) -> BookingResult | None:
    """The answer that needs no write: not found, already booked by this user, blocked,
    booked by another; None when the slot may be held."""
    if old is None:
        raise NotFoundError("slot not found")
    if old.get("estado") == RESERVADO and old.get("user_id") == user_id:
        return BookingResult(plain_to_slot(old), created=False)  # whatever hold_nonce says
    if hold_nonce is not None and old.get("estado") != RETENIDO:
        raise HoldInvalidError()
    if old.get("estado") == BLOQUEADO:
        raise SlotBlockedError("the slot is blocked")
    if old.get("estado") == RESERVADO:
        raise SlotTakenError("the slot is booked by another user")
    return None


def release_own_hold(
    client: Any, table: TableRef, key: SlotKey, user_id: str, old: dict[str, Any]
) -> Slot:
    """A cancel by the holder: release this user's live hold that ``old`` shows (slot + seat
    in one transaction) and return the slot ``disponible``."""
    update = release_update(
        table,
        key,
        # Still this user's hold with this nonce (expired meanwhile is fine to clear).
        "#estado = :retenido AND #retenido_por = :user_id AND #retencion = :nonce",
        retenido=RETENIDO,
        user_id=user_id,
        nonce=old.get("retencion"),
    )
    try:
        write_freeing_seat(client, table, update, old)
    except ConditionFailed as failed:
        current = failed.item
        if current is None:
            raise NotFoundError("slot not found") from failed
        if current.get("estado") == RESERVADO or current.get("estado") == RETENIDO:
            raise SlotTakenError("the slot is booked or held by another user") from failed
        return plain_to_slot(current)
    kept = {k: v for k, v in old.items() if k not in HOLD_FIELDS}
    return plain_to_slot({**kept, "estado": DISPONIBLE})


def cancel(client: Any, table: TableRef, key: SlotKey, user_id: str, now: str) -> Slot:
    """Free a slot booked by ``user_id`` (one conditional UpdateItem) and return it; this
    user's live hold is released instead (one transaction with its seat). Already free, an
    expired hold, or blocked: returned as it is at ``now``. ``NotFoundError``; ``SlotTakenError``
    when another user booked it or holds it live."""
    try:
        response = call(
            client,
            "update_item",
            table,
            Key=table.key(doctor_id=key.doctor_id, fecha_hora=key.fecha_hora),
            # REMOVE user_id keeps the user_id-index sparse: free slots leave it.
            UpdateExpression="SET #estado = :disponible REMOVE #user_id, #motivo, #reservado_en",
            # Only the holder may cancel; a missing item fails this too (no estado).
            ConditionExpression="#estado = :reservado AND #user_id = :user_id",
            ExpressionAttributeNames=table.names("estado", "user_id", "motivo", "reservado_en"),
            ExpressionAttributeValues=values(
                disponible=DISPONIBLE, reservado=RESERVADO, user_id=user_id
            ),
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ConditionFailed as failed:
        old = failed.item
        if old is None:
            raise NotFoundError("slot not found") from failed
        held = live_hold_of(old, now)
        if held is not None and held.retenido_por == user_id:
            return release_own_hold(client, table, key, user_id, old)
        if old.get("estado") != RESERVADO and held is None:
            # Already free (a retried cancel, an expired hold) or blocked: nothing to do.
            return slot_at(plain_to_slot(old), now)
        raise SlotTakenError("the slot is booked or held by another user") from failed
    return plain_to_slot(table.from_item(response["Attributes"]))
