"""Schema version 6: an idempotency table written before seeds gains ``seed``; its records read
as seedless, so ids a taken-over claim generates stay those its first run derived."""

from __future__ import annotations

import sqlite3
from hashlib import sha256

from health_api.services import idempotency as rules
from health_api.storage.base import IdempotencyRecord
from health_api.storage.sqlite.schema import SCHEMA_VERSION
from health_api.storage.sqlite.storage import SqliteStorage

# The idempotency table exactly as schema version 5 created it.
VERSION_5_IDEMPOTENCY = """CREATE TABLE "{name}" (
    clave TEXT NOT NULL PRIMARY KEY,
    huella TEXT NOT NULL,
    token TEXT NOT NULL,
    claimed_at INTEGER NOT NULL,
    ttl INTEGER NOT NULL,
    completed INTEGER NOT NULL DEFAULT 0,
    status INTEGER,
    body TEXT,
    content_type TEXT,
    location TEXT
)"""
NOW = 1_893_456_000


def test_a_version_5_idempotency_table_keeps_its_claims_and_stores_seeds(settings) -> None:
    settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(settings.sqlite_path), isolation_level=None)
    try:
        name = "clinic-idempotency_keys"
        conn.execute(VERSION_5_IDEMPOTENCY.format(name=name))
        conn.execute(
            f'INSERT INTO "{name}" (clave, huella, token, claimed_at, ttl) VALUES (?, ?, ?, ?, ?)',  # noqa: S608
            ("old", "h", "dead", NOW, NOW + 3600),
        )
        conn.execute("PRAGMA user_version = 5")
    finally:
        conn.close()

    store = SqliteStorage.open(settings)
    try:
        old = store.idempotency.get("old", NOW)
        fresh = IdempotencyRecord("new", "h", "t", NOW, NOW + 60, seed="s1")
        store.idempotency.claim(fresh, NOW, 0)
        new = store.idempotency.get("new", NOW)
        version = store.schema_version()
    finally:
        store.close()

    assert version == SCHEMA_VERSION
    assert (old.token, old.seed) == ("dead", "")
    assert new.seed == "s1"
    # A seedless claim derives ids from its key alone, as the release that wrote it did.
    assert rules.id_seed("old", old.seed) == sha256(b"health-api generated id\nold").hexdigest()
