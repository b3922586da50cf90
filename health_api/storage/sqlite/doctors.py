"""``SqliteDoctorRepository``: table ``doctores`` and its ``especialidad-index`` on SQLite."""

# Table names are identifiers, which SQL cannot bind as parameters: they come from the validated
# settings and are always passed through schema.quote(); every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from health_api.domain.errors import ConflictError, InvalidRequestError, NotFoundError
from health_api.domain.models import DOCTOR_UPDATABLE, Doctor, Page, normalize_especialidad
from health_api.storage import cursor as cursors
from health_api.storage.sqlite import deletion
from health_api.storage.sqlite.connection import SqliteDatabase
from health_api.storage.sqlite.paging import check_limit, make_page, position
from health_api.storage.sqlite.schema import quote
from health_api.storage.tables import ESPECIALIDAD_INDEX

COLUMNS = "doctor_id, nombre, especialidad_nombre, centro, telefono, email, idiomas"
REQUIRED = ("nombre", "especialidad")


def _doctor(row: sqlite3.Row) -> Doctor:
    return Doctor(
        doctor_id=row["doctor_id"],
        nombre=row["nombre"],
        especialidad=row["especialidad_nombre"],
        centro=row["centro"],
        telefono=row["telefono"],
        email=row["email"],
        idiomas=tuple(json.loads(row["idiomas"] or "[]")),
    )


def _values(doctor: Doctor) -> tuple[Any, ...]:
    return (
        doctor.nombre,
        doctor.especialidad_normalizada,
        doctor.especialidad,
        doctor.centro,
        doctor.telefono,
        doctor.email,
        json.dumps(list(doctor.idiomas), ensure_ascii=False),
        doctor.doctor_id,
    )


class SqliteDoctorRepository:
    """Doctors in one SQLite table; specialty lookups use the ``especialidad`` index."""

    def __init__(self, db: SqliteDatabase, table: str) -> None:
        self._db = db
        self._name = table
        self._table = quote(table)

    def get(self, doctor_id: str, *, consistent: bool = True) -> Doctor:
        """The doctor, or ``NotFoundError`` (every SQLite read is consistent)."""
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM {self._table} WHERE doctor_id = ?", (doctor_id,)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"doctor {doctor_id} not found")
        return _doctor(row)

    def create(self, doctor: Doctor) -> Doctor:
        """Store a new doctor; ``ConflictError`` when the id exists (nothing overwritten)."""
        with self._db.write() as conn:
            # DO NOTHING on the key only, so other constraint failures still raise.
            created = conn.execute(
                f"INSERT INTO {self._table} (nombre, especialidad, especialidad_nombre, centro,"
                " telefono, email, idiomas, doctor_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (doctor_id) DO NOTHING",
                _values(doctor),
            ).rowcount
        if created == 0:
            raise ConflictError(f"doctor {doctor.doctor_id} already exists")
        return doctor

    def update(self, doctor_id: str, changes: Mapping[str, Any]) -> Doctor:
        """Set the given fields (None removes an optional one) and return the result;
        ``NotFoundError`` when absent (never creates)."""
        unknown = sorted(set(changes) - set(DOCTOR_UPDATABLE))
        if unknown:
            raise InvalidRequestError(f"doctor fields cannot be updated: {', '.join(unknown)}")
        if any(changes.get(name, "") is None for name in REQUIRED):
            raise InvalidRequestError("nombre and especialidad cannot be removed")
        values = dict(changes)
        if "idiomas" in values:
            values["idiomas"] = tuple(values["idiomas"] or ())
        # Read and rewrite inside one write transaction: no concurrent update is lost between.
        with self._db.write() as conn:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM {self._table} WHERE doctor_id = ?", (doctor_id,)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"doctor {doctor_id} not found")
            doctor = dataclasses.replace(_doctor(row), **values)
            conn.execute(
                f"UPDATE {self._table} SET nombre = ?, especialidad = ?, especialidad_nombre = ?,"
                " centro = ?, telefono = ?, email = ?, idiomas = ? WHERE doctor_id = ?",
                _values(doctor),
            )
        return doctor

    def delete(self, doctor_id: str, *, mark: str | None = None) -> None:
        """Remove the doctor (given ``mark``, only while it carries it); ``NotFoundError``
        when absent, ``ConflictError`` when the mark changed."""
        with self._db.write() as conn:
            deletion.delete_doctor(conn, self._table, doctor_id, mark)

    def mark_deletion(self, doctor_id: str, mark: str) -> str:
        """Mark the doctor as being deleted unless it is already; the mark in force."""
        with self._db.write() as conn:
            return deletion.mark(conn, self._table, doctor_id, mark)

    def unmark_deletion(self, doctor_id: str, mark: str) -> None:
        """Clear the deletion mark if it is still ``mark``."""
        with self._db.write() as conn:
            deletion.unmark(conn, self._table, doctor_id, mark)

    def list_by_specialty(
        self, especialidad: str, limit: int, cursor: str | None = None
    ) -> Page[Doctor]:
        """Doctors of the normalised specialty ordered by ``doctor_id``: one range of the
        ``(especialidad, doctor_id)`` index per page."""
        check_limit(limit)
        key = normalize_especialidad(especialidad)
        query = cursors.fingerprint(self._name, ESPECIALIDAD_INDEX, key)
        after = position(cursor, query, ("doctor_id",))
        sql = f"SELECT {COLUMNS} FROM {self._table} WHERE especialidad = ?"
        params: list[Any] = [key]
        if after is not None:
            sql += " AND doctor_id > ?"
            params.append(after["doctor_id"])
        sql += " ORDER BY doctor_id LIMIT ?"
        with self._db.read() as conn:
            rows = conn.execute(sql, (*params, limit + 1)).fetchall()
        return make_page(rows, limit, _doctor, query, ("doctor_id",))

    def list_all(self, limit: int, cursor: str | None = None) -> Page[Doctor]:
        """Every doctor ordered by ``doctor_id``, a page at a time."""
        check_limit(limit)
        query = cursors.fingerprint(self._name, "all")
        after = position(cursor, query, ("doctor_id",))
        sql = f"SELECT {COLUMNS} FROM {self._table}"
        params: list[Any] = []
        if after is not None:
            sql += " WHERE doctor_id > ?"
            params.append(after["doctor_id"])
        sql += " ORDER BY doctor_id LIMIT ?"
        with self._db.read() as conn:
            rows = conn.execute(sql, (*params, limit + 1)).fetchall()
        return make_page(rows, limit, _doctor, query, ("doctor_id",))
