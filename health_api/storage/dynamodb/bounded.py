"""Bounded reads on DynamoDB: Query loops that stop at a read budget, and the consistent
confirmation of items read from an eventually consistent GSI.

A FilterExpression discards items *after* reading them, and DynamoDB bills (and spends time on)
what it read, not what it returned: a filter that matches little could read a whole partition in
one request. So a filtered Query loop stops once it has read ``READ_BUDGET`` items
(``ScannedCount``) and reports where it stopped; the caller turns that into a cursor, which gives a
short, even empty, page with ``next_cursor`` set (API.md's paging rule allows it).

A GSI is eventually consistent: right after a booking or a cancel, ``user_id-index`` may still show
the old state. :func:`confirm` reads a page's items again from the base table with one consistent
``BatchGetItem`` per 100 keys; the base table's values win and an item that no longer matches is
dropped. It cannot add an item the index does not show yet.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from health_api.domain.errors import StorageAccessError
from health_api.storage.dynamodb.items import TableRef, call

# Items one Query loop may read per request. Read at call time, so tests can lower it.
READ_BUDGET = 1000
# BatchGetItem takes at most 100 keys per call.
BATCH_GET_KEYS = 100
# Calls per chunk while DynamoDB answers with UnprocessedKeys (it does under throttling; botocore
# retries only errors, not a partial answer), with a short exponential back-off in between.
BATCH_GET_ATTEMPTS = 4
BACKOFF_SECONDS = 0.025
_pause = time.sleep


@dataclass(frozen=True)
class Collected:
    """What a bounded loop found: up to ``limit`` plain items, and ``resume``, the plain key
    after which the next page starts (None: nothing is left to read)."""

    items: list[dict[str, Any]]
    resume: dict[str, Any] | None


def collect_bounded(
    client: Any,
    table: TableRef,
    request: dict[str, Any],
    limit: int,
    start_key: dict[str, Any] | None,
    *,
    read_factor: int = 1,
    budget: int | None = None,
) -> Collected:
    """Run a Query page after page until ``limit + 1`` matches, the end, or ``budget`` items
    read (default ``READ_BUDGET``).

    ``resume`` is the last returned item when more matches exist, the last item *read* when the
    budget ran out (the items read after the last match did not match), else None.
    ``read_factor`` widens each call's ``Limit`` when a filter may discard most of what is read.
    """
    budget = max(READ_BUDGET if budget is None else budget, 1)
    found: list[dict[str, Any]] = []
    read = 0
    while True:
        needed = limit + 1 - len(found)
        page_request = {
            **request,
            "TableName": table.name,
            # Limit bounds the items read by this call, matching or not.
            "Limit": max(min(needed * read_factor, budget - read, 1000), 1),
        }
        if start_key:
            page_request["ExclusiveStartKey"] = start_key
        page = call(client, "query", table, **page_request)
        items = page.get("Items", [])
        read += int(page.get("ScannedCount", len(items)))
        found.extend(table.from_item(item) for item in items)
        start_key = page.get("LastEvaluatedKey")
        if len(found) > limit:
            return Collected(found[:limit], found[limit - 1])
        if not start_key:
            return Collected(found, None)
        if read >= budget:
            return Collected(found, table.from_item(start_key))


def read_many(
    client: Any, table: TableRef, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The slots at ``(doctor_id, fecha_hora)`` ``keys`` as the table holds them now (absent
    ones left out): consistent ``BatchGetItem`` calls of up to 100 keys, ``UnprocessedKeys``
    asked again a bounded number of times (then ``StorageAccessError`` "throttled", a 503)."""
    fresh: dict[tuple[str, str], dict[str, Any]] = {}
    typed = [table.key(doctor_id=d, fecha_hora=f) for d, f in dict.fromkeys(keys)]
    for first in range(0, len(typed), BATCH_GET_KEYS):
        pending: dict[str, Any] = {
            # Consistent: the read sees every write acknowledged before it (read-your-writes).
            table.name: {"Keys": typed[first : first + BATCH_GET_KEYS], "ConsistentRead": True}
        }
        for attempt in range(BATCH_GET_ATTEMPTS):
            if attempt:
                _pause(BACKOFF_SECONDS * 2 ** (attempt - 1))
            response = call(client, "batch_get_item", RequestItems=pending)
            for item in response.get("Responses", {}).get(table.name, []):
                plain = table.from_item(item) or {}
                fresh[(plain["doctor_id"], plain["fecha_hora"])] = plain
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
        else:
            raise StorageAccessError("throttled", "DynamoDB is throttling requests")
    return fresh


def confirm(
    client: Any,
    table: TableRef,
    items: list[dict[str, Any]],
    keep: Callable[[dict[str, Any]], bool],
) -> list[dict[str, Any]]:
    """``items`` (read from a GSI) as the base table holds them now, in the same order; an item
    the table no longer has, or whose current values fail ``keep``, is dropped."""
    if not items:
        return []
    fresh = read_many(client, table, [(i["doctor_id"], i["fecha_hora"]) for i in items])
    confirmed = []
    for item in items:
        current = fresh.get((item["doctor_id"], item["fecha_hora"]))
        if current is not None and keep(current):
            confirmed.append(current)
    return confirmed
