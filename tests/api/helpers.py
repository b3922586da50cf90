"""Small arrange and assert steps shared by the API tests (plain functions, not fixtures)."""

from __future__ import annotations

from urllib.parse import quote

from flask import Flask
from flask.testing import FlaskClient

from health_api import create_app
from health_api.api.kernel import kernel_of
from tests.api.conftest import ADMIN, AGENT

PROBLEM_JSON = "application/problem+json"

# Fixed future instants (a Monday in 2030) so that nothing rots; all UTC, canonical form.
MON_0900 = "2030-03-04T09:00:00Z"
MON_0930 = "2030-03-04T09:30:00Z"
MON_1000 = "2030-03-04T10:00:00Z"
MON_1030 = "2030-03-04T10:30:00Z"
MON_1100 = "2030-03-04T11:00:00Z"


def assert_problem(response, status: int) -> dict:
    """``response`` is an RFC 9457 problem with ``status`` that leaks nothing; its body."""
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json()
    assert body["status"] == status
    assert body["type"]
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert "Traceback" not in text
    assert ".py" not in text
    assert "/work/" not in text
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Request-ID"]
    return body


def slot_url(doctor_id: str, fecha_hora: str, *rest: str) -> str:
    """The path of a slot (or of something under it, e.g. ``booking``)."""
    path = f"/api/v1/doctors/{doctor_id}/schedules/{quote(fecha_hora, safe='')}"
    return "/".join((path, *rest))


def create_doctor(
    client: FlaskClient,
    doctor_id: str = "doc-ana",
    especialidad: str = "Cardiología",
    nombre: str = "Dra. Ana Pérez",
    **extra,
) -> dict:
    """Create a doctor as admin; its JSON."""
    body = {"doctor_id": doctor_id, "nombre": nombre, "especialidad": especialidad, **extra}
    response = client.post("/api/v1/doctors", json=body, headers=ADMIN)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def add_slots(client: FlaskClient, doctor_id: str, *times: str, duracion_min: int = 30) -> dict:
    """Add slots at ``times`` as admin; the ``{created, skipped}`` answer."""
    body = {"slots": [{"fecha_hora": t, "duracion_min": duracion_min} for t in times]}
    response = client.post(f"/api/v1/doctors/{doctor_id}/schedules", json=body, headers=ADMIN)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def book(client: FlaskClient, doctor_id: str, fecha_hora: str, user_id: str, motivo=None):
    """PUT a booking as the agent; the response."""
    body = {"user_id": user_id} if motivo is None else {"user_id": user_id, "motivo": motivo}
    return client.put(slot_url(doctor_id, fecha_hora, "booking"), json=body, headers=AGENT)


def other_app(app: Flask, backend: str, tmp_path, **changes) -> Flask:
    """A second app on ``app``'s store with changed settings (time zone, rate limit...)."""
    settings = kernel_of(app).settings.replace(**changes)
    return create_app({"settings": settings, "storage": kernel_of(app).storage})
