"""The inter-process writers' lock: taken around each write transaction, bounded, optional."""

from __future__ import annotations

import fcntl
import os
import threading

import pytest

from health_api.domain.errors import StorageUnavailableError
from health_api.domain.models import Slot
from health_api.storage.sqlite.interprocess import WritersLock


def held_elsewhere(path) -> int:
    """Another open file description holding the lock: what another process looks like."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_a_writer_waits_for_another_process_and_goes_on_when_it_lets_go(tmp_path) -> None:
    path = tmp_path / "db-lock"
    other = held_elsewhere(path)
    lock = WritersLock(path, timeout_s=5)
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(lock.acquire()))
    waiter.start()
    waiter.join(0.05)
    assert waiter.is_alive()  # still waiting while the other holds it

    fcntl.flock(other, fcntl.LOCK_UN)
    waiter.join(5)

    assert got == [True]
    lock.close()
    os.close(other)


def test_a_lock_held_past_the_timeout_is_refused_not_waited_on_forever(tmp_path) -> None:
    path = tmp_path / "db-lock"
    other = held_elsewhere(path)

    assert WritersLock(path, timeout_s=0.05).acquire() is False
    os.close(other)


def test_an_unusable_lock_file_leaves_the_decision_to_sqlite(tmp_path) -> None:
    lock = WritersLock(tmp_path / "missing-dir" / "db-lock", timeout_s=0.05)

    assert lock.acquire() is True
    lock.release()


def test_a_write_while_another_process_holds_the_writers_lock_is_a_503(store) -> None:
    other = held_elsewhere(f"{store.db.path}-lock")
    try:
        with pytest.raises(StorageUnavailableError, match="busy"):
            store.slots.add_many([Slot("doc-1", "2026-12-02T09:00:00Z")])
    finally:
        os.close(other)

    # Once it lets go, writes go through again.
    assert store.slots.add_many([Slot("doc-1", "2026-12-02T09:00:00Z")]).created
