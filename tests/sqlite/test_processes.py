"""SQLite under gunicorn's process model: workers opening a new file together, and fork."""

from __future__ import annotations

import multiprocessing
import sys
import tempfile
from pathlib import Path

import pytest

from health_api.config import load_settings
from health_api.domain.models import Slot, SlotKey
from health_api.domain.requests import BookingRequest
from health_api.storage.sqlite.storage import SqliteStorage

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses fork")

WORKERS = 8
ROUNDS = 30
KEY = SlotKey("doc-1", "2026-12-02T09:00:00Z")


def open_and_read(path: str, barrier, results) -> None:
    """A worker starting up: open the store (creating the file) and read from it."""
    settings = load_settings({}).replace(sqlite_path=Path(path))
    barrier.wait()
    try:
        store = SqliteStorage.open(settings)
        store.doctors.list_all(limit=1)
        store.close()
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - the parent reports what went wrong
        results.put(repr(exc))


def test_workers_opening_a_new_file_together_all_succeed(tmp_path) -> None:
    # Switching a new file to WAL takes a lock without the busy handler: workers that start
    # together used to fail here now and then, so many rounds are run.
    context = multiprocessing.get_context("fork")
    failures = []
    for n in range(ROUNDS):
        path = tempfile.mkdtemp(dir=tmp_path) + "/health.db"
        barrier, results = context.Barrier(WORKERS, timeout=30), context.Queue()
        workers = [
            context.Process(target=open_and_read, args=(path, barrier, results))
            for _ in range(WORKERS)
        ]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(timeout=30)
        failures += [(n, o) for o in outcomes if o != "ok"]

    assert failures == []


def book_in_child(store: SqliteStorage, parents, results) -> None:
    """A forked worker using the store its parent opened (gunicorn --preload)."""
    try:
        created = store.slots.book(
            BookingRequest(KEY, "user-child"), "2026-11-30T00:00:00Z"
        ).created
        results.put((created, store.db.connection() is not parents))
    except Exception as exc:  # noqa: BLE001 - the parent reports what went wrong
        results.put(repr(exc))


def test_a_forked_child_opens_its_own_connection_and_the_parent_keeps_its_own(store) -> None:
    store.slots.add_many([Slot(KEY.doctor_id, KEY.fecha_hora)])
    parents = store.db.connection()
    context = multiprocessing.get_context("fork")
    results = context.Queue()

    child = context.Process(target=book_in_child, args=(store, parents, results))
    child.start()
    outcome = results.get(timeout=30)
    child.join(timeout=30)

    assert outcome == (True, True)
    assert store.db.connection() is parents
    assert store.slots.get(KEY).user_id == "user-child"
