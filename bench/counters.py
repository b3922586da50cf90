"""Storage calls per request, counted in-process (not under load).

The app is built with ``create_app({"settings": ..., "storage": store})`` on the loaded store, and
each benchmarked request is sent once through Flask's test client while a counter watches:

- DynamoDB: a botocore ``before-call.dynamodb`` handler on the store's client, by operation
  (GetItem, Query, UpdateItem, TransactWriteItems, Scan, ...); one API call is one count
  (botocore retries of that call are not extra calls).
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


class CallCounter:
    """A thread-safe tally of storage calls by kind (statement verb or DynamoDB operation)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_kind: collections.Counter[str] = collections.Counter()

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

    def reset(self) -> dict[str, int]:
        with self._lock:
            counts, self.by_kind = dict(self.by_kind), collections.Counter()
        return counts


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
        events.register("before-call.dynamodb", counter.on_call, unique_id="bench-counter")
        try:
            yield counter
        finally:
            events.unregister("before-call.dynamodb", unique_id="bench-counter")


def count_calls(
    settings: Any, store: Any, backend: str, requests: list[tuple[str, str, str, bytes | None]]
) -> dict[str, dict[str, Any]]:
    """For each ``(name, method, path, body)``: its status and storage calls, issued once."""
    app = create_app({"settings": settings.replace(log_level="WARNING"), "storage": store})
    client = app.test_client()
    agent = next(k.key for k in settings.api_keys if k.role == "agent")
    auth = {"Authorization": f"Bearer {agent}"}
    results: dict[str, dict[str, Any]] = {}
    with counting(store, backend) as counter:
        for name, method, path, body in requests:
            headers = dict(auth)
            if body is not None:
                headers["Content-Type"] = "application/json"
            counter.reset()
            response = client.open(path, method=method, data=body, headers=headers)
            counts = counter.reset()
            results[name] = {"status": response.status_code, **summarize(backend, counts)}
    return results
