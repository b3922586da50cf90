"""Creating slots on DynamoDB: conditional Puts in transactions, optionally guarded by the doctor.

Chunks of conditional Puts go in one ``TransactWriteItems`` each: when some keys exist (or
another writer creates them meanwhile), DynamoDB cancels the chunk and its CancellationReasons
name exactly those items; they are counted as skipped and the rest is sent again. A repeated
schedule costs two requests per chunk instead of one request per slot.

A retried transaction is safe as it is: ``ClientRequestToken`` is an ``idempotencyToken`` in
botocore's service model, so botocore fills it in once per call and every retry of that call
sends the same token; DynamoDB answers a repeat of a committed token (for 10 minutes) with
success and writes nothing again. So a retry whose first attempt committed is never told its
own slots "already exist".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from health_api.domain.errors import StorageUnavailableError
from health_api.domain.models import Slot
from health_api.storage.dynamodb.items import ConditionFailed, TableRef, call

TRANSACTION_LIMIT = 100  # items per TransactWriteItems


def add(
    client: Any,
    table: TableRef,
    slots: Sequence[Slot],
    to_plain: Callable[[Slot], dict[str, Any]],
    *,
    guard: dict[str, Any] | None = None,
    refusal: Callable[[], Exception] | None = None,
) -> int:
    """Create the slots that do not exist and return how many were created. With ``guard`` (a
    ``ConditionCheck`` item) each transaction carries it beside its Puts (99 + 1); when the
    guard fails, ``refusal()`` is raised and nothing more is sent."""
    unique: dict[tuple[str, str], Slot] = {}
    for slot in slots:
        unique.setdefault((slot.doctor_id, slot.fecha_hora), slot)
    pending = list(unique.values())
    size = TRANSACTION_LIMIT - (1 if guard else 0)
    created = 0
    for start in range(0, len(pending), size):
        chunk = pending[start : start + size]
        created += _create_chunk(client, table, chunk, to_plain, guard, refusal)
    return created


def _create_chunk(
    client: Any,
    table: TableRef,
    chunk: list[Slot],
    to_plain: Callable[[Slot], dict[str, Any]],
    guard: dict[str, Any] | None,
    refusal: Callable[[], Exception] | None,
) -> int:
    while chunk:
        puts = [
            {
                "Put": {
                    "TableName": table.name,
                    "Item": table.to_item(to_plain(slot)),
                    # Create only: an existing slot (maybe booked) is never overwritten.
                    "ConditionExpression": "attribute_not_exists(#fecha_hora)",
                    "ExpressionAttributeNames": table.names("fecha_hora"),
                }
            }
            for slot in chunk
        ]
        try:
            items = [*puts, guard] if guard else puts
            call(client, "transact_write_items", table, TransactItems=items)
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
