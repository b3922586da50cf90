"""Schema version 2: a file written before sessions remembered their lifetime keeps working."""

from __future__ import annotations

import sqlite3

from health_api.domain.requests import SessionPatch
from health_api.storage.sqlite.schema import SCHEMA_VERSION
from health_api.storage.sqlite.storage import SqliteStorage

NOW = 1_900_000_000

# The user_sessions table exactly as schema version 1 created it.
VERSION_1_SESSIONS = """CREATE TABLE "{name}" (
    user_id TEXT NOT NULL PRIMARY KEY,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ttl INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
)"""


def _version_1_file(path, *prefixes: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        for prefix in prefixes:
            name = f"{prefix}user_sessions"
            conn.execute(VERSION_1_SESSIONS.format(name=name))
            conn.execute(
                f'INSERT INTO "{name}" VALUES (?, ?, ?, ?, ?, ?, 1)',  # noqa: S608 - test data
                ("u1", '{"a":1}', "2030-03-17T17:46:40Z", "2030-03-17T17:46:40Z", "x", NOW + 30),
            )
        conn.execute("PRAGMA user_version = 1")
    finally:
        conn.close()


def _columns(path, table: str) -> set[str]:
    conn = sqlite3.connect(str(path))
    try:
        return {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}
    finally:
        conn.close()


def test_a_version_1_session_is_kept_and_slides_by_the_default_lifetime(settings) -> None:
    _version_1_file(settings.sqlite_path, "clinic-")

    store = SqliteStorage.open(settings)
    try:
        before = store.sessions.get("u1", NOW)
        merged = store.sessions.merge("u1", SessionPatch({"b": 2}, default_ttl=1800), NOW)
        assert store.schema_version() == SCHEMA_VERSION
    finally:
        store.close()

    assert before.data == {"a": 1}
    assert before.ttl_seconds is None
    assert merged.data == {"a": 1, "b": 2}
    assert merged.ttl == NOW + 1800
    assert merged.ttl_seconds is None  # still unremembered: the default keeps applying


def test_every_sessions_table_of_a_shared_file_is_upgraded(settings) -> None:
    _version_1_file(settings.sqlite_path, "clinic-", "other-")

    SqliteStorage.open(settings).close()
    other = SqliteStorage.open(settings.replace(table_prefix="other-"))
    try:
        stored = other.sessions.put("u2", {"c": 3}, 60, NOW)
    finally:
        other.close()

    assert "ttl_seconds" in _columns(settings.sqlite_path, "other-user_sessions")
    assert stored.ttl_seconds == 60
