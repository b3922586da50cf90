"""Holds on SQLite: take, read and release a hold, each inside the caller's ``BEGIN IMMEDIATE``
transaction.

The per-user limit is exact without a counter: writers are serialised by the transaction's write
lock, so counting the user's live holds (``retenido_por = ? AND retenido_hasta > now``, one range
of the partial ``holds`` index) and then taking the slot cannot race another hold. An expired
hold needs no clean-up: it no longer matches the count, and the free-slot conditions accept it.
The take itself keeps DynamoDB's condition (free at now) on its ``UPDATE``.
"""

# Table names are identifiers, which SQL cannot bind as parameters: they come from the validated
# settings and are always passed through schema.quote(); every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3

from health_api.domain.errors import (
    AlreadyBookedError,
    HoldLimitError,
    NotFoundError,
    SlotBlockedError,
    SlotTakenError,
)
from health_api.domain.models import (
    BLOQUEADO,
    DISPONIBLE,
    RESERVADO,
    RETENIDO,
    Hold,
    HoldResult,
    SlotKey,
    hold_is_live,
    hold_of,
    slot_at,
)
from health_api.storage.sqlite.booking import COLUMNS, FREE_AT, KEY, NO_HOLD, read_slot, to_slot


def live_holds(conn: sqlite3.Connection, table: str, user_id: str, now: str) -> int:
    """How many live holds ``user_id`` has at ``now`` (an index range, never a table scan)."""
    row = conn.execute(
        f"SELECT COUNT(*) FROM {table} WHERE retenido_por = ? AND retenido_hasta > ?"
        " AND estado = ?",
        (user_id, now, RETENIDO),
    ).fetchone()
    return int(row[0])


def hold(
    conn: sqlite3.Connection,
    table: str,
    key: SlotKey,
    user_id: str,
    nonce: str,
    expires_at: str,
    now: str,
    max_per_user: int,
) -> HoldResult:
    """Hold the slot for ``user_id`` until ``expires_at`` (see ``SlotRepository.hold``)."""
    stored = read_slot(conn, table, key)
    if stored is None:
        raise NotFoundError("slot not found")
    slot = slot_at(stored, now)
    if slot.estado == BLOQUEADO:
        raise SlotBlockedError("the slot is blocked and cannot be held")
    if slot.estado == RESERVADO:
        if slot.user_id == user_id:
            raise AlreadyBookedError()
        raise SlotTakenError("the slot is booked by another user")
    if slot.estado == RETENIDO:
        if slot.retenido_por == user_id:
            return HoldResult(hold_of(slot), created=False)  # a repeat never counts twice
        raise SlotTakenError("the slot is held by another user")
    if live_holds(conn, table, user_id, now) >= max_per_user:
        raise HoldLimitError()
    # Condition: free at now (disponible, or its hold expired), as DynamoDB's write says.
    rows = conn.execute(
        f"UPDATE {table} SET estado = ?, retenido_por = ?, retenido_hasta = ?, retencion = ?"
        f" WHERE {KEY} AND {FREE_AT} RETURNING {COLUMNS}",
        (RETENIDO, user_id, expires_at, nonce, key.doctor_id, key.fecha_hora, now),
    ).fetchall()
    if not rows:  # pragma: no cover - the write lock makes the read above the current state
        raise SlotTakenError("the slot is not free")
    return HoldResult(hold_of(to_slot(rows[0])), created=True)


def get_hold(conn: sqlite3.Connection, table: str, key: SlotKey, nonce: str, now: str) -> Hold:
    """The live hold with ``nonce`` on the slot, else ``NotFoundError``."""
    slot = read_slot(conn, table, key)
    if slot is None or not hold_is_live(slot, now) or slot.retencion != nonce:
        raise NotFoundError("hold not found")
    return hold_of(slot)


def release_hold(conn: sqlite3.Connection, table: str, key: SlotKey, nonce: str) -> None:
    """Clear the hold with ``nonce`` if the slot still carries it; gone already is fine."""
    # Condition: the slot still carries this very hold (expired or not: clearing it is harmless).
    conn.execute(
        f"UPDATE {table} SET estado = ?, {NO_HOLD} WHERE {KEY} AND estado = ? AND retencion = ?",
        (DISPONIBLE, key.doctor_id, key.fecha_hora, RETENIDO, nonce),
    )
