"""The demo data through a real server's API: load it, find free slots in it, make a fresh
doctor with one slot, and read a user's appointments."""

from __future__ import annotations

import urllib.parse
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.ops.environments import ADMIN, AGENT
from tests.ops.wire import call

SPECIALTIES = ("cardiologia", "pediatria", "traumatologia", "medicina general", "dermatologia")


def seed(port: int) -> None:
    """Load the demo data through the API."""
    response = call(port, "POST", "/api/v1/admin/seed", headers=ADMIN)
    assert response.status == 200, response.body


def free_slots(port: int, count: int) -> list[tuple[str, str]]:
    """``count`` free (doctor_id, fecha_hora) pairs of the demo data, over several doctors."""
    hasta = (datetime.now(UTC) + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    found: list[tuple[str, str]] = []
    for especialidad in SPECIALTIES:
        cursor = None
        while len(found) < count:
            query = {"especialidad": especialidad, "limit": "100", "hasta": hasta}
            if cursor:
                query["cursor"] = cursor
            page = call(
                port, "GET", "/api/v1/availability?" + urllib.parse.urlencode(query), headers=AGENT
            )
            assert page.status == 200, page.body
            found += [(item["doctor_id"], item["fecha_hora"]) for item in page.body["items"]]
            cursor = page.body["next_cursor"]
            if not cursor:
                break
        if len(found) >= count:
            return found[:count]
    raise AssertionError(f"only {len(found)} free slots in the demo data, {count} needed")


def booking_path(doctor_id: str, fecha_hora: str) -> str:
    return f"/api/v1/doctors/{doctor_id}/schedules/{fecha_hora}/booking"


def appointments(port: int, user_id: str) -> list[dict[str, Any]]:
    """Every booked slot of ``user_id`` (all pages)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        page = call(
            port,
            "GET",
            f"/api/v1/users/{user_id}/appointments?" + urllib.parse.urlencode(query),
            headers=AGENT,
        )
        assert page.status == 200, page.body
        items += page.body["items"]
        cursor = page.body["next_cursor"]
        if not cursor:
            return items


def new_slot(port: int, fecha_hora: str = "2031-03-03T09:00:00Z") -> tuple[str, str]:
    """A fresh doctor with one free slot (cheaper than the demo set on moto)."""
    doctor_id = f"ops-{uuid.uuid4().hex[:10]}"
    made = call(
        port,
        "POST",
        "/api/v1/doctors",
        {"doctor_id": doctor_id, "nombre": "Dra. Prueba", "especialidad": "Neumología"},
        ADMIN,
    )
    assert made.status == 201, made.body
    slots = call(
        port,
        "POST",
        f"/api/v1/doctors/{doctor_id}/schedules",
        {"slots": [{"fecha_hora": fecha_hora, "duracion_min": 30}]},
        ADMIN,
    )
    assert slots.status == 201, slots.body
    return doctor_id, fecha_hora
