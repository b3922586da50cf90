"""What the fault-injection tests share: the retry budget they hold the service to, the
check that a 503 says nothing about the backend (``assert_unavailable``), and small steps
(seed a doctor, book, save a session, read a slot) on the Flask test client.

``FIGURES`` collects the measured attempts and wall times; the ``report_figures`` fixture
(tests/reliability/conftest.py) prints them once a module has run."""

from __future__ import annotations

import time

from flask import Flask
from flask.testing import FlaskClient

from health_api.api.kernel import state_of
from tests.api.conftest import ADMIN, AGENT
from tests.api.helpers import MON_0900, MON_0930, add_slots, assert_problem, create_doctor

ATTEMPTS = 3  # botocore standard mode, total_max_attempts=3 (client.build_client)
# Standard mode sleeps rand(0, 1) * base * 2 ** i before retry i + 1 (base 1 s for throttling,
# 25 ms for other DynamoDB errors): at most 1 s + 2 s over the 2 retries.
MAX_BACKOFF = 1.0 + 2.0
GUNICORN_TIMEOUT = 30.0
# Anything botocore or DynamoDB would say in an error: none of it may reach a client.
BACKEND_WORDS = (
    "botocore",
    "boto3",
    "Exception",
    "ThrottlingException",
    "ProvisionedThroughput",
    "InternalServerError",
    "ServiceUnavailable",
    "amazonaws",
    "127.0.0.1",
    "sqlite",
    "Traceback",
)
DOCTOR = "doc-ana"
USER = "user-fault-1"
FIGURES: dict[str, str] = {}
# The SQLite busy timeout the fault tests open their store with (sqlite_app, conftest.py).
BUSY_TIMEOUT_MS = 300


def assert_unavailable(response) -> dict:
    """A 503 storage problem with ``Retry-After`` that leaks nothing about the backend."""
    body = assert_problem(response, 503)
    assert int(response.headers["Retry-After"]) >= 1
    text = response.get_data(as_text=True)
    for word in BACKEND_WORDS:
        assert word.lower() not in text.lower(), (word, text)
    return body


def readyz(app: Flask, client: FlaskClient):
    """``/readyz`` computed now, not from its 5 s cache."""
    state_of(app).ready.clear()
    return client.get("/readyz")


def timed(call, *args, **kwargs):
    started = time.monotonic()
    response = call(*args, **kwargs)
    return response, time.monotonic() - started


def slot_state(client: FlaskClient, fecha_hora: str = MON_0900) -> dict:
    """The slot as the schedule listing shows it."""
    response = client.get(
        f"/api/v1/doctors/{DOCTOR}/schedules",
        query_string={"desde": "2030-03-04T00:00:00Z", "hasta": "2030-03-05T00:00:00Z"},
        headers=AGENT,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    (slot,) = [s for s in response.get_json()["items"] if s["fecha_hora"] == fecha_hora]
    return slot


def put_session(client: FlaskClient, user_id: str = USER, size: int = 0):
    data = {"paso": "triaje", "notas": "x" * size}
    return client.put(f"/api/v1/sessions/{user_id}", json={"data": data}, headers=AGENT)


def create_doctor_response(client: FlaskClient):
    body = {"doctor_id": "doc-new", "nombre": "Dr. Nuevo", "especialidad": "Pediatría"}
    return client.post("/api/v1/doctors", json=body, headers=ADMIN)


def seed(client: FlaskClient) -> None:
    create_doctor(client, DOCTOR)
    add_slots(client, DOCTOR, MON_0900, MON_0930)
