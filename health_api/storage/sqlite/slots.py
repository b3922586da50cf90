"""``SqliteSlotRepository``: table ``horarios_doctores`` and its sparse ``user_id-index``.

Booking (hold, get_hold, release_hold, book, cancel, reschedule) is the ``SqliteBooking`` half in
``booking.py``, a doctor's deletion steps (read_future, delete_free) the ``SqliteSlotDeletion``
half in ``deletion.py``; this module holds the creation, single deletes and queries.
"""

# Table names are identifiers, which SQL cannot bind as parameters: they come from the validated
# settings and are always passed through schema.quote(); every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from health_api.domain import slots as rules
from health_api.domain.errors import InvalidRequestError, NotFoundError
from health_api.domain.models import (
    DISPONIBLE,
    RESERVADO,
    RETENIDO,
    AddSlotsResult,
    Page,
    Slot,
    SlotKey,
    slot_at,
)
from health_api.domain.requests import FreeSlotSearch, SlotRange, UserBookings
from health_api.domain.writes import Precondition
from health_api.storage import cursor as cursors
from health_api.storage.base import FreeSlots, resolve_now
from health_api.storage.sqlite import booking, deletion
from health_api.storage.sqlite.booking import SqliteBooking
from health_api.storage.sqlite.connection import SqliteDatabase
from health_api.storage.sqlite.deletion import SqliteSlotDeletion
from health_api.storage.sqlite.paging import check_limit, make_page, position
from health_api.storage.sqlite.schema import quote
from health_api.storage.tables import USER_ID_INDEX

COLUMNS = booking.COLUMNS


