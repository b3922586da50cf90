"""The slot table on DynamoDB: its items, the one consistent read, the domain's writes rendered.

:class:`SlotTable` is what every part of ``DynamoSlotRepository`` shares: the client, the
``horarios_doctores`` table and :meth:`SlotTable._read`, the one consistent ``GetItem`` of "the
slot item now". The domain (``domain/slots.py``) decides what an action does; here each of its
``Precondition`` states is rendered once as a condition expression (:data:`CONDITIONS`) and a
``Write``'s changes once as a SET/REMOVE update expression (:meth:`SlotTable._update`), so that
booking (:mod:`.booking`) and holds (:mod:`.holds`) only send the write the domain answers and
hand the old item of a failed condition (``ReturnValuesOnConditionCheckFailure=ALL_OLD``) back
to it. The hold's seat (``retenido_asiento``, see :mod:`.holds`) is the one storage-only
attribute: it follows the hold's nonce ``retencion``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from health_api.domain.errors import NotFoundError
from health_api.domain.models import DISPONIBLE, RESERVADO, RETENIDO, Slot, SlotKey, slot_at
from health_api.domain.slots import Precondition, Write
from health_api.storage.base import resolve_now
from health_api.storage.dynamodb.items import TableRef, call, values

# Free at :now: disponible, or retenido with its hold lapsed (no sweeper needed: whatever wants
# a free slot accepts a lapsed hold).
FREE_AT = "#estado = :disponible OR (#estado = :retenido AND #retenido_hasta <= :now)"
CONDITIONS: dict[Precondition, str] = {
    # The slot exists (an UpdateItem would otherwise create it) and is free at :now.
    Precondition.FREE: f"attribute_exists(#fecha_hora) AND ({FREE_AT})",
    # The user's hold under this nonce, still live at :now: a hold taken since, or by another
    # user, carries another nonce.
    Precondition.HELD_LIVE_BY: (
        "#estado = :retenido AND #retenido_por = :user AND #retencion = :nonce"
        " AND #retenido_hasta > :now"
    ),
    # Booked by the user (a missing item fails this too: it has no estado).
    Precondition.BOOKED_BY: "#estado = :reservado AND #user_id = :user",
    # Still carries the hold under this nonce, live or lapsed (clearing a lapsed one is harmless).
    Precondition.CARRIES_HOLD: "#estado = :retenido AND #retencion = :nonce",
    # What a slot DELETE and a doctor's deletion may remove: an existing slot neither booked
    # nor held live at :now (an expired hold is free to delete).
    Precondition.DELETABLE: (
        "attribute_exists(#fecha_hora) AND #estado <> :reservado"
        " AND NOT (#estado = :retenido AND #retenido_hasta > :now)"
    ),
}
SEAT = "retenido_asiento"  # storage only: the seat of the user's seats item a hold took


def slot_of(item: Mapping[str, Any] | None) -> Slot | None:
    """The Slot stored in ``item`` (logical names); None for no item."""
    if item is None:
        return None
    return Slot(
        doctor_id=item["doctor_id"],
        fecha_hora=item["fecha_hora"],
        duracion_min=int(item.get("duracion_min", 30)),
        estado=item.get("estado", DISPONIBLE),
        user_id=item.get("user_id"),
        motivo=item.get("motivo"),
        reservado_en=item.get("reservado_en"),
        retenido_por=item.get("retenido_por"),
        retenido_hasta=item.get("retenido_hasta"),
        retencion=item.get("retencion"),
    )


def slot_to_plain(slot: Slot) -> dict[str, Any]:
    """The item of ``slot`` (logical names; None values are left out when marshalled)."""
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


def condition_values(expression: str, **given: Any) -> dict[str, Any]:
    """The ``:value`` placeholders ``expression`` uses, from the states and ``given`` (an
    unused placeholder is a ValidationException, so only those it names)."""
    known = {"disponible": DISPONIBLE, "retenido": RETENIDO, "reservado": RESERVADO, **given}
    return {name: known[name] for name in dict.fromkeys(re.findall(r":(\w+)", expression))}


def names_in(*expressions: str) -> list[str]:
    """The ``#name`` placeholders the expressions use, each once."""
    return list(dict.fromkeys(re.findall(r"#(\w+)", " ".join(expressions))))


