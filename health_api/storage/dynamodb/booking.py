"""Booking on DynamoDB: book, cancel and reschedule, each the one write the domain answers.

The domain (``domain/slots.py``) decides; this module sends the write it answers under the
condition it names (rendered once in :mod:`.slot_table`) and, when that condition fails, hands
the old item DynamoDB returned (``ReturnValuesOnConditionCheckFailure=ALL_OLD``) back to it:

- a booking without a hold is written before any read: one ``UpdateItem`` under ``FREE``. On a
  failed condition the old item says what it is: this user's booking (kept; ``created`` when
  botocore resent this very call after its first attempt committed), a live hold of this user
  (consumed, with its seat, in one ``TransactWriteItems``, see :mod:`.holds`), or the problem;
- a booking with the hold's nonce reads the slot first (one consistent ``GetItem``, which names
  the hold's seat), then one ``TransactWriteItems`` (slot + seat);
- a cancel is one ``UpdateItem`` under ``BOOKED_BY``; the old item of a failed one may show this
  user's live hold, released with its seat, or a slot already free (kept);
- a reschedule reads both slots in one consistent ``BatchGetItem`` and frees one and books the
  other in one ``TransactWriteItems``, whose ``CancellationReasons`` items name the problem.
"""

from __future__ import annotations

from typing import Any

from health_api.domain import slots as rules
from health_api.domain.models import BookingResult, Slot, SlotKey
from health_api.domain.requests import BookingRequest
from health_api.domain.slots import Keep
from health_api.storage.base import resolve_now
from health_api.storage.dynamodb import bounded
from health_api.storage.dynamodb.holds import HoldMethods
from health_api.storage.dynamodb.items import ConditionFailed, call
from health_api.storage.dynamodb.slot_table import slot_of


class BookingMethods(HoldMethods):
    """The booking methods of ``DynamoSlotRepository``."""

    def book(self, request: BookingRequest, now: str) -> BookingResult:
        """Book a free slot for ``user_id`` with one conditional UpdateItem; a slot this user
        holds with one transaction that consumes the hold (see the module)."""
        key, user_id = request.key, request.user_id
        motivo, hold_nonce = request.motivo, request.hold_nonce
        retried = False
        if hold_nonce is None:
            first = rules.booking_write(user_id, motivo, now)
            try:
                written = self._update_alone(self._update(key, first, user_id, now), new=True)
            except ConditionFailed as failed:
                old, retried = failed.item, failed.retried
            else:
                return BookingResult(slot_of(written), created=True)
        else:
            old = self._read(key)
        outcome, slot = self._settle(
            key,
            lambda slot, again: rules.book(slot, user_id, motivo, now, hold_nonce, retried=again),
            old,
            user_id,
            now,
            retried,
        )
        if isinstance(outcome, Keep):
            return BookingResult(outcome.slot, created=outcome.created)
        return BookingResult(outcome.applied_to(slot), created=True)

    def cancel(self, key: SlotKey, user_id: str, now: str | None = None) -> Slot:
        """Free a slot booked by ``user_id`` (one conditional UpdateItem) and return it; this
        user's live hold is released instead (one transaction with its seat). Already free, an
        expired hold, or blocked: returned as it is at ``now``."""
        now = resolve_now(now)
        first = self._update(key, rules.cancel_write(), user_id, now)
        try:
            return slot_of(self._update_alone(first, new=True))
        except ConditionFailed as failed:
            old = failed.item
        outcome, slot = self._settle(
            key, lambda slot, _: rules.cancel(slot, user_id, now), old, user_id, now
        )
        if isinstance(outcome, Keep):
            return outcome.slot
        return outcome.applied_to(slot)

    def reschedule(self, user_id: str, source: SlotKey, target: SlotKey, now: str) -> Slot:
        """Move the user's booking from ``source`` to ``target``, all or nothing: one
        consistent read of both slots (the source for its ``motivo``, the target for the
        answer's ``duracion_min``), then one transaction whose conditions decide whatever
        changed since. A retry after success returns the target unchanged."""
        rules.require_distinct(source, target)
        pair = [(k.doctor_id, k.fecha_hora) for k in (source, target)]
        found = bounded.read_many(self._client, self._table, pair)
        old_target = found.get(pair[1])
        target_slot = slot_of(old_target)
        outcome = rules.reschedule(slot_of(found.get(pair[0])), target_slot, user_id, now)
        if isinstance(outcome, Keep):
            return outcome.slot
        items = [
            self._update(source, outcome.release, user_id, now),
            self._update(target, outcome.take, user_id, now),
        ]
        # The user's own hold on the target is consumed: its seat is freed in the same
        # transaction (sent again without it should the seat have been reused meanwhile).
        seat = self._seat_freed(old_target, outcome.take)
        try:
            self._transact([*items, *([seat] if seat else [])])
        except ConditionFailed as failed:
            source_reason, target_reason = [*failed.reasons, {}, {}][:2]
            if source_reason.get("code") == "ConditionalCheckFailed":
                raise rules.source_problem(slot_of(source_reason.get("item"))) from failed
            raise rules.target_problem(slot_of(target_reason.get("item"))) from failed
        # The conditions held: the target is what was read plus the booking (no second read).
        return outcome.take.applied_to(target_slot)

    def _transact(self, items: list[dict[str, Any]]) -> None:
        """The transaction; when only the seat item (third) failed, again without it."""
        try:
            call(self._client, "transact_write_items", self._table, TransactItems=items)
        except ConditionFailed as failed:
            codes = [r.get("code") for r in failed.reasons]
            if len(items) == 3 and all(c != "ConditionalCheckFailed" for c in codes[:2]):
                call(self._client, "transact_write_items", self._table, TransactItems=items[:2])
                return
            raise
