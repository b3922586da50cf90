"""Group commit: writers of one process share a transaction and its commit, and nobody is told
an outcome that a later failure of that commit could undo."""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from collections.abc import Callable

import pytest

from health_api.domain.errors import SlotTakenError, StorageUnavailableError
from health_api.domain.models import Slot, SlotKey
from health_api.domain.requests import BookingRequest, UserBookings

NOW = "2026-12-01T08:00:00Z"


@pytest.fixture
def scratch(store):
    """A table to write rows into, and a reader that sees only committed rows."""
    with store.db.write() as conn:
        conn.execute("CREATE TABLE scratch (k TEXT PRIMARY KEY)")

    def committed() -> set[str]:
        with sqlite3.connect(str(store.db.path), isolation_level=None) as conn:
            return {row[0] for row in conn.execute("SELECT k FROM scratch")}

    return committed


def _statements(store) -> list[str]:
    seen: list[str] = []
    store.db.set_trace(seen.append)
    return seen


def _queued(store, count: int) -> None:
    """Wait (bounded) until ``count`` writers queue for the writer's turn."""
    deadline = time.monotonic() + 5
    while store.db._writer._waiting < count:
        assert time.monotonic() < deadline, "writers did not queue"
        time.sleep(0.001)


class Member(threading.Thread):
    """A writer that runs ``block`` inside ``store.db.write()``, optionally pausing there."""

    def __init__(self, store, block: Callable[[sqlite3.Connection], None], pause=False):
        super().__init__()
        self.store, self.block = store, block
        self.inside, self.go = threading.Event(), threading.Event()
        self.answered = threading.Event()
        self.error: BaseException | None = None
        if not pause:
            self.go.set()

    def run(self) -> None:
        try:
            with self.store.db.write() as conn:
                self.inside.set()
                self.go.wait(10)
                self.block(conn)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            self.error = exc
        finally:
            self.answered.set()


def insert(key: str) -> Callable[[sqlite3.Connection], None]:
    return lambda conn: conn.execute("INSERT INTO scratch VALUES (?)", (key,))


def test_writers_waiting_for_their_turn_share_one_commit(store, scratch) -> None:
    statements = _statements(store)

    members = chain(store, insert("a"), insert("b"), insert("c"))

    assert [m.error for m in members] == [None, None, None]
    assert scratch() == {"a", "b", "c"}
    assert statements.count("BEGIN IMMEDIATE") == 1
    assert statements.count("COMMIT") == 1


def test_a_writer_is_answered_only_once_its_group_has_committed(store, scratch) -> None:
    blocker = Member(store, lambda conn: None, pause=True)
    first = Member(store, insert("a"), pause=True)
    second = Member(store, insert("b"), pause=True)
    blocker.start()
    blocker.inside.wait(5)
    first.start()
    _queued(store, 1)
    blocker.go.set()  # first was waiting: the transaction stays open for it
    assert first.inside.wait(5)
    second.start()
    _queued(store, 1)
    first.go.set()  # first's block runs and ends while second waits: no commit yet
    assert second.inside.wait(5)

    assert not first.answered.wait(0.2)
    assert scratch() == set()

    second.go.set()
    for member in (blocker, first, second):
        member.join(10)
    assert [m.error for m in (blocker, first, second)] == [None, None, None]
    assert scratch() == {"a", "b"}


def chain(store, *blocks: Callable[[sqlite3.Connection], None]) -> list[Member]:
    """Run ``blocks`` one after another in one group: each next writer queues while the one
    before it is inside its block, so no member leaves with nobody waiting but the last."""
    members = [Member(store, block, pause=True) for block in blocks]
    members[0].start()
    assert members[0].inside.wait(5)
    for before, member in itertools.pairwise(members):
        member.start()
        _queued(store, 1)
        before.go.set()
        assert member.inside.wait(5)
    members[-1].go.set()
    for member in members:
        member.join(10)
    return members


def taken(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO scratch VALUES ('b')")
    raise SlotTakenError("taken")


def test_a_failed_condition_rolls_back_only_its_own_block(store, scratch) -> None:
    statements = _statements(store)

    first, second, third = chain(store, insert("a"), taken, insert("c"))

    assert first.error is None
    assert isinstance(second.error, SlotTakenError)
    assert third.error is None
    assert scratch() == {"a", "c"}
    assert statements.count("COMMIT") == 1


def test_a_storage_fault_in_one_block_fails_every_member_of_its_group(store, scratch) -> None:
    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    members = chain(store, insert("a"), taken, broken)

    # first's write is lost with the group: it must not have been told it succeeded, and the
    # failed condition that second saw was decided in that lost transaction too.
    assert all(isinstance(m.error, StorageUnavailableError) for m in members)
    assert scratch() == set()
    # The next write starts a new transaction on a fresh connection.
    with store.db.write() as conn:
        conn.execute("INSERT INTO scratch VALUES ('d')")
    assert scratch() == {"d"}


def test_concurrent_bookings_all_land_with_fewer_commits_than_bookings(store) -> None:
    keys = [SlotKey("doc-1", f"2026-12-02T{h:02d}:{m:02d}:00Z") for h in range(24) for m in (0, 30)]
    store.slots.add_many([Slot(k.doctor_id, k.fecha_hora) for k in keys])
    statements = _statements(store)
    barrier = threading.Barrier(8)
    results: list = []

    def book(mine: list[SlotKey]) -> None:
        barrier.wait(5)
        for key in mine:
            results.append(store.slots.book(BookingRequest(key, "user-1"), NOW).created)
        store.end_request()

    threads = [threading.Thread(target=book, args=(keys[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert results.count(True) == len(keys)
    booked = store.slots.list_for_user(UserBookings("user-1", None, 100, None)).items
    assert len(booked) == len(keys)
    assert statements.count("COMMIT") <= len(keys)


def test_a_failed_condition_in_the_first_block_leaves_the_next_writer_unaffected(
    store, scratch
) -> None:
    first, second = chain(store, taken, insert("c"))

    assert isinstance(first.error, SlotTakenError)
    assert second.error is None
    assert scratch() == {"c"}