def update_expression(
    changes: Mapping[str, str | None], seat: str | None = None
) -> tuple[str, dict[str, Any]]:
    """``changes`` as ``SET #a = :a ... REMOVE #b ...`` and its values; the seat follows the
    hold's nonce (set to ``seat`` with it, removed with it)."""
    sets = {name: value for name, value in changes.items() if value is not None}
    removes = [name for name, value in changes.items() if value is None]
    if "retencion" in changes:
        if changes["retencion"] is None:
            removes.append(SEAT)
        elif seat is not None:
            sets[SEAT] = seat
    clauses = []
    if sets:
        clauses.append("SET " + ", ".join(f"#{n} = :{n}" for n in sets))
    if removes:
        clauses.append("REMOVE " + ", ".join(f"#{n}" for n in removes))
    return " ".join(clauses), sets


class SlotTable:
    """The state the parts of ``DynamoSlotRepository`` share, and the slot's one read."""

    def __init__(self, client: Any, table: TableRef, doctors: TableRef | None = None) -> None:
        self._client = client
        self._table = table
        self._doctors = doctors  # the doctor guard's table (add_for_doctor)

    def _key(self, key: SlotKey) -> dict[str, Any]:
        return self._table.key(doctor_id=key.doctor_id, fecha_hora=key.fecha_hora)

    def _read(self, key: SlotKey) -> dict[str, Any] | None:
        """The slot item as it is now (one consistent GetItem, logical names), None if absent."""
        response = call(
            self._client, "get_item", self._table, Key=self._key(key), ConsistentRead=True
        )
        return self._table.from_item(response.get("Item"))

    def get(self, key: SlotKey, *, now: str | None = None) -> Slot:
        """The slot as it is at ``now``, or ``NotFoundError``."""
        slot = slot_of(self._read(key))
        if slot is None:
            raise NotFoundError("slot not found")
        return slot_at(slot, resolve_now(now))

    def _condition(self, expression: str, **given: Any) -> dict[str, Any]:
        """A request's ``ConditionExpression`` with the names and values it uses."""
        return {
            "ConditionExpression": expression,
            "ExpressionAttributeNames": self._table.names(*names_in(expression)),
            "ExpressionAttributeValues": values(**condition_values(expression, **given)),
        }

    def _update(
        self, key: SlotKey, write: Write, user_id: str | None, now: str, seat: str | None = None
    ) -> dict[str, Any]:
        """The transaction item of ``write`` on the slot ``key``: its changes (and ``seat``)
        under its precondition for ``user_id`` at ``now``; a failed condition returns the old
        item."""
        if write.when is Precondition.HELD_LIVE_BY and write.nonce is None:  # pragma: no cover
            raise ValueError("DynamoDB consumes a hold under its nonce, which names its seat")
        condition = CONDITIONS[write.when]
        expression, sets = update_expression(write.changes, seat)
        given = condition_values(condition, now=now, user=user_id, nonce=write.nonce)
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": self._key(key),
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": self._table.names(*names_in(expression, condition)),
                "ExpressionAttributeValues": values(**sets, **given),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _update_alone(self, update: dict[str, Any], *, new: bool = False) -> dict[str, Any] | None:
        """Send a transaction item of :meth:`update` as one UpdateItem; ``new``: answer the item
        as written (``ALL_NEW``). ``ConditionFailed`` carries the old item."""
        request = {k: v for k, v in update["Update"].items() if k != "TableName"}
        if new:
            request["ReturnValues"] = "ALL_NEW"
        response = call(self._client, "update_item", self._table, **request)
        return self._table.from_item(response.get("Attributes"))
