"""Mass assignment, on both backends (the Flask test client: the wire does not matter here):
a doctor, a booking, a session or new slots cannot set a field the contract does not give
(a state, a holder, an expiry, an owner), and a refused request changes nothing. Every body is
checked for leaks (``hygiene.assert_clean``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from health_api import create_app
from tests.api.conftest import ADMIN as APP_ADMIN
from tests.api.conftest import AGENT as APP_AGENT
from tests.api.conftest import storage_settings
from tests.reliability.hygiene import API, checked, future


@pytest.fixture
def client(make_storage, backend: str, tmp_path: Path) -> FlaskClient:
    """The app on a fresh store of ``backend`` (the tests/api keys)."""
    app = create_app({"settings": storage_settings(backend, tmp_path), "storage": make_storage()})
    return app.test_client()


def refused_422(response, field: str) -> None:
    checked(response)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    errors = response.get_json().get("errors", {})
    assert any(field in key for key in _error_keys(errors)), (field, errors)


def _error_keys(errors: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(errors, dict):
        for key, value in errors.items():
            yield f"{prefix}{key}"
            yield from _error_keys(value, f"{prefix}{key}.")


SLOT_1 = future(30, 9)
SLOT_2 = future(30, 10)


def schedule(client: FlaskClient, doctor_id: str) -> list[dict]:
    query = {"desde": future(29), "hasta": future(32), "limit": 100}
    response = checked(
        client.get(f"{API}/doctors/{doctor_id}/schedules", query_string=query, headers=APP_AGENT)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["items"]


@pytest.fixture
def doctor(client: FlaskClient) -> str:
    doctor_id = "mass-doc"
    made = client.post(
        f"{API}/doctors",
        json={"doctor_id": doctor_id, "nombre": "Dra. Ana Ruiz", "especialidad": "Cardiología"},
        headers=APP_ADMIN,
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    slots = client.post(
        f"{API}/doctors/{doctor_id}/schedules",
        json={"slots": [{"fecha_hora": SLOT_1}]},
        headers=APP_ADMIN,
    )
    assert slots.status_code == 201, slots.get_data(as_text=True)
    return doctor_id


FORBIDDEN_DOCTOR_FIELDS = {"estado": "bloqueado", "ttl": 1, "user_id": "intruso"}


@pytest.mark.parametrize(("field", "value"), FORBIDDEN_DOCTOR_FIELDS.items())
def test_a_doctor_cannot_be_created_or_patched_with_fields_the_contract_does_not_give(
    client: FlaskClient, doctor: str, field: str, value: Any
) -> None:
    before = checked(client.get(f"{API}/doctors/{doctor}", headers=APP_AGENT)).get_json()
    new = {"doctor_id": "mass-new", "nombre": "Dr. X", "especialidad": "Pediatría", field: value}

    refused_422(client.post(f"{API}/doctors", json=new, headers=APP_ADMIN), field)
    refused_422(
        client.patch(
            f"{API}/doctors/{doctor}", json={"nombre": "Otro", field: value}, headers=APP_ADMIN
        ),
        field,
    )

    assert checked(client.get(f"{API}/doctors/mass-new", headers=APP_AGENT)).status_code == 404
    after = checked(client.get(f"{API}/doctors/{doctor}", headers=APP_AGENT)).get_json()
    assert after == before


@pytest.mark.parametrize(
    ("field", "value"), [("estado", "bloqueado"), ("reservado_en", "2020-01-01T00:00:00Z")]
)
def test_a_booking_cannot_set_its_state_or_time(
    client: FlaskClient, doctor: str, field: str, value: str
) -> None:
    before = schedule(client, doctor)
    path = f"{API}/doctors/{doctor}/schedules/{SLOT_1}/booking"

    refused_422(client.put(path, json={"user_id": "u-1", field: value}, headers=APP_AGENT), field)

    after = schedule(client, doctor)
    assert after == before
    assert after[0]["estado"] == "disponible"
    assert "user_id" not in after[0] or after[0]["user_id"] is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("ttl", 1), ("expires_at", "2999-01-01T00:00:00Z"), ("user_id", "otro-usuario")],
)
def test_a_session_cannot_set_its_expiry_or_owner(
    client: FlaskClient, field: str, value: Any
) -> None:
    path = f"{API}/sessions/u-mass"
    made = checked(client.put(path, json={"data": {"paso": 1}}, headers=APP_AGENT))
    assert made.status_code in (200, 201), made.get_data(as_text=True)
    before = checked(client.get(path, headers=APP_AGENT)).get_json()

    refused_422(
        client.put(path, json={"data": {"paso": 2}, field: value}, headers=APP_AGENT), field
    )
    refused_422(
        client.patch(path, json={"data": {"paso": 3}, field: value}, headers=APP_AGENT), field
    )
    refused_422(
        client.put(f"{API}/sessions/u-other", json={"data": {}, field: value}, headers=APP_AGENT),
        field,
    )

    assert checked(client.get(path, headers=APP_AGENT)).get_json() == before
    other = checked(client.get(f"{API}/sessions/u-other", headers=APP_AGENT))
    assert other.status_code == 404
    assert checked(client.get(f"{API}/sessions/{value}", headers=APP_AGENT)).status_code == 404


@pytest.mark.parametrize(("field", "value"), [("estado", "reservado"), ("user_id", "intruso")])
def test_new_slots_cannot_carry_a_state_or_a_holder(
    client: FlaskClient, doctor: str, field: str, value: str
) -> None:
    before = schedule(client, doctor)
    slots = [{"fecha_hora": SLOT_2}, {"fecha_hora": SLOT_1, field: value}]

    refused_422(
        client.post(f"{API}/doctors/{doctor}/schedules", json={"slots": slots}, headers=APP_ADMIN),
        field,
    )

    assert schedule(client, doctor) == before  # not even the valid slot of the batch
    appointments = checked(client.get(f"{API}/users/{value}/appointments", headers=APP_AGENT))
    assert appointments.get_json()["items"] == []
