"""Storage calls per request, counted in-process (not under load).

The app is built with ``create_app({"settings": ..., "storage": store})`` on the loaded store, and
each benchmarked request is sent once through Flask's test client while a counter watches:

- DynamoDB: a botocore ``before-call.dynamodb`` handler on the store's client, by operation
  (GetItem, Query, UpdateItem, TransactWriteItems, Scan, ...); one API call is one count
  (botocore retries of that call are not extra calls).
- DynamoDB capacity: while counting, every data-plane request is sent with
  ``ReturnConsumedCapacity=TOTAL`` (a ``provide-client-params`` hook here, never in production
  code) and an ``after-call`` hook sums what each answer reports, split into read units (RCU)
  and write units (WCU). DynamoDB Local and AWS report it; moto reports made-up or no figures
  (``capacity.complete`` says whether every data-plane answer carried one).
- SQLite: the statements executed on the store's connections (``sqlite3`` trace callback).
  ``data`` counts statements that touch tables (SELECT/INSERT/UPDATE/DELETE/WITH);
  transaction control (BEGIN/COMMIT/ROLLBACK) and PRAGMAs (connection set-up) are counted
  apart, so ``data`` is the number comparable to DynamoDB's calls.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from health_api import create_app

DATA_VERBS = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "REPLACE")
TRANSACTION_VERBS = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
READ_OPERATIONS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
WRITE_OPERATIONS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)
DATA_PLANE = READ_OPERATIONS | WRITE_OPERATIONS


class CallCounter:
    """A thread-safe tally of storage calls by kind (statement verb or DynamoDB operation), and
    of the DynamoDB capacity units their answers reported."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_kind: collections.Counter[str] = collections.Counter()
        self._capacity = {"read": 0.0, "write": 0.0, "answers": 0, "reported": 0}

    def add(self, kind: str) -> None:
        with self._lock:
            self.by_kind[kind] += 1

    def on_statement(self, sql: str) -> None:
        """sqlite3 trace callback."""
        words = sql.lstrip().split(None, 1)
        self.add(words[0].upper() if words else "?")

    def on_call(self, model: Any = None, **_: Any) -> None:
        """botocore ``before-call`` handler."""
        self.add(model.name if model is not None else "?")

    def ask_capacity(self, params: dict[str, Any], model: Any = None, **_: Any) -> None:
        """botocore ``provide-client-params`` handler: data-plane requests report capacity."""
        if model is not None and model.name in DATA_PLANE:
            params["ReturnConsumedCapacity"] = "TOTAL"

    def on_answer(self, parsed: Any = None, model: Any = None, **_: Any) -> None:
        """botocore ``after-call`` handler: add the answer's ``ConsumedCapacity``."""
        if model is None or model.name not in DATA_PLANE:
            return
        consumed = (parsed or {}).get("ConsumedCapacity")
        # One dict for single-table calls, a list (one per table) for batches and transactions.
        entries = [consumed] if isinstance(consumed, dict) else list(consumed or [])
        read = write = 0.0
        for entry in entries:
            if "ReadCapacityUnits" in entry or "WriteCapacityUnits" in entry:
                read += float(entry.get("ReadCapacityUnits", 0.0))
                write += float(entry.get("WriteCapacityUnits", 0.0))
            elif model.name in READ_OPERATIONS:
                read += float(entry.get("CapacityUnits", 0.0))
            else:
                write += float(entry.get("CapacityUnits", 0.0))
        with self._lock:
            self._capacity["answers"] += 1
            self._capacity["reported"] += 1 if entries else 0
            self._capacity["read"] += read
            self._capacity["write"] += write

    def reset(self) -> dict[str, int]:
        with self._lock:
            counts, self.by_kind = dict(self.by_kind), collections.Counter()
        return counts

    def take_capacity(self) -> dict[str, Any]:
        """``{rcu, wcu, complete}`` since the last call (``complete``: every data-plane answer
        reported its capacity), then start again from zero."""
        with self._lock:
            taken = self._capacity
            self._capacity = {"read": 0.0, "write": 0.0, "answers": 0, "reported": 0}
        return {
            "rcu": round(taken["read"], 2),
            "wcu": round(taken["write"], 2),
            "complete": taken["answers"] == taken["reported"],
        }


def summarize(backend: str, counts: dict[str, int]) -> dict[str, Any]:
    """``calls`` (the comparable number), ``scans`` and the breakdown."""
    if backend == "sqlite":
        data = sum(n for kind, n in counts.items() if kind in DATA_VERBS)
        tx = sum(n for kind, n in counts.items() if kind in TRANSACTION_VERBS)
        pragmas = counts.get("PRAGMA", 0)
        return {
            "calls": data,
            "scans": 0,
            "transaction_statements": tx,
            "pragmas": pragmas,
            "by_kind": counts,
        }
    return {"calls": sum(counts.values()), "scans": counts.get("Scan", 0), "by_kind": counts}


@contextmanager
def counting(store: Any, backend: str) -> Iterator[CallCounter]:
    """Count every storage call ``store`` makes while the block runs."""
    counter = CallCounter()
    if backend == "sqlite":
        store.db.set_trace(counter.on_statement)
        try:
            yield counter
        finally:
            store.db.set_trace(None)
    else:
        events = store._client.meta.events
        hooks = (
            ("before-call.dynamodb", counter.on_call, "bench-counter"),
            ("provide-client-params.dynamodb", counter.ask_capacity, "bench-capacity-ask"),
            ("after-call.dynamodb", counter.on_answer, "bench-capacity"),
        )
        for event, handler, unique_id in hooks:
            events.register(event, handler, unique_id=unique_id)
        try:
            yield counter
        finally:
            for event, _handler, unique_id in hooks:
                events.unregister(event, unique_id=unique_id)


def count_calls(
    settings: Any, store: Any, backend: str, requests: list[tuple]
) -> dict[str, dict[str, Any]]:
    """For each ``(name, method, path, body[, headers])``, sent once in order: its status and
    storage calls, and on DynamoDB the ``capacity`` its calls consumed (``rcu``, ``wcu``,
    ``complete``). ``headers`` adds request headers (an ``Idempotency-Key``)."""
    app = create_app({"settings": settings.replace(log_level="WARNING"), "storage": store})
    client = app.test_client()
    agent = next(k.key for k in settings.api_keys if k.role == "agent")
    auth = {"Authorization": f"Bearer {agent}"}
    results: dict[str, dict[str, Any]] = {}
    with counting(store, backend) as counter:
        for name, method, path, body, *extra in requests:
            headers = {**auth, **(extra[0] if extra else {})}
            if body is not None:
                headers["Content-Type"] = "application/json"
            counter.reset()
            counter.take_capacity()
            response = client.open(path, method=method, data=body, headers=headers)
            counts = counter.reset()
            results[name] = {"status": response.status_code, **summarize(backend, counts)}
            if backend != "sqlite":
                results[name]["capacity"] = counter.take_capacity()
    return results
