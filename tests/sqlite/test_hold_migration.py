"""Schema version 4: a slots table written before holds is rebuilt, its rows and index kept."""

from __future__ import annotations

import sqlite3

from health_api.domain.models import RESERVADO, RETENIDO, SlotKey
from health_api.domain.requests import HoldRequest, UserBookings
from health_api.storage.sqlite.schema import SCHEMA_VERSION
from health_api.storage.sqlite.storage import SqliteStorage

# The slots table exactly as schema version 3 created it (its CHECK knows no 'retenido').
VERSION_3_SLOTS = """CREATE TABLE "{name}" (
    doctor_id TEXT NOT NULL,
    fecha_hora TEXT NOT NULL,
    duracion_min INTEGER NOT NULL,
    estado TEXT NOT NULL CHECK (estado IN ('disponible', 'reservado', 'bloqueado')),
    user_id TEXT,
    motivo TEXT,
    reservado_en TEXT,
    PRIMARY KEY (doctor_id, fecha_hora)
) WITHOUT ROWID"""
BOOKED = SlotKey("doc-1", "2030-01-01T09:00:00Z")
FREE = SlotKey("doc-1", "2030-01-01T09:30:00Z")
NOW = "2029-12-31T09:00:00Z"


def _version_3_file(path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        name = "clinic-horarios_doctores"
        conn.execute(VERSION_3_SLOTS.format(name=name))
        conn.execute(
            f'CREATE INDEX "{name}:user_id-index" ON "{name}" (user_id, fecha_hora)'
            " WHERE user_id IS NOT NULL"
        )
        rows = [
            (*BOOKED.__dict__.values(), 30, "reservado", "u1", "control", NOW),
            (*FREE.__dict__.values(), 30, "disponible", None, None, None),
        ]
        conn.executemany(f'INSERT INTO "{name}" VALUES (?, ?, ?, ?, ?, ?, ?)', rows)  # noqa: S608
        conn.execute("PRAGMA user_version = 3")
    finally:
        conn.close()


def test_a_version_3_slots_table_keeps_its_slots_and_takes_holds(settings) -> None:
    _version_3_file(settings.sqlite_path)

    store = SqliteStorage.open(settings)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        booked = store.slots.get(BOOKED, now=NOW)
        held = store.slots.hold(HoldRequest(FREE, "u2", "n1", "2029-12-31T09:05:00Z", 3), NOW)
        mine = store.slots.list_for_user(UserBookings("u1"), now=NOW)
    finally:
        store.close()

    assert (booked.estado, booked.user_id, booked.motivo) == (RESERVADO, "u1", "control")
    assert held.hold.slot.estado == RETENIDO
    assert [s.fecha_hora for s in mine.items] == [BOOKED.fecha_hora]
