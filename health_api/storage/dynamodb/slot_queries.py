"""Read-only slot queries on DynamoDB: a doctor's sort-key range, the free slots of several
doctors merged, a user's appointments.

Every one is a Query on a key condition, never a Scan. ``estado`` is a non-key attribute and
may be a FilterExpression; key attributes are only ever constrained in the
KeyConditionExpression (AWS rejects a FilterExpression on a key, though moto accepts it).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from typing import Any

from health_api.domain.errors import InvalidRequestError
from health_api.domain.models import DISPONIBLE, RETENIDO, Page, Slot, slot_at
from health_api.domain.requests import FreeSlotSearch, SlotRange, UserBookings
from health_api.domain.slots import Precondition, meets
from health_api.storage import cursor as cursors
from health_api.storage.base import FreeSlots, resolve_now
from health_api.storage.dynamodb import bounded, fan_out
from health_api.storage.dynamodb.items import TableRef, resume, values
from health_api.storage.dynamodb.slot_table import FREE_AT, SlotTable, slot_of
from health_api.storage.tables import USER_ID_INDEX

# What each estado filter keeps at :now: an expired hold is disponible, not retenido.
ESTADO_FILTERS = {
    DISPONIBLE: FREE_AT,
    RETENIDO: "#estado = :retenido AND #retenido_hasta > :now",
}


def _range_request(
    table: TableRef,
    doctor_id: str,
    desde: str,
    hasta: str,
    estado: str | None,
    consistent: bool,
    now: str,
) -> dict[str, Any]:
    request: dict[str, Any] = {
        # BETWEEN is inclusive at both ends, as the contract's range is.
        "KeyConditionExpression": (
            "#doctor_id = :doctor_id AND #fecha_hora BETWEEN :desde AND :hasta"
        ),
        "ExpressionAttributeNames": table.names("doctor_id", "fecha_hora"),
        "ExpressionAttributeValues": values(doctor_id=doctor_id, desde=desde, hasta=hasta),
        "ConsistentRead": consistent,
    }
    if estado is not None:
        # estado is not a key attribute, so a filter is allowed; it discards after reading,
        # hence the wider reads per call and the read budget per request.
        # disponible and retenido depend on :now (see ESTADO_FILTERS); the others do not.
        if estado in ESTADO_FILTERS:
            request["FilterExpression"] = ESTADO_FILTERS[estado]
            request["ExpressionAttributeNames"] |= table.names("estado", "retenido_hasta")
            given = {"retenido": RETENIDO, "now": now}
            if estado == DISPONIBLE:
                given["disponible"] = DISPONIBLE
            request["ExpressionAttributeValues"] |= values(**given)
        else:
            request["FilterExpression"] = "#estado = :estado"
            request["ExpressionAttributeNames"] |= table.names("estado")
            request["ExpressionAttributeValues"] |= values(estado=estado)
    return request


def _cursor(query: str, found: bounded.Collected, fields: tuple[str, ...]) -> str | None:
    if found.resume is None:
        return None
    return cursors.encode(query, {f: str(found.resume[f]) for f in fields})


class SlotQueries(SlotTable):
    """The read-only queries of ``DynamoSlotRepository``."""

    def list_range(self, query: SlotRange, *, now: str | None = None) -> Page[Slot]:
        """Slots with ``desde <= fecha_hora <= hasta`` in time order: one range Query per page,
        reading at most ``bounded.READ_BUDGET`` items (a short page with a cursor past them)."""
        doctor_id, desde, hasta, estado = query.doctor_id, query.desde, query.hasta, query.estado
        if desde > hasta:
            raise InvalidRequestError("desde must not be after hasta")
        now = resolve_now(now)
        table = self._table
        fingerprint = cursors.fingerprint(
            "dynamodb", "horarios_doctores", doctor_id, desde, hasta, estado
        )
        position = resume(
            query.cursor, fingerprint, ("fecha_hora",), lambda p: desde <= p["fecha_hora"] <= hasta
        )
        start = None
        if position:
            start = table.key(doctor_id=doctor_id, fecha_hora=position["fecha_hora"])
        request = _range_request(table, doctor_id, desde, hasta, estado, query.consistent, now)
        read_factor = 1 if estado is None else 4
        found = bounded.collect_bounded(
            self._client, table, request, query.limit, start, read_factor=read_factor
        )
        slots = [slot_at(slot_of(i), now) for i in found.items]
        return Page(slots, _cursor(fingerprint, found, ("fecha_hora",)))

    def list_free_of_doctors(self, search: FreeSlotSearch, *, now: str | None = None) -> FreeSlots:
        """The free slots of ``doctor_ids`` in ``[desde, hasta]`` (after ``after``), in
        ``(fecha_hora, doctor_id)`` order, at most ``limit``: one eventually consistent range Query
        per doctor (each its own partition), run in parallel, each reading no more than that doctor
        could contribute, at most ``bounded.READ_BUDGET`` items and at most its share of
        ``read_budget`` (at least one item), merged with a heap.

        A doctor whose read ran out of budget at instant T has been read up to (T, doctor) only:
        the merge stops at the least-advanced such position (``stopped_at``), so no slot of another
        doctor after it is returned before this doctor's slots up to there.
        """
        desde, hasta, limit, after = search.desde, search.hasta, search.limit, search.after
        if limit < 1:
            raise InvalidRequestError("limit must be a positive whole number")
        now = resolve_now(now)
        client, table = self._client, self._table
        if desde > hasta:
            raise InvalidRequestError("desde must not be after hasta")
        if after is not None:
            desde = max(desde, after[0])
            if desde > hasta:
                return FreeSlots()

        ids = list(dict.fromkeys(search.doctor_ids))
        # The request's read budget, shared: 200 doctors must not read 200 budgets.
        budget = bounded.READ_BUDGET
        if search.read_budget is not None and ids:
            budget = min(budget, max(search.read_budget // len(ids), 1))

        def free_of(doctor_id: str) -> tuple[list[Slot], tuple[str, str] | None]:
            start = None
            if after is not None and after[0] == desde and doctor_id <= after[1]:
                # This doctor's slot at the resume instant was already returned: start past it.
                start = table.key(doctor_id=doctor_id, fecha_hora=desde)
            # Eventual: a slot shown free a moment too long is refused by booking's condition.
            request = _range_request(table, doctor_id, desde, hasta, DISPONIBLE, False, now)
            found = bounded.collect_bounded(
                client, table, request, limit, start, read_factor=4, budget=budget
            )
            stop = None
            if found.resume is not None and len(found.items) < limit:
                stop = (str(found.resume["fecha_hora"]), doctor_id)
            return [slot_at(slot_of(i), now) for i in found.items], stop

        per_doctor = fan_out.map_reads(free_of, ids)
        stops = [stop for _, stop in per_doctor if stop is not None]
        boundary = min(stops) if stops else None
        merged: Iterable[Slot] = heapq.merge(
            *(slots for slots, _ in per_doctor), key=lambda slot: (slot.fecha_hora, slot.doctor_id)
        )
        if boundary is not None:
            merged = itertools.takewhile(lambda s: (s.fecha_hora, s.doctor_id) <= boundary, merged)
        slots = list(itertools.islice(merged, limit))
        return FreeSlots(slots, boundary if boundary is not None and len(slots) < limit else None)

    def list_for_user(self, query: UserBookings, *, now: str | None = None) -> Page[Slot]:
        """The user's booked slots from ``desde`` in time order, from the sparse ``user_id-index``,
        each confirmed against the base table (see :func:`bounded.confirm`); holds never appear
        (the holder is not in ``user_id``), so ``now`` changes nothing.

        The index lags the table: confirming drops a slot the user no longer holds (a cancel the
        index has not seen yet), but cannot add a booking the index does not show yet. The cursor
        is the last *index* item read, so a dropped item never stalls paging (a page may be short).
        """
        del now
        user_id, desde, limit = query.user_id, query.desde, query.limit
        client, table = self._client, self._table
        fingerprint = cursors.fingerprint(
            "dynamodb", "horarios_doctores", USER_ID_INDEX, user_id, desde
        )
        fields = ("doctor_id", "fecha_hora")
        position = resume(
            query.cursor, fingerprint, fields, lambda p: desde is None or p["fecha_hora"] >= desde
        )
        start = None
        if position:
            # A GSI's ExclusiveStartKey carries the index key and the table key.
            start = table.key(user_id=user_id, **position)
        request: dict[str, Any] = {
            "IndexName": USER_ID_INDEX,
            "KeyConditionExpression": "#user_id = :user_id",
            "ExpressionAttributeNames": table.names("user_id"),
            "ExpressionAttributeValues": values(user_id=user_id),
        }
        if desde is not None:
            request["KeyConditionExpression"] += " AND #fecha_hora >= :desde"
            request["ExpressionAttributeNames"] |= table.names("fecha_hora")
            request["ExpressionAttributeValues"] |= values(desde=desde)
        found = bounded.collect_bounded(client, table, request, limit, start)
        held = bounded.confirm(
            client,
            table,
            found.items,
            # Still this user's booking in the table (the index may lag it).
            lambda item: meets(Precondition.BOOKED_BY, slot_of(item), user_id, "", None),
        )
        return Page([slot_of(i) for i in held], _cursor(fingerprint, found, fields))
