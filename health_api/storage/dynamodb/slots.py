"""Slots on DynamoDB (table ``horarios_doctores``): every racing write is one conditional write.

Booking, cancelling and deleting are a single conditional ``UpdateItem``/``DeleteItem`` with
``ReturnValuesOnConditionCheckFailure=ALL_OLD``: when the condition fails, DynamoDB hands back
the item as it was at that instant, and that item (not a second read that could race) decides
which domain error to raise. Rescheduling is in :mod:`.reschedule`, queries in
:mod:`.slot_queries`, creation in :mod:`.slot_adds`, a doctor's deletion steps in :mod:`.deletion`.

A write that botocore resent after its first attempt committed (its answer lost) finds its own
write done: the failed condition's ``retried`` flag and the old item tell it apart (a delete that
finds nothing is done; a booking that finds this call's own stamp is still a 201).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from health_api.domain.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    SlotBlockedError,
    SlotTakenError,
)
from health_api.domain.models import (
    BLOQUEADO,
    DISPONIBLE,
    RESERVADO,
    RETENIDO,
    AddSlotsResult,
    BookingResult,
    Hold,
    HoldResult,
    Page,
    Slot,
    SlotKey,
    slot_at,
)
from health_api.storage.base import FreeSlots, FreeSlotsDeletion, FutureSchedule, resolve_now
from health_api.storage.dynamodb import deletion, hold_bookings, holds, slot_adds, slot_queries
from health_api.storage.dynamodb import reschedule as moves
from health_api.storage.dynamodb.items import ConditionFailed, TableRef, call, values


def slot_to_plain(slot: Slot) -> dict[str, Any]:
    """The item of ``slot`` (logical names); booking fields only when set."""
    return {
        "doctor_id": slot.doctor_id,
        "fecha_hora": slot.fecha_hora,
        "duracion_min": int(slot.duracion_min),
        "estado": slot.estado,
        "user_id": slot.user_id,
        "motivo": slot.motivo,
        "reservado_en": slot.reservado_en,
        "retenido_por": slot.retenido_por,
        "retenido_hasta": slot.retenido_hasta,
        "retencion": slot.retencion,
    }


class DynamoSlotRepository:
    """``SlotRepository`` on the ``horarios_doctores`` table."""

    def __init__(self, client: Any, table: TableRef, doctors: TableRef | None = None) -> None:
        self._client = client
        self._table = table
        self._doctors = doctors  # the doctor guard's table (add_for_doctor)

    def _key(self, key: SlotKey) -> dict[str, Any]:
        return self._table.key(doctor_id=key.doctor_id, fecha_hora=key.fecha_hora)

    def add_many(self, slots: Sequence[Slot]) -> AddSlotsResult:
        """Create the slots that do not exist, skipping (never overwriting) existing ones:
        chunks of 100 conditional Puts in one transaction each (see :mod:`.slot_adds`)."""
        created = slot_adds.add(self._client, self._table, slots, slot_to_plain)
        return AddSlotsResult(created=created, skipped=len(slots) - created)

    def add_for_doctor(self, doctor_id: str, slots: Sequence[Slot]) -> AddSlotsResult:
        """``add_many`` with a ConditionCheck on the doctor item in every transaction (99
        Puts + 1): ``NotFoundError`` for no doctor, ``ConflictError`` while it is being deleted."""
        if self._doctors is None or any(s.doctor_id != doctor_id for s in slots):
            raise InvalidRequestError("slots of one known doctor only")
        created = slot_adds.add(
            self._client,
            self._table,
            slots,
            slot_to_plain,
            guard=deletion.doctor_guard(self._doctors, doctor_id),
            refusal=lambda: deletion.refusal(self._client, self._doctors, doctor_id),
        )
        return AddSlotsResult(created=created, skipped=len(slots) - created)

    def read_future(self, doctor_id: str, desde: str, now: str) -> FutureSchedule:
        """A doctor's future schedule up to its first taken slot (:func:`deletion.read_future`)."""
        return deletion.read_future(self._client, self._table, doctor_id, desde, now)

    def delete_free(self, doctor_id: str, fechas: Sequence[str], now: str) -> FreeSlotsDeletion:
        """One bounded step of a doctor deletion (see :func:`deletion.delete_free`)."""
        return deletion.delete_free(self._client, self._table, doctor_id, fechas, now)

    def get(self, key: SlotKey, *, now: str | None = None) -> Slot:
        """The slot as it is at ``now``, or ``NotFoundError``."""
        response = call(
            self._client,
            "get_item",
            self._table,
            Key=self._key(key),
            ConsistentRead=True,
        )
        if "Item" not in response:
            raise NotFoundError("slot not found")
        slot = slot_queries.plain_to_slot(self._table.from_item(response["Item"]))
        return slot_at(slot, resolve_now(now))

    def delete(self, key: SlotKey, now: str | None = None) -> None:
        """Remove a slot neither booked nor held live (one conditional DeleteItem)."""
        try:
            call(
                self._client,
                "delete_item",
                self._table,
                Key=self._key(key),
                # It must exist (else NotFound), must not be booked nor held live at :now
                # (else Conflict); an expired hold is free to delete.
                ConditionExpression=(
                    "attribute_exists(#fecha_hora) AND #estado <> :reservado"
                    " AND NOT (#estado = :retenido AND #retenido_hasta > :now)"
                ),
                ExpressionAttributeNames=self._table.names(
                    "fecha_hora", "estado", "retenido_hasta"
                ),
                ExpressionAttributeValues=values(
                    reservado=RESERVADO, retenido=RETENIDO, now=resolve_now(now)
                ),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as failed:
            if failed.item is None:
                if failed.retried:
                    return  # our own first attempt deleted it; only its answer was lost
                raise NotFoundError("slot not found") from failed
            raise ConflictError("the slot is booked or held and cannot be deleted") from failed

    def hold(
        self,
        key: SlotKey,
        user_id: str,
        nonce: str,
        expires_at: str,
        now: str,
        max_per_user: int,
    ) -> HoldResult:
        """Hold the slot: one TransactWriteItems of the slot and a seat (see :mod:`.holds`)."""
        return holds.hold(
            self._client, self._table, key, user_id, nonce, expires_at, now, max_per_user
        )

    def get_hold(self, key: SlotKey, nonce: str, now: str) -> Hold:
        """The live hold with ``nonce`` on the slot (one GetItem), else ``NotFoundError``."""
        return holds.get_hold(self._client, self._table, key, nonce, now)

    def release_hold(self, key: SlotKey, nonce: str, now: str) -> None:
        """Clear the hold with ``nonce`` and free its seat if it is still there (idempotent)."""
        del now  # clearing an expired hold of this nonce is harmless
        holds.release_hold(self._client, self._table, key, nonce)

    def book(
        self,
        key: SlotKey,
        user_id: str,
        motivo: str | None,
        now: str,
        hold_nonce: str | None = None,
    ) -> BookingResult:
        """Book a free slot for ``user_id`` with one conditional UpdateItem; a slot this user
        holds with one transaction that consumes the hold (see :mod:`.hold_bookings`)."""
        if hold_nonce is not None:
            return hold_bookings.book_held(
                self._client, self._table, key, user_id, motivo, now, hold_nonce
            )
        booking = hold_bookings.booking_fields(user_id, motivo, now)
        try:
            response = call(
                self._client,
                "update_item",
                self._table,
                Key=self._key(key),
                UpdateExpression=hold_bookings.booking_expression(booking),
                # The slot must exist (an UpdateItem would otherwise create it) and be free at
                # now (an expired hold is free); anything else, this user's live hold included,
                # is explained by the old item returned on failure.
                ConditionExpression=f"attribute_exists(#fecha_hora) AND {holds.FREE_AT}",
                ExpressionAttributeNames=self._table.names(
                    "fecha_hora", *booking, "motivo", *holds.HOLD_FIELDS
                ),
                ExpressionAttributeValues=values(
                    **booking, disponible=DISPONIBLE, retenido=RETENIDO, now=now
                ),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as failed:
            old = failed.item
            if old is None:
                raise NotFoundError("slot not found") from failed
            if old.get("estado") == BLOQUEADO:
                raise SlotBlockedError("the slot is blocked") from failed
            if old.get("user_id") == user_id and old.get("estado") == RESERVADO:
                # A retried booking: the user already holds it; nothing is rewritten. When
                # botocore resent this very call after its first attempt committed (the stamp
                # is this call's), it is still the booking this call created: a 201.
                ours = failed.retried and old.get("reservado_en") == now
                return BookingResult(slot_queries.plain_to_slot(old), created=ours)
            if old.get("estado") == RETENIDO:
                # A live hold (an expired one passes the condition): the holder's is consumed.
                return hold_bookings.book_held(
                    self._client, self._table, key, user_id, motivo, now, None, old
                )
            raise SlotTakenError("the slot is booked by another user") from failed
        slot = slot_queries.plain_to_slot(self._table.from_item(response["Attributes"]))
        return BookingResult(slot, created=True)

    def cancel(self, key: SlotKey, user_id: str, now: str | None = None) -> Slot:
        """Free a slot booked by ``user_id`` (one conditional UpdateItem) and return it; this
        user's live hold is released (one transaction with its seat)."""
        return hold_bookings.cancel(self._client, self._table, key, user_id, resolve_now(now))

    def reschedule(self, user_id: str, source: SlotKey, target: SlotKey, now: str) -> Slot:
        """Move the user's booking from ``source`` to ``target`` in one transaction."""
        return moves.reschedule(self._client, self._table, user_id, source, target, now)

    def list_range(
        self,
        doctor_id: str,
        desde: str,
        hasta: str,
        *,
        estado: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
        consistent: bool = True,
        now: str | None = None,
    ) -> Page[Slot]:
        """Slots in ``[desde, hasta]`` in time order (see :func:`slot_queries.list_range`)."""
        return slot_queries.list_range(
            self._client,
            self._table,
            doctor_id,
            desde,
            hasta,
            estado,
            limit,
            cursor,
            consistent,
            now=resolve_now(now),
        )

    def list_free_of_doctors(
        self,
        doctor_ids: Sequence[str],
        desde: str,
        hasta: str,
        limit: int,
        *,
        after: tuple[str, str] | None = None,
        now: str | None = None,
        read_budget: int | None = None,
    ) -> FreeSlots:
        """Free slots of several doctors, merged (see :func:`slot_queries.list_free_of_doctors`)."""
        return slot_queries.list_free_of_doctors(
            self._client,
            self._table,
            doctor_ids,
            desde,
            hasta,
            limit,
            after,
            now=resolve_now(now),
            read_budget=read_budget,
        )

    def list_for_user(
        self,
        user_id: str,
        desde: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
        *,
        now: str | None = None,
    ) -> Page[Slot]:
        """The user's booked slots from ``desde`` (see :func:`slot_queries.list_for_user`);
        holds never appear (the holder is not in ``user_id``), so ``now`` changes nothing."""
        del now
        return slot_queries.list_for_user(self._client, self._table, user_id, desde, limit, cursor)
