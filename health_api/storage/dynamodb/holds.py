"""Holds on DynamoDB: hold, get_hold, release_hold, and each user's seats item for the limit.

A hold lives on the slot (``estado = retenido``, ``retenido_por``, ``retenido_hasta``, the nonce
``retencion`` and the seat it took, ``retenido_asiento``); the holder never goes into
``user_id``, so holds stay out of ``user_id-index``. An expired hold needs no sweeper: the
``FREE`` condition accepts ``retenido`` with ``retenido_hasta <= :now``.

``HOLD_MAX_PER_USER`` is exact although holds expire lazily: each user has one seats item in the
same table (hash key ``"#holds#" + user_id``, which no doctor id can be, range key ``"#seats"``,
never a ``user_id`` attribute) with up to ``max_per_user`` seats ``s0``, ``s1``... each
``{hasta, nonce, slot}``; a seat whose ``hasta`` has passed is free. Taking a hold is ONE
``TransactWriteItems``: the slot's update and the update of one seat conditioned on that seat
being free, so two parallel holds can never take the same seat. A failed seat condition returns
the seats item (``ALL_OLD``), from which the next free seat is chosen, a bounded number of times.
Consuming (booking) or releasing a hold frees its seat in the same transaction, conditioned on
the seat still carrying the hold's nonce; should it not (the seat was reused after the hold
expired), the slot is written alone. What a hold does to the slot is the domain's
(``domain/slots.py``); the seats are storage's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from health_api.domain import slots as rules
from health_api.domain.errors import StorageUnavailableError
from health_api.domain.models import Hold, HoldResult, Slot, SlotKey, hold_of
from health_api.domain.requests import HoldRequest
from health_api.domain.slots import Keep, Outcome, Write
from health_api.storage.dynamodb.items import ConditionFailed, call, values
from health_api.storage.dynamodb.slot_table import SEAT, SlotTable, slot_of

SEATS_PREFIX = "#holds#"  # hash key prefix of a user's seats item (ID_PATTERN forbids "#")
SEATS_RANGE = "#seats"
# Writes made on one request before it gives up (each after the slot changed under the last).
ATTEMPTS = 4


def seats_key(table: Any, user_id: str) -> dict[str, Any]:
    """The primary key of ``user_id``'s seats item."""
    return table.key(doctor_id=SEATS_PREFIX + user_id, fecha_hora=SEATS_RANGE)


def seat_names(max_per_user: int) -> list[str]:
    """The seats of a user, in the fixed order they are tried."""
    return [f"s{i}" for i in range(max_per_user)]


def live_seat(seat: Any, now: str) -> bool:
    """Whether ``seat`` (a seat's map, or None) is taken at ``now``."""
    return isinstance(seat, dict) and str(seat.get("hasta", "")) > now


def free_seats(seats: dict[str, Any] | None, max_per_user: int, now: str) -> list[str]:
    """The seats free at ``now`` in a seats item (None: no item yet, all free)."""
    seats = seats or {}
    return [s for s in seat_names(max_per_user) if not live_seat(seats.get(s), now)]


