"""``SqliteIdempotencyRepository``: table ``idempotency_keys`` with DynamoDB's conditions.

The claim is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` whose WHERE is the DynamoDB
claim's condition (no row, an expired one, or a stale claim); the answer and the release are
conditional on the claim's ``token`` as on DynamoDB, and so is the renewal of a running
request's lease (``claimed_at``). A row whose ``ttl <= now`` is absent on
every read; expired rows are purged when a key is claimed (through the ``ttl`` index), standing in
for DynamoDB's TTL.
"""

# Table names are identifiers, which SQL cannot bind as parameters: they come from the validated
# settings and are always passed through schema.quote(); every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3

from health_api.storage.base import IdempotencyRecord
from health_api.storage.sqlite.connection import SqliteDatabase
from health_api.storage.sqlite.schema import quote

COLUMNS = (
    "clave, huella, token, claimed_at, ttl, completed, status, body, content_type, location, seed"
)


def _record(row: sqlite3.Row) -> IdempotencyRecord:
    return IdempotencyRecord(
        clave=row["clave"],
        huella=row["huella"],
        token=row["token"],
        claimed_at=row["claimed_at"],
        ttl=row["ttl"],
        completed=bool(row["completed"]),
        status=row["status"],
        body=row["body"],
        content_type=row["content_type"],
        location=row["location"],
        seed=row["seed"] or "",
    )


class SqliteIdempotencyRepository:
    """Idempotency records keyed by ``clave``; every write is one ``BEGIN IMMEDIATE``."""

    def __init__(self, db: SqliteDatabase, table: str) -> None:
        self._db = db
        self._table = quote(table)

    def get(self, clave: str, now: int) -> IdempotencyRecord | None:
        """The live record, or None."""
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM {self._table} WHERE clave = ? AND ttl > ?", (clave, now)
            ).fetchone()
        return _record(row) if row is not None else None

    def claim(self, record: IdempotencyRecord, now: int, stale_before: int) -> bool:
        """Insert the claim, or replace an expired record or a stale claim (see the protocol)."""
        with self._db.write() as conn:
            conn.execute(f"DELETE FROM {self._table} WHERE ttl <= ?", (now,))
            claimed = conn.execute(
                f"INSERT INTO {self._table}"
                " (clave, huella, token, claimed_at, ttl, completed, seed)"
                " VALUES (?, ?, ?, ?, ?, 0, ?) ON CONFLICT (clave) DO UPDATE SET"
                " huella = excluded.huella, token = excluded.token,"
                " claimed_at = excluded.claimed_at, ttl = excluded.ttl, completed = 0,"
                " seed = excluded.seed,"
                " status = NULL, body = NULL, content_type = NULL, location = NULL"
                # DynamoDB's condition: expired, or a claim never completed whose worker died.
                " WHERE ttl <= ? OR (completed = 0 AND claimed_at <= ?)"
                " RETURNING clave",
                (
                    record.clave,
                    record.huella,
                    record.token,
                    record.claimed_at,
                    record.ttl,
                    record.seed,
                    now,
                    stale_before,
                ),
            ).fetchall()
        return bool(claimed)

    def renew(self, clave: str, token: str, now: int) -> bool:
        """Renew our own live claim's lease; False when it is no longer a claim of ours."""
        with self._db.write() as conn:
            changed = conn.execute(
                f"UPDATE {self._table} SET claimed_at = ? WHERE clave = ? AND token = ?"
                " AND completed = 0 AND ttl > ?",
                (now, clave, token, now),
            ).rowcount
        return changed == 1

    def complete(self, completed: IdempotencyRecord) -> bool:
        """Store the answer over our own claim; False when the claim is no longer ours."""
        with self._db.write() as conn:
            changed = conn.execute(
                f"UPDATE {self._table} SET completed = 1, status = ?, body = ?,"
                " content_type = ?, location = ?, ttl = ? WHERE clave = ? AND token = ?",
                (
                    completed.status,
                    completed.body,
                    completed.content_type,
                    completed.location,
                    completed.ttl,
                    completed.clave,
                    completed.token,
                ),
            ).rowcount
        return changed == 1

    def release(self, clave: str, token: str) -> None:
        """Delete our own claim; gone or taken over is fine."""
        with self._db.write() as conn:
            conn.execute(f"DELETE FROM {self._table} WHERE clave = ? AND token = ?", (clave, token))
