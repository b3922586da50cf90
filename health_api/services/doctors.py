"""Doctor rules: generated ids, and no deletion while future appointments exist."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from health_api import clock
from health_api.domain.errors import ConflictError
from health_api.domain.models import RESERVADO, Doctor
from health_api.services.times import to_utc_string
from health_api.storage.base import Storage

END_OF_TIME = "9999-12-31T23:59:59Z"


def new_doctor_id() -> str:
    """A fresh, URL-safe doctor id."""
    return f"doc-{uuid.uuid4().hex[:12]}"


def create_doctor(storage: Storage, fields: Mapping[str, Any]) -> Doctor:
    """Store a new doctor; ``doctor_id`` is generated when absent. ``ConflictError`` if taken."""
    values = dict(fields)
    values["doctor_id"] = values.get("doctor_id") or new_doctor_id()
    values["idiomas"] = tuple(values.get("idiomas") or ())
    return storage.doctors.create(Doctor(**values))


def update_doctor(storage: Storage, doctor_id: str, changes: Mapping[str, Any]) -> Doctor:
    """Apply a partial update (``doctor_id`` itself never changes)."""
    values = dict(changes)
    if "idiomas" in values:
        values["idiomas"] = tuple(values["idiomas"] or ())
    if not values:
        return storage.doctors.get(doctor_id)
    return storage.doctors.update(doctor_id, values)


def delete_doctor(storage: Storage, doctor_id: str) -> None:
    """Delete a doctor with no future bookings, and their future unbooked slots with them.

    Past slots stay: they are the users' appointment history.
    """
    now = to_utc_string(clock.now_utc())
    if storage.slots.has_bookings_from(doctor_id, now):
        raise ConflictError("the doctor has future booked appointments; cancel them first")
    storage.doctors.delete(doctor_id)
    cursor = None
    while True:
        page = storage.slots.list_range(doctor_id, now, END_OF_TIME, limit=100, cursor=cursor)
        for slot in page.items:
            if slot.estado != RESERVADO:
                storage.slots.delete(slot.key)
        cursor = page.next_cursor
        if cursor is None:
            return