class SqliteSlotRepository(SqliteBooking, SqliteSlotDeletion):
    """Slots keyed by ``(doctor_id, fecha_hora)``: creation, reads and deletion here; booking
    (conditional updates) in ``SqliteBooking``, a doctor's deletion steps in
    ``SqliteSlotDeletion``."""

    def __init__(self, db: SqliteDatabase, table: str, doctors: str | None = None) -> None:
        self._db = db
        self._name = table
        self._table = quote(table)
        self._doctors = quote(doctors) if doctors else None  # add_for_doctor's guard

    def add_many(self, slots: Sequence[Slot]) -> AddSlotsResult:
        """Create the slots that do not exist; existing ones are skipped, never overwritten."""
        with self._db.write() as conn:
            return self._insert(conn, slots)

    def add_for_doctor(self, doctor_id: str, slots: Sequence[Slot]) -> AddSlotsResult:
        """``add_many`` in the transaction that checks the doctor exists and is not being
        deleted (``NotFoundError`` / ``ConflictError``, nothing added)."""
        if self._doctors is None or any(s.doctor_id != doctor_id for s in slots):
            raise InvalidRequestError("slots of one known doctor only")
        with self._db.write() as conn:
            deletion.check_doctor(conn, self._doctors, doctor_id)
            return self._insert(conn, slots)

    def _insert(self, conn: sqlite3.Connection, slots: Sequence[Slot]) -> AddSlotsResult:
        rows = [
            (s.doctor_id, s.fecha_hora, s.duracion_min, s.estado, s.user_id, s.motivo,
             s.reservado_en, s.retenido_por, s.retenido_hasta, s.retencion)
            for s in slots
        ]  # fmt: skip
        # The key conflict alone is ignored (not CHECK failures, as OR IGNORE would), and
        # inside BEGIN IMMEDIATE no other writer can slip the same key in between.
        cur = conn.executemany(
            f"INSERT INTO {self._table} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (doctor_id, fecha_hora) DO NOTHING",
            rows,
        )
        created = max(cur.rowcount, 0)
        return AddSlotsResult(created=created, skipped=len(rows) - created)

    def get(self, key: SlotKey, *, now: str | None = None) -> Slot:
        """The slot as it is at ``now``, or ``NotFoundError``."""
        with self._db.read() as conn:
            slot = booking.read_slot(conn, self._table, key)
        if slot is None:
            raise NotFoundError("slot not found")
        return slot_at(slot, resolve_now(now))

    def delete(self, key: SlotKey, now: str | None = None) -> None:
        """Remove a slot neither booked nor held live (``NotFoundError``/``ConflictError``)."""
        condition, given = booking.where(Precondition.DELETABLE, "", resolve_now(now), None)
        with self._db.write() as conn:
            deleted = conn.execute(
                f"DELETE FROM {self._table} WHERE doctor_id = ? AND fecha_hora = ? AND {condition}",
                (key.doctor_id, key.fecha_hora, *given),
            ).rowcount
            if deleted == 0:
                # Same transaction: the row read is the state the DELETE saw.
                raise rules.deletion_problem(booking.read_slot(conn, self._table, key))

    def list_range(self, query: SlotRange, *, now: str | None = None) -> Page[Slot]:
        """Slots with ``desde <= fecha_hora <= hasta`` in time order, optionally of one
        ``estado``: one primary-key range scan per page, filled up to ``limit`` (an index
        bounds what it reads, so it needs no read budget; every read is ``consistent``)."""
        check_limit(query.limit)
        if query.desde > query.hasta:
            raise InvalidRequestError("desde must not be after hasta")
        fingerprint = cursors.fingerprint(
            self._name, query.doctor_id, query.desde, query.hasta, query.estado
        )
        after = position(query.cursor, fingerprint, ("fecha_hora",))
        sql = (
            f"SELECT {COLUMNS} FROM {self._table}"
            " WHERE doctor_id = ? AND fecha_hora >= ? AND fecha_hora <= ?"
        )
        at = resolve_now(now)
        params: list[Any] = [query.doctor_id, query.desde, query.hasta]
        if query.estado is not None:
            condition, values = _estado_filter(query.estado, at)
            sql += f" AND {condition}"
            params += values
        if after is not None:
            sql += " AND fecha_hora > ?"
            params.append(after["fecha_hora"])
        sql += " ORDER BY fecha_hora LIMIT ?"
        with self._db.read() as conn:
            rows = conn.execute(sql, (*params, query.limit + 1)).fetchall()
        return make_page(rows, query.limit, _slot_at(at), fingerprint, ("fecha_hora",))

    def list_free_of_doctors(self, search: FreeSlotSearch, *, now: str | None = None) -> FreeSlots:
        """The free slots of ``doctor_ids`` in ``[desde, hasta]`` (after ``after``), in
        ``(fecha_hora, doctor_id)`` order, at most ``limit``: one statement for every doctor,
        which reads only matching rows, so it never stops early (``stopped_at`` is None) and
        needs no ``read_budget`` (at most ``limit`` rows are read)."""
        desde, hasta, limit, after = search.desde, search.hasta, search.limit, search.after
        check_limit(limit)
        if desde > hasta:
            raise InvalidRequestError("desde must not be after hasta")
        if after is not None:
            desde = max(desde, after[0])
        ids = list(dict.fromkeys(search.doctor_ids))
        if not ids or desde > hasta:
            return FreeSlots()
        # EXPLAIN QUERY PLAN: "SEARCH ... USING PRIMARY KEY (doctor_id=? AND fecha_hora>? AND
        # fecha_hora<?)" then "USE TEMP B-TREE FOR ORDER BY": one key range per doctor, never a
        # table scan; the sorter keeps only the first LIMIT rows. 200 ids + 6 values stay far
        # below SQLite's bound-parameter cap (999 before 3.32).
        marks = ", ".join("?" * len(ids))
        sql = (
            f"SELECT {COLUMNS} FROM {self._table}"
            f" WHERE doctor_id IN ({marks}) AND fecha_hora >= ? AND fecha_hora <= ?"
            f" AND {booking.FREE_AT}"
        )
        at = resolve_now(now)
        params: list[Any] = [*ids, desde, hasta, at]
        if after is not None and after[0] == desde:
            # desde is at or past the position, so only the slots at its very instant can be
            # at or before it: a filter on the rows the key ranges found, needless otherwise.
            sql += " AND (fecha_hora, doctor_id) > (?, ?)"
            params += after
        sql += " ORDER BY fecha_hora, doctor_id LIMIT ?"
        with self._db.read() as conn:
            rows = conn.execute(sql, (*params, limit)).fetchall()
        return FreeSlots([slot_at(booking.to_slot(row), at) for row in rows])

    def list_for_user(self, query: UserBookings, *, now: str | None = None) -> Page[Slot]:
        """The user's booked slots from ``desde`` in time order, from the partial index on
        ``(user_id, fecha_hora)`` (ties ordered by ``doctor_id``, which the index carries)."""
        user_id, desde, limit = query.user_id, query.desde, query.limit
        check_limit(limit)
        fingerprint = cursors.fingerprint(self._name, USER_ID_INDEX, user_id, desde)
        fields = ("fecha_hora", "doctor_id")
        after = position(query.cursor, fingerprint, fields)
        # "user_id = ?" implies NOT NULL, which lets SQLite use the partial index.
        sql = f"SELECT {COLUMNS} FROM {self._table} WHERE user_id = ? AND estado = ?"
        params: list[Any] = [user_id, RESERVADO]
        if desde is not None:
            sql += " AND fecha_hora >= ?"
            params.append(desde)
        if after is not None:
            sql += " AND (fecha_hora, doctor_id) > (?, ?)"
            params += [after["fecha_hora"], after["doctor_id"]]
        sql += " ORDER BY fecha_hora, doctor_id LIMIT ?"
        with self._db.read() as conn:
            rows = conn.execute(sql, (*params, limit + 1)).fetchall()
        return make_page(rows, limit, _slot_at(resolve_now(now)), fingerprint, fields)


def _estado_filter(estado: str, now: str) -> tuple[str, list[Any]]:
    """The WHERE condition (and its values) of slots in ``estado`` at instant ``now``."""
    if estado == DISPONIBLE:
        return booking.FREE_AT, [now]  # expired holds are free
    if estado == RETENIDO:
        return booking.HELD_AT, [now]  # live holds only
    return "estado = ?", [estado]


def _slot_at(now: str):
    """A row mapper giving each slot as it is at ``now``."""
    return lambda row: slot_at(booking.to_slot(row), now)
