"""Deleting a doctor on SQLite in bounded steps, as on DynamoDB (``storage/dynamodb/deletion.py``).

Each function runs inside the caller's ``BEGIN IMMEDIATE`` transaction and carries the condition
DynamoDB's request carries: the mark on the doctor row (``eliminando_desde``), the check that
slot creation makes against it, the deletion of free slots that stops at the first booked one,
and the deletion of the doctor row while it still carries its mark. A step is bounded by its
``limit`` as the DynamoDB one is, so both backends answer a large deletion in the same steps.
"""

# Table names are identifiers, which SQL cannot bind as parameters: they come from the validated
# settings and are always passed through schema.quote(); every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3

from health_api.domain.errors import ConflictError, NotFoundError
from health_api.domain.models import RESERVADO
from health_api.storage.base import FreeSlotsDeletion


def mark(conn: sqlite3.Connection, doctors: str, doctor_id: str, new_mark: str) -> str:
    """Mark the doctor as being deleted unless it is already; the mark in force."""
    # COALESCE keeps an earlier mark, as DynamoDB's if_not_exists does.
    row = conn.execute(
        f"UPDATE {doctors} SET eliminando_desde = COALESCE(eliminando_desde, ?)"
        " WHERE doctor_id = ? RETURNING eliminando_desde",
        (new_mark, doctor_id),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"doctor {doctor_id} not found")
    return str(row[0])


def unmark(conn: sqlite3.Connection, doctors: str, doctor_id: str, old_mark: str) -> None:
    """Clear the mark if it is still ``old_mark``."""
    conn.execute(
        f"UPDATE {doctors} SET eliminando_desde = NULL"
        " WHERE doctor_id = ? AND eliminando_desde = ?",
        (doctor_id, old_mark),
    )


def delete_doctor(
    conn: sqlite3.Connection, doctors: str, doctor_id: str, mark_: str | None
) -> None:
    """Delete the doctor row (given ``mark_``, only while it carries that mark)."""
    row = conn.execute(
        f"SELECT eliminando_desde FROM {doctors} WHERE doctor_id = ?", (doctor_id,)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"doctor {doctor_id} not found")
    if mark_ is not None and row[0] != mark_:
        raise ConflictError("the doctor's deletion was called off or restarted")
    conn.execute(f"DELETE FROM {doctors} WHERE doctor_id = ?", (doctor_id,))


def check_doctor(conn: sqlite3.Connection, doctors: str, doctor_id: str) -> None:
    """The guard of slot creation: the doctor exists and is not being deleted."""
    row = conn.execute(
        f"SELECT eliminando_desde FROM {doctors} WHERE doctor_id = ?", (doctor_id,)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"doctor {doctor_id} not found")
    if row[0] is not None:
        raise ConflictError(f"doctor {doctor_id} is being deleted; no slots can be added")


def delete_free_from(
    conn: sqlite3.Connection, slots: str, doctor_id: str, desde: str, limit: int
) -> FreeSlotsDeletion:
    """Read up to ``limit + 1`` of the doctor's slots from ``desde`` and delete the free ones
    before the first booked one (the transaction holds the write lock: nothing changes between)."""
    rows = conn.execute(
        f"SELECT fecha_hora, estado FROM {slots} WHERE doctor_id = ? AND fecha_hora >= ?"
        " ORDER BY fecha_hora LIMIT ?",
        (doctor_id, desde, limit + 1),
    ).fetchall()
    looked_at = rows[:limit]
    booked = [r[0] for r in looked_at if r[1] == RESERVADO]
    free = [(doctor_id, r[0]) for r in looked_at if not booked or r[0] < booked[0]]
    conn.executemany(
        f"DELETE FROM {slots} WHERE doctor_id = ? AND fecha_hora = ? AND estado <> 'reservado'",
        free,
    )
    return FreeSlotsDeletion(
        removed=len(free), booked_at=booked[0] if booked else None, more=len(rows) > limit
    )
