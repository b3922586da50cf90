"""Slots on DynamoDB (table ``horarios_doctores``): the repository, and creating and deleting.

``DynamoSlotRepository`` is assembled from the parts that hold the real methods: booking
(:mod:`.booking`: book, cancel, reschedule), holds (:mod:`.holds`), queries
(:mod:`.slot_queries`), a doctor's deletion steps (:mod:`.deletion`), on the shared ground of
:mod:`.slot_table` (the slot's one read, the domain's writes rendered). Creating and deleting
single slots are here.

Creating: chunks of conditional Puts go in one ``TransactWriteItems`` each. When some keys exist
(or another writer creates them meanwhile), DynamoDB cancels the chunk and its
``CancellationReasons`` name exactly those items; they are counted as skipped and the rest is sent
again, so a repeated schedule costs two requests per chunk instead of one request per slot. A
retried transaction is safe as it is: ``ClientRequestToken`` is an ``idempotencyToken`` in
botocore's service model, so botocore fills it in once per call and every retry sends the same
token; DynamoDB answers a repeat of a committed token (for 10 minutes) with success and writes
nothing again, so a retry whose first attempt committed is never told its own slots "already
exist".

Deleting is one conditional ``DeleteItem`` with ``ReturnValuesOnConditionCheckFailure=ALL_OLD``:
a delete that botocore resent after its first attempt committed finds nothing, and the failed
condition's ``retried`` flag tells that apart from a slot that never was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from health_api.domain import slots as rules
from health_api.domain.errors import (
    InvalidRequestError,
    StorageUnavailableError,
)
from health_api.domain.models import AddSlotsResult, Slot, SlotKey
from health_api.domain.writes import Precondition
from health_api.storage.base import resolve_now
from health_api.storage.dynamodb import deletion
from health_api.storage.dynamodb.booking import BookingMethods
from health_api.storage.dynamodb.deletion import ScheduleDeletion
from health_api.storage.dynamodb.items import ConditionFailed, call
from health_api.storage.dynamodb.slot_queries import SlotQueries
from health_api.storage.dynamodb.slot_table import CONDITIONS, slot_of, slot_to_plain

TRANSACTION_LIMIT = 100  # items per TransactWriteItems


class DynamoSlotRepository(BookingMethods, SlotQueries, ScheduleDeletion):
    """``SlotRepository`` on the ``horarios_doctores`` table."""

    def add_many(
        self,
        slots: Sequence[Slot],
        *,
        guard: dict[str, Any] | None = None,
        refusal: Callable[[], Exception] | None = None,
    ) -> AddSlotsResult:
        """Create the slots that do not exist, skipping (never overwriting) existing ones:
        chunks of 100 conditional Puts in one transaction each (see the module). With ``guard``
        (a ``ConditionCheck`` item) each transaction carries it beside its Puts (99 + 1); when
        the guard fails, ``refusal()`` is raised and nothing more is sent."""
        unique: dict[tuple[str, str], Slot] = {}
        for slot in slots:
            unique.setdefault((slot.doctor_id, slot.fecha_hora), slot)
        pending = list(unique.values())
        size = TRANSACTION_LIMIT - (1 if guard else 0)
        created = 0
        for start in range(0, len(pending), size):
            created += self._create_chunk(pending[start : start + size], guard, refusal)
        return AddSlotsResult(created=created, skipped=len(slots) - created)

    def add_for_doctor(self, doctor_id: str, slots: Sequence[Slot]) -> AddSlotsResult:
        """``add_many`` with a ConditionCheck on the doctor item in every transaction (99
        Puts + 1): ``NotFoundError`` for no doctor, ``ConflictError`` while it is being deleted."""
        if self._doctors is None or any(s.doctor_id != doctor_id for s in slots):
            raise InvalidRequestError("slots of one known doctor only")
        doctors = self._doctors
        return self.add_many(
            slots,
            guard=deletion.doctor_guard(doctors, doctor_id),
            refusal=lambda: deletion.refusal(self._client, doctors, doctor_id),
        )

    def _create_chunk(
        self,
        chunk: list[Slot],
        guard: dict[str, Any] | None,
        refusal: Callable[[], Exception] | None,
    ) -> int:
        while chunk:
            puts = [
                {
                    "Put": {
                        "TableName": self._table.name,
                        "Item": self._table.to_item(slot_to_plain(slot)),
                        # Create only: an existing slot (maybe booked) is never overwritten.
                        "ConditionExpression": "attribute_not_exists(#fecha_hora)",
                        "ExpressionAttributeNames": self._table.names("fecha_hora"),
                    }
                }
                for slot in chunk
            ]
            try:
                items = [*puts, guard] if guard else puts
                call(self._client, "transact_write_items", self._table, TransactItems=items)
            except ConditionFailed as failed:
                reasons = failed.reasons
                guard_failed = len(reasons) > len(chunk) and (
                    reasons[len(chunk)]["code"] == "ConditionalCheckFailed"
                )
                if guard_failed and refusal is not None:
                    raise refusal() from failed
                kept = [
                    slot
                    for slot, reason in zip(chunk, reasons, strict=False)
                    if reason["code"] != "ConditionalCheckFailed"
                ]
                if len(kept) == len(chunk):  # pragma: no cover - DynamoDB always names one
                    raise StorageUnavailableError("could not add the slots") from failed
                chunk = kept
                continue
            return len(chunk)
        return 0

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
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **self._condition(CONDITIONS[Precondition.DELETABLE], now=resolve_now(now)),
            )
        except ConditionFailed as failed:
            if failed.item is None and failed.retried:
                return  # our own first attempt deleted it; only its answer was lost
            raise rules.deletion_problem(slot_of(failed.item)) from failed