class HoldMethods(SlotTable):
    """The hold methods of ``DynamoSlotRepository``, and the write that ends a hold."""

    def hold(self, request: HoldRequest, now: str) -> HoldResult:
        """Hold the slot for ``user_id``: one transaction (slot + one free seat), written
        before any read; a failed slot condition's old item goes to the domain."""
        key, user_id, max_per_user = request.key, request.user_id, request.max_per_user
        nonce, expires_at = request.nonce, request.expires_at
        # What ``rules.hold`` answers for a free slot, sent before any read.
        write = rules.hold_write(user_id, nonce, expires_at)
        seat = seat_names(max_per_user)[0]
        for _ in range(max_per_user + 2):
            try:
                self._take(request, write, now, seat)
            except ConditionFailed as failed:
                slot_reason, seat_reason = [*failed.reasons, {}, {}][:2]
                if slot_reason.get("code") == "ConditionalCheckFailed" or not failed.reasons:
                    old, retried = slot_of(slot_reason.get("item")), failed.retried
                    outcome = rules.hold(old, user_id, nonce, expires_at, now, retried=retried)
                    if isinstance(outcome, Keep):
                        return HoldResult(hold_of(outcome.slot), created=outcome.created)
                    write = outcome  # another write, under its own condition
                    continue
                seats = seat_reason.get("item")
                free = free_seats(seats, max_per_user, now)
                if not free:
                    return self._at_limit(request, seats, now)
                seat = free[0]
                continue
            # The transaction returns no item, and the slot's duracion_min is not known here:
            # one consistent read gives the whole slot.
            held = slot_of(self._read(key)) or write.applied_to(Slot(key.doctor_id, key.fecha_hora))
            return HoldResult(hold_of(held), created=True)
        raise StorageUnavailableError("the user's hold seats kept changing; try again")

    def _take(self, request: HoldRequest, write: Write, now: str, seat: str) -> None:
        key = request.key
        seat_update = {
            "Update": {
                "TableName": self._table.name,
                "Key": seats_key(self._table, request.user_id),
                "UpdateExpression": "SET #seat = :seat",
                # This seat is free: never taken, or its hold's expiry has passed.
                "ConditionExpression": "attribute_not_exists(#seat) OR #seat.#hasta <= :now",
                "ExpressionAttributeNames": {"#seat": seat, "#hasta": "hasta"},
                "ExpressionAttributeValues": values(
                    seat={
                        "hasta": request.expires_at,
                        "nonce": request.nonce,
                        "slot": f"{key.doctor_id}|{key.fecha_hora}",
                    },
                    now=now,
                ),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        slot_update = self._update(key, write, request.user_id, now, seat)
        call(
            self._client,
            "transact_write_items",
            self._table,
            TransactItems=[slot_update, seat_update],
        )

    def _at_limit(self, request: HoldRequest, seats: dict[str, Any] | None, now: str) -> HoldResult:
        """Every seat is live: ``HoldLimitError``, unless one of them is this very slot's hold
        and the domain, shown the slot, keeps it (a repeat never counts twice)."""
        key = request.key
        wanted = f"{key.doctor_id}|{key.fecha_hora}"
        live = [s for s in (seats or {}).values() if live_seat(s, now)]
        if any(s.get("slot") == wanted for s in live):
            slot = slot_of(self._read(key))
            outcome = rules.hold(slot, request.user_id, request.nonce, request.expires_at, now)
            if isinstance(outcome, Keep):
                return HoldResult(hold_of(outcome.slot), created=False)
        rules.check_hold_limit(len(live), request.max_per_user)  # no seat is free: it raises
        raise StorageUnavailableError("the hold seats changed; try again")  # pragma: no cover

    def get_hold(self, key: SlotKey, nonce: str, now: str) -> Hold:
        """The live hold with ``nonce`` on the slot (one consistent GetItem), else NotFound."""
        return rules.live_hold(slot_of(self._read(key)), nonce, now)

    def release_hold(self, key: SlotKey, nonce: str, now: str) -> None:
        """Clear the hold with ``nonce`` if the slot still carries it and free its seat; gone
        already is fine. One consistent read (the seat and holder), then one transaction."""
        self._settle(key, lambda slot, _: rules.release(slot, nonce), self._read(key), None, now)

    def _settle(
        self,
        key: SlotKey,
        ask: Callable[[Slot | None, bool], Outcome | None],
        old: dict[str, Any] | None,
        user_id: str | None,
        now: str,
        retried: bool = False,
    ) -> tuple[Outcome | None, Slot | None]:
        """Ask the domain (``ask(slot, retried)``) what to do with the slot item ``old`` and make
        the write it answers, freeing the seat of a hold the write ends; when its condition
        fails, ask again with the item the failure returned. Answers the domain's last answer
        and the slot it was made from (a write made applies to it: its condition held)."""
        for _ in range(ATTEMPTS):
            outcome = ask(slot_of(old), retried)
            if not isinstance(outcome, Write):
                return outcome, slot_of(old)
            try:
                self._write_ending_hold(key, outcome, user_id, now, old)
            except ConditionFailed as failed:
                old, retried = failed.item, failed.retried
                continue
            return outcome, slot_of(old)
        raise StorageUnavailableError("the slot kept changing; try again")

    def _write_ending_hold(
        self, key: SlotKey, write: Write, user_id: str | None, now: str, old: dict[str, Any] | None
    ) -> None:
        """Make ``write`` and free the seat of the hold ``old`` carried in one transaction; when
        only the seat's condition failed (reused after the hold expired), the slot's write
        alone. ``ConditionFailed`` (with the slot's old item) when the slot's failed."""
        update = self._update(key, write, user_id, now)
        free_seat = self._seat_freed(old, write)
        if free_seat is None:
            self._update_alone(update)
            return
        try:
            call(
                self._client, "transact_write_items", self._table, TransactItems=[update, free_seat]
            )
        except ConditionFailed as failed:
            slot_reason = [*failed.reasons, {}][0]
            if slot_reason.get("code") == "ConditionalCheckFailed":
                raise ConditionFailed(slot_reason.get("item"), retried=failed.retried) from failed
            self._update_alone(update)

    def _seat_freed(self, old: dict[str, Any] | None, write: Write) -> dict[str, Any] | None:
        """The transaction item freeing the seat of the hold the slot item ``old`` carries, when
        ``write`` (made under that hold's nonce) ends it; None when it does not, or the hold
        has no seat (taken before seats existed)."""
        old = old or {}
        seat, holder, nonce = old.get(SEAT), old.get("retenido_por"), old.get("retencion")
        ends_it = write.nonce == nonce and write.changes.get("retencion", "") is None
        if not (seat and holder and nonce and ends_it):
            return None
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": seats_key(self._table, holder),
                "UpdateExpression": "REMOVE #seat",
                # Only this hold's seat: one reused after the hold expired is another hold's.
                "ConditionExpression": "#seat.#nonce = :nonce",
                "ExpressionAttributeNames": {"#seat": seat, "#nonce": "nonce"},
                "ExpressionAttributeValues": values(nonce=nonce),
            }
        }
