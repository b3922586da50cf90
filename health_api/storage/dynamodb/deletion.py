"""Deleting a doctor on DynamoDB in bounded steps, without making bookings transactions.

The service (``services/doctors.py``) marks the doctor item (``eliminando_desde``), deletes the
doctor's future slots a step at a time with conditional deletes that fail on a booked slot, and
deletes the doctor item last, only while it still carries its mark. Every slot creation of the
service is a transaction that holds a ``ConditionCheck`` on the doctor item (:func:`doctor_guard`),
so once the mark is written no slot can appear behind the deletion; a booking stays one
conditional write on the slot, and a slot booked before its delete makes that delete fail.

A write that botocore retried after its first attempt committed (the answer was lost) finds its
own work done: "already gone" then counts as done (``ConditionFailed.retried``).
"""

from __future__ import annotations

import contextlib
from typing import Any

from health_api.domain.errors import ConflictError, NotFoundError
from health_api.domain.models import RESERVADO
from health_api.storage.base import FreeSlotsDeletion
from health_api.storage.dynamodb import fan_out
from health_api.storage.dynamodb.items import ConditionFailed, TableRef, call, values

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


def delete_free_from(
    client: Any, slots: TableRef, doctor_id: str, desde: str, limit: int
) -> FreeSlotsDeletion:
    """One bounded step: read up to ``limit + 1`` of the doctor's slots from ``desde`` (one
    consistent Query, so a slot created just before the mark is seen) and delete the free ones
    before the first booked one, in parallel, each with a condition that fails on a booking."""
    response = call(
        client,
        "query",
        slots,
        KeyConditionExpression="#doctor_id = :doctor_id AND #fecha_hora >= :desde",
        ProjectionExpression="#fecha_hora, #estado",
        ExpressionAttributeNames=slots.names("doctor_id", "fecha_hora", "estado"),
        ExpressionAttributeValues=values(doctor_id=doctor_id, desde=desde),
        ConsistentRead=True,
        Limit=limit + 1,
    )
    found = [slots.from_item(item) for item in response.get("Items", [])]
    more = len(found) > limit or "LastEvaluatedKey" in response
    booked = [s["fecha_hora"] for s in found[:limit] if s.get("estado") == RESERVADO]
    free = [s["fecha_hora"] for s in found[:limit] if not booked or s["fecha_hora"] < booked[0]]
    outcomes = fan_out.map_calls(lambda t: _delete_free(client, slots, doctor_id, t), free)
    booked += [t for t, outcome in zip(free, outcomes, strict=True) if outcome == "booked"]
    return FreeSlotsDeletion(
        removed=outcomes.count("deleted"),
        booked_at=min(booked) if booked else None,
        more=more,
    )


def _delete_free(client: Any, slots: TableRef, doctor_id: str, fecha_hora: str) -> str:
    try:
        call(
            client,
            "delete_item",
            slots,
            Key=slots.key(doctor_id=doctor_id, fecha_hora=fecha_hora),
            # A slot booked since the Query stays, and stops the deletion (a 409).
            ConditionExpression="attribute_exists(#fecha_hora) AND #estado <> :reservado",
            ExpressionAttributeNames=slots.names("fecha_hora", "estado"),
            ExpressionAttributeValues=values(reservado=RESERVADO),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ConditionFailed as failed:
        if failed.item is not None:
            return "booked"
        # Gone: our own retried attempt deleted it, or a concurrent delete did.
        return "deleted" if failed.retried else "gone"
    return "deleted"
