"""Deleting a doctor on SQLite in bounded steps, as on DynamoDB (``storage/dynamodb/deletion.py``).

Each write runs inside a ``BEGIN IMMEDIATE`` transaction (the caller's for the doctor row; its
own for each step on the slots, in ``SqliteSlotDeletion``, a half of ``SqliteSlotRepository``) and
carries the condition DynamoDB's request carries: the mark on the doctor row
(``eliminando_desde``), the check that slot creation makes against it, the deletion of free slots
each conditional on "neither booked nor held live", and the deletion of the doctor row while it
still carries its mark. The service reads the future schedule first
(``SqliteSlotDeletion.read_future``) and deletes in steps of its size, so both backends answer a
large deletion in the same steps.
"""

# Table names are identifiers, which SQL cannot bind as parameters: they come from the validated
# settings and are always passed through schema.quote(); every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from health_api.domain.errors import ConflictError, NotFoundError
from health_api.domain.models import Slot, SlotKey, blocks_doctor_deletion
from health_api.domain.writes import Precondition
from health_api.storage.base import FreeSlotsDeletion, FutureSchedule
from health_api.storage.sqlite.booking import read_slot, where
from health_api.storage.sqlite.connection import SqliteDatabase


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


class SqliteSlotDeletion:
    """The doctor-deletion half of ``SqliteSlotRepository``: reading a doctor's future schedule
    and deleting its free slots in bounded steps (one transaction each)."""

    _db: SqliteDatabase
    _table: str  # quoted

    def read_future(self, doctor_id: str, desde: str, now: str) -> FutureSchedule:
        """The doctor's slots from ``desde`` in time order, up to the first booked or held live
        at ``now`` (one statement: one consistent snapshot)."""
        free: list[str] = []
        with self._db.read() as conn:
            # Stepped lazily: the rows after the first taken slot are never read.
            rows = conn.execute(
                f"SELECT fecha_hora, estado, retenido_hasta FROM {self._table}"
                " WHERE doctor_id = ? AND fecha_hora >= ? ORDER BY fecha_hora",
                (doctor_id, desde),
            )
            for fecha_hora, estado, retenido_hasta in rows:
                slot = Slot(doctor_id, fecha_hora, estado=estado, retenido_hasta=retenido_hasta)
                if blocks_doctor_deletion(slot, now):
                    return FutureSchedule(free, taken_at=fecha_hora)
                free.append(fecha_hora)
        return FutureSchedule(free)

    def delete_free(self, doctor_id: str, fechas: Sequence[str], now: str) -> FreeSlotsDeletion:
        """Delete the slots at ``fechas`` that are neither booked nor held live at ``now`` (the
        slot DELETE's condition), in one transaction; the first one found taken is
        ``taken_at``."""
        removed = 0
        taken: list[str] = []
        condition, given = where(Precondition.DELETABLE, "", now, None)
        with self._db.write() as conn:
            for fecha_hora in fechas:
                deleted = conn.execute(
                    f"DELETE FROM {self._table} WHERE doctor_id = ? AND fecha_hora = ?"
                    f" AND {condition}",
                    (doctor_id, fecha_hora, *given),
                ).rowcount
                if deleted:
                    removed += 1
                elif read_slot(conn, self._table, SlotKey(doctor_id, fecha_hora)) is not None:
                    taken.append(fecha_hora)  # booked or held since it was read: it stays
        return FreeSlotsDeletion(removed=removed, taken_at=min(taken) if taken else None)
