"""What only the SQLite backend has: pragmas, schema version, open failures, locks, lifecycle."""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest

from health_api.domain.errors import StorageUnavailableError
from health_api.domain.models import DISPONIBLE, Doctor, Slot, SlotKey
from health_api.domain.requests import BookingRequest, SlotRange
from health_api.storage.sqlite.errors import unavailable
from health_api.storage.sqlite.schema import SCHEMA_VERSION
from health_api.storage.sqlite.storage import SqliteStorage

NOW = "2026-12-01T08:00:00Z"
KEY = SlotKey("doc-1", "2026-12-02T09:00:00Z")


def raw(path) -> sqlite3.Connection:
    """A plain connection that plays another process's part."""
    return sqlite3.connect(str(path), isolation_level=None, timeout=0)


def test_every_connection_runs_in_wal_mode_with_full_sync(store) -> None:
    seen: list[tuple] = []

    def inspect() -> None:
        conn = store.db.connection()
        seen.append(
            (
                conn.execute("PRAGMA journal_mode").fetchone()[0],
                conn.execute("PRAGMA synchronous").fetchone()[0],
                conn.execute("PRAGMA busy_timeout").fetchone()[0],
            )
        )
        store.release()

    inspect()
    thread = threading.Thread(target=inspect)
    thread.start()
    thread.join()

    # synchronous 2 is FULL: the WAL is fsynced at every commit.
    assert seen == [("wal", 2, 5000), ("wal", 2, 5000)]


def test_synchronous_normal_applies_to_every_connection_the_writer_included(settings) -> None:
    store = SqliteStorage.open(settings.replace(sqlite_synchronous="normal"))
    statements: list[str] = []
    store.db.set_trace(statements.append)
    try:
        store.doctors.create(Doctor("doc-1", "Dra. Ruiz", "Pediatría"))  # the writer connection
        assert store.doctors.get("doc-1").nombre == "Dra. Ruiz"  # this thread's connection
        modes = [s for s in statements if s.startswith("PRAGMA synchronous")]
        level = store.db.connection().execute("PRAGMA synchronous").fetchone()[0]
    finally:
        store.close()

    assert modes == ["PRAGMA synchronous = NORMAL"] * 2
    assert level == 1  # NORMAL


