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
    HoldInvalidError,
    NotFoundError,
    RescheduleError,
    SlotBlockedError,
    SlotTakenError,
)
from health_api.domain.models import (
    BLOQUEADO,
    DISPONIBLE,
    RESERVADO,
    BookingResult,
    Slot,
    SlotKey,
    hold_is_live,
    slot_at,
)

COLUMNS = (
    "doctor_id, fecha_hora, duracion_min, estado, user_id, motivo, reservado_en,"
    " retenido_por, retenido_hasta, retencion"
)
KEY = "doctor_id = ? AND fecha_hora = ?"
# Free at instant ? (a bound now): disponible, or held with the hold expired.
FREE_AT = "(estado = 'disponible' OR (estado = 'retenido' AND retenido_hasta <= ?))"
# Held live at instant ? (a bound now).
HELD_AT = "(estado = 'retenido' AND retenido_hasta > ?)"
NO_HOLD = "retenido_por = NULL, retenido_hasta = NULL, retencion = NULL"


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
        retenido_por=row["retenido_por"],
        retenido_hasta=row["retenido_hasta"],
        retencion=row["retencion"],
    )


def read_slot(conn: sqlite3.Connection, table: str, key: SlotKey) -> Slot | None:
    """The slot at ``key`` in ``table`` (a quoted name), or None."""
    row = conn.execute(
        f"SELECT {COLUMNS} FROM {table} WHERE {KEY}", (key.doctor_id, key.fecha_hora)
    ).fetchone()
    return None if row is None else to_slot(row)


def _held_by(slot: Slot | None, user_id: str) -> bool:
    return slot is not None and slot.estado == RESERVADO and slot.user_id == user_id


def _held_live_by(slot: Slot, user_id: str, now: str) -> bool:
    return hold_is_live(slot, now) and slot.retenido_por == user_id


def _take(
    conn: sqlite3.Connection,
    table: str,
    key: SlotKey,
    user_id: str,
    motivo: str | None,
    now: str,
    hold_nonce: str | None = None,
) -> Slot | None:
    if hold_nonce is None:
        # Condition: the slot is free at now, or held live by this user (the hold consumed).
        condition = f"({FREE_AT} OR ({HELD_AT} AND retenido_por = ?))"
        params: tuple = (now, now, user_id)
    else:
        # Condition: held live by this user under exactly this hold's nonce.
        condition = f"{HELD_AT} AND retenido_por = ? AND retencion = ?"
        params = (now, user_id, hold_nonce)
    rows = conn.execute(
        f"UPDATE {table} SET estado = ?, user_id = ?, motivo = ?, reservado_en = ?, {NO_HOLD}"
        f" WHERE {KEY} AND {condition} RETURNING {COLUMNS}",
        (RESERVADO, user_id, motivo, now, key.doctor_id, key.fecha_hora, *params),
    ).fetchall()
    return to_slot(rows[0]) if rows else None


def _free(
    conn: sqlite3.Connection, table: str, key: SlotKey, user_id: str, now: str
) -> Slot | None:
    # Condition: booked by this user, or held live by this user (a cancel releases it too).
    # Clearing user_id drops the row from the sparse user_id index, as REMOVE does on the GSI.
    rows = conn.execute(
        f"UPDATE {table} SET estado = ?, user_id = NULL, motivo = NULL, reservado_en = NULL,"
        f" {NO_HOLD} WHERE {KEY} AND ((estado = ? AND user_id = ?) OR ({HELD_AT}"
        f" AND retenido_por = ?)) RETURNING {COLUMNS}",
        (DISPONIBLE, key.doctor_id, key.fecha_hora, RESERVADO, user_id, now, user_id),
    ).fetchall()
    return to_slot(rows[0]) if rows else None


def book(
    conn: sqlite3.Connection,
    table: str,
    key: SlotKey,
    user_id: str,
    motivo: str | None,
    now: str,
    hold_nonce: str | None = None,
) -> BookingResult:
    """Book a slot free at ``now`` (or held live by ``user_id``, consuming the hold) for
    ``user_id``; the same user again gets the existing booking (``created=False``, nothing
    rewritten) whatever ``hold_nonce`` says. Given ``hold_nonce``, only that live hold of this
    user can be booked (``HoldInvalidError`` otherwise). ``NotFoundError``, ``SlotTakenError``,
    ``SlotBlockedError`` otherwise."""
    booked = _take(conn, table, key, user_id, motivo, now, hold_nonce)
    if booked is not None:
        return BookingResult(booked, created=True)
    slot = read_slot(conn, table, key)
    if slot is None:
        raise NotFoundError("slot not found")
    if _held_by(slot, user_id):
        return BookingResult(slot, created=False)
    if hold_nonce is not None:
        raise HoldInvalidError("the hold is expired, released or of another user or slot")
    if slot.estado == BLOQUEADO:
        raise SlotBlockedError("the slot is blocked and cannot be booked")
    raise SlotTakenError("the slot is booked or held by another user")


def cancel(conn: sqlite3.Connection, table: str, key: SlotKey, user_id: str, now: str) -> Slot:
    """Free a slot booked or held live by ``user_id`` and return it. A free slot is returned
    unchanged (a retried cancel), and so is a ``bloqueado`` one; ``NotFoundError`` for no slot,
    ``SlotTakenError`` when another user booked it or holds it live."""
    freed = _free(conn, table, key, user_id, now)
    if freed is not None:
        return freed
    slot = read_slot(conn, table, key)
    if slot is None:
        raise NotFoundError("slot not found")
    if slot.estado != RESERVADO and not hold_is_live(slot, now):
        # Already free (a retried cancel, an expired hold) or blocked: nothing to undo. The
        # DynamoDB backend answers the same way.
        return slot_at(slot, now)
    raise SlotTakenError("the slot is booked or held by another user")


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
    success (user holds ``target``, not ``source``) returns ``target`` unchanged. A target held
    live by this user is taken (its hold consumed); held live by another user it is taken."""
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
    # _take accepts a target free at now or held live by this user (the hold is consumed).
    # Both writes keep their conditions although the reads above already decided: they are the
    # guard that makes this code fail loudly (a rollback) rather than write over a booking.
    moved = _take(conn, table, target, user_id, old.motivo, now)
    if moved is None:
        raise RescheduleError("to_taken", "the new slot is already booked")
    if _free(conn, table, source, user_id, now) is None:
        raise RescheduleError("from_not_held", "the user does not hold the current slot")
    return moved
