"""Booking, cancelling and rescheduling as conditional writes, each inside the caller's
``BEGIN IMMEDIATE`` transaction.

Each write is an ``UPDATE ... WHERE`` carrying DynamoDB's condition expression; when it changes no
row, the slot is read in the same transaction to say why. Because the transaction holds the write
lock from its start, that read sees exactly the state that made the condition fail.
"""

# Table names are identifiers, which SQL cannot bind as parameters: they come from the validated
# settings and are always passed through schema.quote(); every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3

from health_api.domain.errors import (
    NotFoundError,
    RescheduleError,
    SlotBlockedError,
    SlotTakenError,
)
from health_api.domain.models import BLOQUEADO, DISPONIBLE, RESERVADO, BookingResult, Slot, SlotKey

COLUMNS = "doctor_id, fecha_hora, duracion_min, estado, user_id, motivo, reservado_en"
KEY = "doctor_id = ? AND fecha_hora = ?"


def to_slot(row: sqlite3.Row) -> Slot:
    """The domain slot of one row."""
    return Slot(
        doctor_id=row["doctor_id"],
        fecha_hora=row["fecha_hora"],
        duracion_min=row["duracion_min"],
        estado=row["estado"],
        user_id=row["user_id"],
        motivo=row["motivo"],
        reservado_en=row["reservado_en"],
    )


def read_slot(conn: sqlite3.Connection, table: str, key: SlotKey) -> Slot | None:
    """The slot at ``key`` in ``table`` (a quoted name), or None."""
    row = conn.execute(
        f"SELECT {COLUMNS} FROM {table} WHERE {KEY}", (key.doctor_id, key.fecha_hora)
    ).fetchone()
    return None if row is None else to_slot(row)


def _held_by(slot: Slot | None, user_id: str) -> bool:
    return slot is not None and slot.estado == RESERVADO and slot.user_id == user_id


def _take(
    conn: sqlite3.Connection,
    table: str,
    key: SlotKey,
    user_id: str,
    motivo: str | None,
    now: str,
) -> Slot | None:
    # Condition: the slot exists and is disponible (attribute_exists + estado = :disponible).
    rows = conn.execute(
        f"UPDATE {table} SET estado = ?, user_id = ?, motivo = ?, reservado_en = ?"
        f" WHERE {KEY} AND estado = ? RETURNING {COLUMNS}",
        (RESERVADO, user_id, motivo, now, key.doctor_id, key.fecha_hora, DISPONIBLE),
    ).fetchall()
    return to_slot(rows[0]) if rows else None


def _free(conn: sqlite3.Connection, table: str, key: SlotKey, user_id: str) -> Slot | None:
    # Condition: the slot is booked by this user (estado = :reservado AND user_id = :user).
    # Clearing user_id drops the row from the sparse user_id index, as REMOVE does on the GSI.
    rows = conn.execute(
        f"UPDATE {table} SET estado = ?, user_id = NULL, motivo = NULL, reservado_en = NULL"
        f" WHERE {KEY} AND estado = ? AND user_id = ? RETURNING {COLUMNS}",
        (DISPONIBLE, key.doctor_id, key.fecha_hora, RESERVADO, user_id),
    ).fetchall()
    return to_slot(rows[0]) if rows else None


def book(
    conn: sqlite3.Connection,
    table: str,
    key: SlotKey,
    user_id: str,
    motivo: str | None,
    now: str,
) -> BookingResult:
    """Book a ``disponible`` slot for ``user_id``; the same user again gets the existing
    booking (``created=False``, nothing rewritten). ``NotFoundError``, ``SlotTakenError``,
    ``SlotBlockedError`` otherwise."""
    booked = _take(conn, table, key, user_id, motivo, now)
    if booked is not None:
        return BookingResult(booked, created=True)
    slot = read_slot(conn, table, key)
    if slot is None:
        raise NotFoundError("slot not found")
    if _held_by(slot, user_id):
        return BookingResult(slot, created=False)
    if slot.estado == BLOQUEADO:
        raise SlotBlockedError("the slot is blocked and cannot be booked")
    raise SlotTakenError("the slot is booked by another user")


def cancel(conn: sqlite3.Connection, table: str, key: SlotKey, user_id: str) -> Slot:
    """Free a slot held by ``user_id`` and return it. A free slot is returned unchanged (a
    retried cancel), and so is a ``bloqueado`` one; ``NotFoundError`` for no slot,
    ``SlotTakenError`` when another user holds it."""
    freed = _free(conn, table, key, user_id)
    if freed is not None:
        return freed
    slot = read_slot(conn, table, key)
    if slot is None:
        raise NotFoundError("slot not found")
    if slot.estado != RESERVADO:
        # Already free (a retried cancel) or blocked: nobody holds it, nothing to undo. The
        # DynamoDB backend answers the same way.
        return slot
    raise SlotTakenError("the slot is booked by another user")


def reschedule(
    conn: sqlite3.Connection,
    table: str,
    user_id: str,
    source: SlotKey,
    target: SlotKey,
    now: str,
) -> Slot:
    """Move the user's booking from ``source`` to ``target`` keeping its ``motivo``; raise
    ``RescheduleError`` (the caller's transaction rolls back) when it cannot. A retry after
    success (user holds ``target``, not ``source``) returns ``target`` unchanged."""
    if source == target:
        raise RescheduleError("same_slot", "the new slot is the current one")
    old = read_slot(conn, table, source)
    new = read_slot(conn, table, target)
    if old is None or not _held_by(old, user_id):
        # Checked before the source's own reason, so that a retry still succeeds after the
        # freed source was deleted (the DynamoDB backend decides in the same order).
        if new is not None and _held_by(new, user_id):
            return new
        if old is None:
            raise RescheduleError("from_not_found", "the current slot does not exist")
        raise RescheduleError("from_not_held", "the user does not hold the current slot")
    if new is None:
        raise RescheduleError("to_not_found", "the new slot does not exist")
    if new.estado == BLOQUEADO:
        raise RescheduleError("to_blocked", "the new slot is blocked")
    # Both writes keep their conditions although the reads above already decided: they are the
    # guard that makes this code fail loudly (a rollback) rather than write over a booking.
    moved = _take(conn, table, target, user_id, old.motivo, now)
    if moved is None:
        raise RescheduleError("to_taken", "the new slot is already booked")
    if _free(conn, table, source, user_id) is None:
        raise RescheduleError("from_not_held", "the user does not hold the current slot")
    return moved