def test_open_creates_the_directory_the_schema_and_records_its_version(settings) -> None:
    assert not settings.sqlite_path.parent.exists()

    store = SqliteStorage.open(settings)
    store.close()

    with raw(settings.sqlite_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {
        "clinic-doctores",
        "clinic-horarios_doctores",
        "clinic-user_sessions",
        "clinic-idempotency_keys",
    }


def test_reopening_keeps_the_data_and_the_version(open_store) -> None:
    first = open_store()
    first.doctors.create(Doctor("doc-1", "Dra. Ruiz", "Pediatría"))
    first.close()

    second = open_store()

    assert second.doctors.get("doc-1").nombre == "Dra. Ruiz"
    assert second.schema_version() == SCHEMA_VERSION


def test_a_newer_schema_version_is_refused_and_left_untouched(settings, open_store) -> None:
    open_store().close()
    with raw(settings.sqlite_path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(StorageUnavailableError, match="newer") as caught:
        SqliteStorage.open(settings)

    assert str(settings.sqlite_path) in str(caught.value)
    with raw(settings.sqlite_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


def test_a_path_below_a_regular_file_is_unavailable_and_named(settings, tmp_path) -> None:
    (tmp_path / "plain-file").write_text("not a directory")
    path = tmp_path / "plain-file" / "health.db"

    with pytest.raises(StorageUnavailableError) as caught:
        SqliteStorage.open(settings.replace(sqlite_path=path))

    assert str(path) in str(caught.value)
    assert "cannot be created" in str(caught.value)


def test_a_directory_in_place_of_the_file_is_unavailable(settings, tmp_path) -> None:
    path = tmp_path / "is-a-dir.db"
    path.mkdir()

    with pytest.raises(StorageUnavailableError, match="directory") as caught:
        SqliteStorage.open(settings.replace(sqlite_path=path))

    assert str(path) in str(caught.value)


def test_a_file_that_is_not_a_database_is_unavailable(settings, tmp_path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is certainly not a SQLite file" * 200)

    with pytest.raises(StorageUnavailableError, match="not a SQLite database") as caught:
        SqliteStorage.open(settings.replace(sqlite_path=path))

    assert str(path) in str(caught.value)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_a_location_nobody_can_write_is_unavailable(settings) -> None:
    # /proc refuses new files even to root, so this runs whoever runs the tests.
    path = Path("/proc/health-api-test.db")

    with pytest.raises(StorageUnavailableError, match="cannot be opened") as caught:
        SqliteStorage.open(settings.replace(sqlite_path=path))

    assert str(path) in str(caught.value)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores file modes")
def test_a_read_only_directory_is_unavailable(settings, tmp_path) -> None:
    locked = tmp_path / "read-only"
    locked.mkdir()
    locked.chmod(0o555)
    path = locked / "health.db"
    try:
        with pytest.raises(StorageUnavailableError) as caught:
            SqliteStorage.open(settings.replace(sqlite_path=path))
    finally:
        locked.chmod(0o755)

    assert str(path) in str(caught.value)


def test_a_lock_held_past_the_busy_timeout_is_unavailable_and_writes_nothing(
    settings, open_store
) -> None:
    store = open_store(busy_timeout_ms=200)
    store.slots.add_many([Slot(KEY.doctor_id, KEY.fecha_hora)])
    other = raw(settings.sqlite_path)
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(StorageUnavailableError, match="busy") as caught:
            store.slots.book(BookingRequest(KEY, "user-a", "control"), NOW)
        waited = time.monotonic() - started
        with pytest.raises(StorageUnavailableError):
            store.slots.add_many([Slot("doc-2", "2026-12-02T10:00:00Z")])
    finally:
        other.execute("ROLLBACK")
        other.close()

    assert 0.15 <= waited < 5
    assert caught.value.retry_after >= 1
    assert store.slots.get(KEY) == Slot(KEY.doctor_id, KEY.fecha_hora)
    assert (
        store.slots.list_range(
            SlotRange("doc-2", "2026-12-01T00:00:00Z", "2026-12-31T00:00:00Z")
        ).items
        == []
    )
    assert store.slots.book(BookingRequest(KEY, "user-a"), NOW).created is True


def test_a_full_disk_is_unavailable_and_rolls_the_batch_back(store) -> None:
    # The same SQLITE_FULL a full disk gives, without filling one, on the connection that
    # writes (the process's writer connection, shared by group commits).
    with store.db.write() as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
    many = [Slot("doc-1", f"2026-12-{1 + n // 24:02d}T{n % 24:02d}:00:00Z") for n in range(600)]

    with pytest.raises(StorageUnavailableError, match="full"):
        store.slots.add_many(many)

    page = store.slots.list_range(
        SlotRange("doc-1", "2026-12-01T00:00:00Z", "2026-12-31T00:00:00Z")
    )
    assert page.items == []


def test_release_closes_the_threads_connection_and_the_next_call_reopens(store) -> None:
    store.slots.add_many([Slot(KEY.doctor_id, KEY.fecha_hora)])
    before = store.db.connection()

    store.release()

    with pytest.raises(sqlite3.ProgrammingError):
        before.execute("SELECT 1")
    assert store.slots.get(KEY).estado == DISPONIBLE
    assert store.db.connection() is not before


def test_each_thread_has_its_own_connection(store) -> None:
    mine = store.db.connection()
    theirs: list[sqlite3.Connection] = []
    thread = threading.Thread(target=lambda: theirs.append(store.db.connection()))
    thread.start()
    thread.join()

    assert theirs[0] is not mine


def test_close_makes_the_store_unusable(store) -> None:
    store.slots.add_many([Slot(KEY.doctor_id, KEY.fecha_hora)])

    store.close()

    with pytest.raises(StorageUnavailableError, match="closed"):
        store.slots.get(KEY)


def test_check_tables_reports_a_missing_index_and_a_missing_table(settings, store) -> None:
    with raw(settings.sqlite_path) as conn:
        conn.execute('DROP INDEX "clinic-horarios_doctores:user_id-index"')
        conn.execute('DROP TABLE "clinic-user_sessions"')

    reports = {r.logical: r for r in store.check_tables()}

    assert reports["doctores"].ok
    assert reports["horarios_doctores"].differences == ["GSI user_id-index is missing"]
    assert reports["user_sessions"].exists is False
    assert not reports["user_sessions"].ok


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("database is locked", "busy"),
        ("attempt to write a readonly database", "read-only"),
        ("database or disk is full", "full"),
        ("disk I/O error", "I/O"),
        ("unable to open database file", "cannot be opened"),
        ("file is not a database", "not a SQLite database"),
    ],
)
def test_sqlite_failures_become_storage_unavailable(message, expected) -> None:
    error = unavailable(sqlite3.OperationalError(message))

    assert isinstance(error, StorageUnavailableError)
    assert expected in str(error)


def test_a_connection_left_by_a_finished_thread_is_closed_on_the_next_open(store) -> None:
    left: list[sqlite3.Connection] = []
    thread = threading.Thread(target=lambda: left.append(store.db.connection()))
    thread.start()
    thread.join()

    store.db.connection()

    with pytest.raises(sqlite3.ProgrammingError):
        left[0].execute("SELECT 1")
