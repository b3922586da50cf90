"""Deleting a doctor on DynamoDB in bounded steps, without making bookings transactions.

The service (``services/doctors.py``) marks the doctor item (``eliminando_desde``), reads the
doctor's whole future schedule (:meth:`ScheduleDeletion.read_future`; a booked or live-held slot
there is a 409 that changed nothing), deletes the free slots a step at a time with conditional
deletes that fail on a slot booked or held since (:meth:`ScheduleDeletion.delete_free`), and
deletes the doctor item last, only while it still carries its mark. Every slot creation of the
service is a transaction that holds a ``ConditionCheck`` on the doctor item (:func:`doctor_guard`),
so once the mark is written no slot can appear behind the deletion; a booking stays one
conditional write on the slot, and a slot booked before its delete makes that delete fail.

A write that botocore retried after its first attempt committed (the answer was lost) finds its
own work done: "already gone" then counts as done (``ConditionFailed.retried``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from health_api.domain.errors import ConflictError, NotFoundError
from health_api.domain.models import DISPONIBLE, Slot, blocks_doctor_deletion
from health_api.domain.writes import Precondition
from health_api.storage.base import FreeSlotsDeletion, FutureSchedule
from health_api.storage.dynamodb import fan_out
from health_api.storage.dynamodb.items import ConditionFailed, TableRef, call, values
from health_api.storage.dynamodb.slot_table import CONDITIONS, SlotTable

MARK = "eliminando_desde"


def mark(client: Any, doctors: TableRef, doctor_id: str, new_mark: str) -> str:
    """Mark the doctor as being deleted unless it is already, and return the mark in force."""
    try:
        response = call(
            client,
            "update_item",
            doctors,
            Key=doctors.key(doctor_id=doctor_id),
            # if_not_exists: a repeated DELETE keeps the first mark, so the one that finishes
            # the work can still delete the doctor item (its condition names that mark). A
            # retried attempt of this very call sets nothing new either.
            UpdateExpression=f"SET #{MARK} = if_not_exists(#{MARK}, :mark)",
            # Update, never upsert: an absent doctor is a 404, not a stub item.
            ConditionExpression="attribute_exists(#doctor_id)",
            ExpressionAttributeNames=doctors.names("doctor_id", MARK),
            ExpressionAttributeValues=values(mark=new_mark),
            ReturnValues="ALL_NEW",  # UPDATED_NEW omits an unchanged mark on some engines
        )
    except ConditionFailed as exc:
        raise NotFoundError(f"doctor {doctor_id} not found") from exc
    return str(doctors.from_item(response["Attributes"])[MARK])


def unmark(client: Any, doctors: TableRef, doctor_id: str, old_mark: str) -> None:
    """Clear the mark if it is still ``old_mark`` (a later deletion's mark is not ours)."""
    # Failing means gone, unmarked or re-marked meanwhile: nothing of ours to clear.
    with contextlib.suppress(ConditionFailed):
        call(
            client,
            "update_item",
            doctors,
            Key=doctors.key(doctor_id=doctor_id),
            UpdateExpression=f"REMOVE #{MARK}",
            ConditionExpression=f"#{MARK} = :mark",
            ExpressionAttributeNames=doctors.names(MARK),
            ExpressionAttributeValues=values(mark=old_mark),
        )


def delete_doctor(client: Any, doctors: TableRef, doctor_id: str, mark_: str | None) -> None:
    """Delete the doctor item (given ``mark_``, only while it carries that mark)."""
    condition = "attribute_exists(#doctor_id)"
    request: dict[str, Any] = {"ExpressionAttributeNames": doctors.names("doctor_id")}
    if mark_ is not None:
        # Only the deletion that marked it: if a 409 cleared the mark meanwhile (and slots
        # may have been added since), deleting now could orphan them.
        condition += f" AND #{MARK} = :mark"
        request["ExpressionAttributeNames"] = doctors.names("doctor_id", MARK)
        request["ExpressionAttributeValues"] = values(mark=mark_)
    try:
        call(
            client,
            "delete_item",
            doctors,
            Key=doctors.key(doctor_id=doctor_id),
            # attribute_exists tells "deleted" from "was never there" (DeleteItem succeeds on
            # both); ALL_OLD tells "gone" from "mark changed".
            ConditionExpression=condition,
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
            **request,
        )
    except ConditionFailed as failed:
        if failed.item is None:
            if failed.retried:
                return  # our own first attempt deleted it and its answer was lost
            raise NotFoundError(f"doctor {doctor_id} not found") from failed
        raise ConflictError("the doctor's deletion was called off or restarted") from failed


def doctor_guard(doctors: TableRef, doctor_id: str) -> dict[str, Any]:
    """The ``ConditionCheck`` a slot-creating transaction carries: the doctor exists and is
    not being deleted (its failure is told apart by :func:`refusal`)."""
    return {
        "ConditionCheck": {
            "TableName": doctors.name,
            "Key": doctors.key(doctor_id=doctor_id),
            "ConditionExpression": (
                f"attribute_exists(#doctor_id) AND attribute_not_exists(#{MARK})"
            ),
            "ExpressionAttributeNames": doctors.names("doctor_id", MARK),
        }
    }


def refusal(client: Any, doctors: TableRef, doctor_id: str) -> Exception:
    """Why :func:`doctor_guard` failed: a consistent read of the doctor item (a rare path)."""
    response = call(
        client, "get_item", doctors, Key=doctors.key(doctor_id=doctor_id), ConsistentRead=True
    )
    if "Item" not in response:
        return NotFoundError(f"doctor {doctor_id} not found")
    return ConflictError(f"doctor {doctor_id} is being deleted; no slots can be added")


class ScheduleDeletion(SlotTable):
    """The slot side of a doctor's deletion, as methods of ``DynamoSlotRepository``."""

    def read_future(self, doctor_id: str, desde: str, now: str) -> FutureSchedule:
        """The doctor's slots from ``desde`` up to the first one booked or held live at ``now``:
        consistent Query pages (a slot created just before the mark is seen), times and states
        only."""
        slots = self._table
        free: list[str] = []
        request: dict[str, Any] = {
            "KeyConditionExpression": "#doctor_id = :doctor_id AND #fecha_hora >= :desde",
            "ProjectionExpression": "#fecha_hora, #estado, #retenido_hasta",
            "ExpressionAttributeNames": slots.names(
                "doctor_id", "fecha_hora", "estado", "retenido_hasta"
            ),
            "ExpressionAttributeValues": values(doctor_id=doctor_id, desde=desde),
            "ConsistentRead": True,
        }
        while True:
            response = call(self._client, "query", slots, **request)
            for item in response.get("Items", []):
                found = slots.from_item(item)
                slot = Slot(
                    doctor_id,
                    found["fecha_hora"],
                    estado=found.get("estado", DISPONIBLE),
                    retenido_hasta=found.get("retenido_hasta"),
                )
                if blocks_doctor_deletion(slot, now):
                    return FutureSchedule(free, taken_at=slot.fecha_hora)
                free.append(slot.fecha_hora)
            if "LastEvaluatedKey" not in response:
                return FutureSchedule(free)
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def delete_free(self, doctor_id: str, fechas: Sequence[str], now: str) -> FreeSlotsDeletion:
        """One bounded step of a doctor deletion: delete the slots at ``fechas`` in parallel,
        each with a condition that fails on a slot booked or held live since it was read (see
        :meth:`read_future`)."""
        outcomes = fan_out.map_calls(lambda t: self._delete_free(doctor_id, t, now), fechas)
        taken = [t for t, outcome in zip(fechas, outcomes, strict=True) if outcome == "taken"]
        return FreeSlotsDeletion(
            removed=outcomes.count("deleted"), taken_at=min(taken) if taken else None
        )

    def _delete_free(self, doctor_id: str, fecha_hora: str, now: str) -> str:
        try:
            call(
                self._client,
                "delete_item",
                self._table,
                Key=self._table.key(doctor_id=doctor_id, fecha_hora=fecha_hora),
                # The slot DELETE's condition: a slot booked, or held live, since it was read
                # stays, and stops the deletion (a 409); an expired hold is free to delete.
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **self._condition(CONDITIONS[Precondition.DELETABLE], now=now),
            )
        except ConditionFailed as failed:
            if failed.item is not None:
                return "taken"
            # Gone: our own retried attempt deleted it, or a concurrent delete did.
            return "deleted" if failed.retried else "gone"
        return "deleted"
