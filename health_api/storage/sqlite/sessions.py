"""``SqliteSessionRepository``: table ``user_sessions`` with DynamoDB's TTL semantics.

A row whose ``ttl <= now`` is absent on every read, whatever the table still holds. Expired rows
are purged when a session is written (cheap, through the ``ttl`` index), standing in for the
eventual deletion DynamoDB's TTL performs, so expired patient data does not pile up on disk.
``ttl_seconds`` is the lifetime the session remembers (NULL in rows stored before it existed).
"""

# Table names are identifiers, which SQL cannot bind as parameters: they come from the validated
# settings and are always passed through schema.quote(); every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from health_api.domain.errors import InvalidRequestError, NotFoundError
from health_api.domain.models import (
    MAX_SESSION_DATA_BYTES,
    Session,
    encode_session_data,
    iso_from_epoch,
)
from health_api.domain.requests import SessionPatch
from health_api.storage.sqlite.connection import SqliteDatabase
from health_api.storage.sqlite.schema import quote

COLUMNS = "user_id, data, created_at, updated_at, expires_at, ttl, ttl_seconds"


def _encode(data: Mapping[str, Any]) -> str:
    try:
        return encode_session_data(data)
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError("session data must be a JSON object") from exc


def _session(row: sqlite3.Row) -> Session:
    return Session(
        user_id=row["user_id"],
        data=json.loads(row["data"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        expires_at=row["expires_at"],
        ttl=row["ttl"],
        ttl_seconds=row["ttl_seconds"],
    )


class SqliteSessionRepository:
    """Sessions keyed by ``user_id``; every write runs in a ``BEGIN IMMEDIATE`` transaction."""

    def __init__(self, db: SqliteDatabase, table: str) -> None:
        self._db = db
        self._table = quote(table)

    def put(self, user_id: str, data: Mapping[str, Any], ttl_seconds: int, now: int) -> Session:
        """Create or replace the session (a new ``created_at``, like a PutItem), expiring
        ``ttl_seconds`` after ``now``."""
        text = _encode(data)
        with self._db.write() as conn:
            return self._replace(conn, user_id, text, ttl_seconds, now)

    def _replace(
        self, conn: sqlite3.Connection, user_id: str, text: str, ttl_seconds: int, now: int
    ) -> Session:
        expires = now + ttl_seconds
        stamp = iso_from_epoch(now)
        conn.execute(f"DELETE FROM {self._table} WHERE ttl <= ?", (now,))
        row = conn.execute(
            f"INSERT INTO {self._table} ({COLUMNS}, version) VALUES (?, ?, ?, ?, ?, ?, ?, 1)"
            " ON CONFLICT (user_id) DO UPDATE SET data = excluded.data,"
            " created_at = excluded.created_at, updated_at = excluded.updated_at,"
            " expires_at = excluded.expires_at, ttl = excluded.ttl,"
            " ttl_seconds = excluded.ttl_seconds, version = version + 1"
            f" RETURNING {COLUMNS}",
            (user_id, text, stamp, stamp, iso_from_epoch(expires), expires, ttl_seconds),
        ).fetchall()[0]
        return _session(row)

    def get(self, user_id: str, now: int) -> Session:
        """The live session; ``NotFoundError`` when absent or ``ttl <= now``."""
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM {self._table} WHERE user_id = ? AND ttl > ?",
                (user_id, now),
            ).fetchone()
        if row is None:
            raise NotFoundError("session not found")
        return _session(row)

    def merge(self, user_id: str, patch: SessionPatch, now: int) -> Session:
        """Shallow-merge ``patch.changes`` into ``data`` and slide the expiry to ``now`` + the
        lifetime: ``ttl_seconds`` (then remembered), else the session's own, else
        ``default_ttl``.

        Read, merge and write happen under one write lock, so concurrent merges serialise and
        none loses another's keys. ``NotFoundError`` when absent or expired,
        ``InvalidRequestError`` when the merged data would exceed ``MAX_SESSION_DATA_BYTES``.
        """
        with self._db.write() as conn:
            session = self._merge(conn, user_id, patch, now)
        if session is None:
            raise NotFoundError("session not found")
        return session

    def upsert(self, user_id: str, patch: SessionPatch, now: int) -> Session:
        """Merge into the live session, else create it (see ``SessionRepository.upsert``):
        the read and the write share one write transaction, so concurrent first saves
        serialise and the later one merges into the earlier."""
        with self._db.write() as conn:
            session = self._merge(conn, user_id, patch, now)
            if session is None:
                ttl_seconds = patch.ttl_seconds
                lifetime = patch.default_ttl if ttl_seconds is None else ttl_seconds
                session = self._replace(conn, user_id, _encode(patch.changes), lifetime, now)
        return session

    def _merge(
        self, conn: sqlite3.Connection, user_id: str, patch: SessionPatch, now: int
    ) -> Session | None:
        changes, ttl_seconds, default_ttl = patch.changes, patch.ttl_seconds, patch.default_ttl
        row = conn.execute(
            f"SELECT data, ttl_seconds FROM {self._table} WHERE user_id = ? AND ttl > ?",
            (user_id, now),
        ).fetchone()
        if row is None:
            return None
        lifetime = next(
            (t for t in (ttl_seconds, row["ttl_seconds"], default_ttl) if t is not None), None
        )
        if lifetime is None:
            raise ValueError("the session remembers no lifetime and no default_ttl was given")
        expires = now + lifetime
        data = json.loads(row["data"])
        data.update(changes)
        text = _encode(data)
        if len(text.encode()) > MAX_SESSION_DATA_BYTES:
            raise InvalidRequestError(f"session data would exceed {MAX_SESSION_DATA_BYTES} bytes")
        # COALESCE: a PATCH without ttl_seconds keeps what the session remembers (or none).
        updated = conn.execute(
            f"UPDATE {self._table} SET data = ?, updated_at = ?, expires_at = ?, ttl = ?,"
            " ttl_seconds = COALESCE(?, ttl_seconds), version = version + 1"
            f" WHERE user_id = ? RETURNING {COLUMNS}",
            (text, iso_from_epoch(now), iso_from_epoch(expires), expires, ttl_seconds, user_id),
        ).fetchall()[0]
        return _session(updated)

    def delete(self, user_id: str) -> None:
        """Remove the session; absent is fine (idempotent)."""
        with self._db.write() as conn:
            conn.execute(f"DELETE FROM {self._table} WHERE user_id = ?", (user_id,))
