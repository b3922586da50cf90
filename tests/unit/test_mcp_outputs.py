"""The MCP tools' output schemas are the REST response shapes: converted from the same
marshmallow schemas, valid JSON Schema, and every REST answer of those shapes validates."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from jsonschema import Draft202012Validator

from health_api import clock, create_app
from health_api.config import load_settings
from health_api.mcp.outputs import RELEASED, output_schema
from health_api.schemas.common import SlotFull, SlotPage
from health_api.schemas.doctors import DoctorPage
from health_api.schemas.holds import HoldOut
from health_api.schemas.schedules import FreeSlotPage
from health_api.schemas.sessions import SessionOut
from health_api.services.times import to_utc_string
from health_api.storage.factory import build_storage
from tests.api.conftest import ADMIN, AGENT, with_test_keys

SHAPES = (SlotFull, SlotPage, DoctorPage, HoldOut, FreeSlotPage, SessionOut)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.__name__)
def test_output_schemas_are_valid_self_contained_json_schema(shape) -> None:
    schema = output_schema(shape)

    Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert "#/components/" not in str(schema)  # every $ref resolves inside the document
    assert schema["additionalProperties"] is False


def test_released_schema_is_valid_json_schema() -> None:
    Draft202012Validator.check_schema(RELEASED)


def test_nullable_fields_allow_null() -> None:
    schema = output_schema(SlotFull)

    assert schema["properties"]["user_id"]["type"] == ["string", "null"]


@pytest.fixture
def rest(tmp_path):
    settings = with_test_keys(load_settings({}).replace(sqlite_path=tmp_path / "h.db"))
    storage = build_storage(settings)
    app = create_app({"settings": settings, "storage": storage})
    yield app.test_client()
    storage.close()


def conforms(shape, document) -> None:
    errors = list(Draft202012Validator(output_schema(shape)).iter_errors(document))
    assert not errors, [e.message for e in errors]


def test_rest_answers_validate_against_the_tool_output_schemas(rest) -> None:
    doctor = {"doctor_id": "dr-x", "nombre": "Dra. X", "especialidad": "cardiologia"}
    assert rest.post("/api/v1/doctors", json=doctor, headers=ADMIN).status_code == 201
    start = clock.now_utc().replace(microsecond=0) + timedelta(days=1)
    times = [to_utc_string(start + timedelta(minutes=30 * i)) for i in range(3)]
    created = rest.post(
        "/api/v1/doctors/dr-x/schedules",
        json={"slots": [{"fecha_hora": t} for t in times]},
        headers=ADMIN,
    )
    assert created.status_code == 201
    slot = f"/api/v1/doctors/dr-x/schedules/{quote(times[0])}"

    hold = rest.post(
        "/api/v1/holds",
        json={"doctor_id": "dr-x", "fecha_hora": times[1], "user_id": "u-1"},
        headers=AGENT,
    )
    booked = rest.put(f"{slot}/booking", json={"user_id": "u-1", "motivo": "m"}, headers=AGENT)
    session = rest.put("/api/v1/sessions/u-1", json={"data": {"a": 1}}, headers=AGENT)

    conforms(HoldOut, hold.get_json())
    conforms(SlotFull, booked.get_json())
    conforms(SessionOut, session.get_json())
    conforms(DoctorPage, rest.get("/api/v1/doctors?especialidad=cardiologia", headers=AGENT).json)
    conforms(
        FreeSlotPage, rest.get("/api/v1/availability?especialidad=cardiologia", headers=AGENT).json
    )
    conforms(SlotPage, rest.get("/api/v1/doctors/dr-x/schedules", headers=ADMIN).json)
    conforms(SlotPage, rest.get("/api/v1/doctors/dr-x/schedules", headers=AGENT).json)
    conforms(SlotPage, rest.get("/api/v1/users/u-1/appointments", headers=AGENT).json)


def test_a_document_with_an_unknown_field_does_not_validate() -> None:
    errors = list(
        Draft202012Validator(output_schema(SessionOut)).iter_errors(
            {
                "user_id": "u",
                "data": {},
                "created_at": "x",
                "updated_at": "x",
                "expires_at": "x",
                "ttl_seconds": 1,
                "secret": 1,
            }
        )
    )
    assert errors
