"""What each credential may reach on REST (API.md "Patient tokens"): agent keys in
``HEALTH_API_AGENT_ACCESS=public`` mode reach public data only, admin keys are never limited,
user tokens never manage doctors, slots, the service or tokens, and an API key that names no
user is refused as it always was."""

from __future__ import annotations

import pytest

from health_api import create_app
from tests.api.conftest import ADMIN, AGENT
from tests.api.helpers import MON_0900, MON_0930, MON_1000, add_slots, assert_problem, slot_url
from tests.api.helpers import create_doctor as new_doctor
from tests.api.test_auth_matrix import ROUTES
from tests.api.tokens import bearer, token_settings


@pytest.fixture
def backend() -> str:
    """Who may reach what is decided before storage: SQLite is enough."""
    return "sqlite"


@pytest.fixture
def public_app(make_storage, engine_settings):
    """The token app with ``HEALTH_API_AGENT_ACCESS=public``, ``doc-ana`` with three slots,
    09:00 booked by user-1 (by the admin key) and user-1's session."""
    settings = token_settings(engine_settings(), agent_access="public")
    app = create_app({"settings": settings, "storage": make_storage()})
    client = app.test_client()
    new_doctor(client)
    add_slots(client, "doc-ana", MON_0900, MON_0930, MON_1000)
    booked = client.put(
        slot_url("doc-ana", MON_0900, "booking"),
        json={"user_id": "user-1", "motivo": "privado"},
        headers=ADMIN,
    )
    assert booked.status_code == 201
    assert (
        client.put("/api/v1/sessions/user-1", json={"data": {}}, headers=ADMIN).status_code == 200
    )
    return app


def user_data_requests(hold_id: str, user: str | None) -> list[tuple[str, str, dict | None]]:
    """Every operation on a user's data, naming ``user`` (or no one)."""
    named = {} if user is None else {"user_id": user}
    query = "" if user is None else f"?user_id={user}"
    who = user or "user-1"
    return [
        ("PUT", slot_url("doc-ana", MON_0930, "booking"), named),
        ("DELETE", slot_url("doc-ana", MON_0900, "booking") + query, None),
        ("POST", "/api/v1/holds", {"doctor_id": "doc-ana", "fecha_hora": MON_1000, **named}),
        ("GET", f"/api/v1/holds/{hold_id}", None),
        ("DELETE", f"/api/v1/holds/{hold_id}", None),
        (
            "POST",
            "/api/v1/appointments/reschedule",
            {
                "from": {"doctor_id": "doc-ana", "fecha_hora": MON_0900},
                "to": {"doctor_id": "doc-ana", "fecha_hora": MON_0930},
                **named,
            },
        ),
        ("GET", f"/api/v1/users/{who}/appointments", None),
        ("PUT", f"/api/v1/sessions/{who}", {"data": {"a": 1}}),
        ("GET", f"/api/v1/sessions/{who}", None),
        ("PATCH", f"/api/v1/sessions/{who}", {"data": {"a": 2}}),
        ("DELETE", f"/api/v1/sessions/{who}", None),
    ]


def own_hold(client, headers) -> str:
    response = client.post(
        "/api/v1/holds",
        json={"doctor_id": "doc-ana", "fecha_hora": MON_1000, "user_id": "user-1"},
        headers=headers,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["hold_id"]


def test_a_public_agent_key_reads_doctors_schedules_and_availability(public_app) -> None:
    client = public_app.test_client()
    window = {"desde": "2030-03-04", "hasta": "2030-03-04"}

    doctors = client.get("/api/v1/doctors", headers=AGENT)
    doctor = client.get("/api/v1/doctors/doc-ana", headers=AGENT)
    slots = client.get("/api/v1/doctors/doc-ana/schedules", query_string=window, headers=AGENT)
    free = client.get(
        "/api/v1/availability",
        query_string={**window, "especialidad": "cardiologia"},
        headers=AGENT,
    )

    assert [r.status_code for r in (doctors, doctor, slots, free)] == [200, 200, 200, 200]
    booked = slots.get_json()["items"][0]
    assert booked["estado"] == "reservado"
    assert "user_id" not in booked
    assert "user-1" not in slots.get_data(as_text=True)
    assert [s["fecha_hora"] for s in free.get_json()["items"]] == [MON_0930, MON_1000]


def test_a_public_agent_key_is_refused_everything_about_a_user(public_app, subtests) -> None:
    client = public_app.test_client()
    hold_id = own_hold(client, ADMIN)

    for user in ("user-1", None):
        for method, path, body in user_data_requests(hold_id, user):
            with subtests.test(request=f"{method} {path}", named=user):
                response = client.open(path, method=method, json=body, headers=AGENT)

                problem = assert_problem(response, 403)
                assert problem["type"] == "/problems/forbidden"
                assert "token" in problem["detail"]
                assert "user-1" not in response.get_data(as_text=True)
                assert "WWW-Authenticate" not in response.headers
    assert client.get(f"/api/v1/holds/{hold_id}", headers=ADMIN).status_code == 200


def test_an_admin_key_is_never_limited_by_the_agent_access_mode(public_app, subtests) -> None:
    client = public_app.test_client()
    hold_id = own_hold(client, ADMIN)

    for method, path, body in user_data_requests(hold_id, "user-1"):
        with subtests.test(request=f"{method} {path}"):
            response = client.open(path, method=method, json=body, headers=ADMIN)

            assert response.status_code < 400 or response.status_code == 409, response.get_data(
                as_text=True
            )


def test_a_user_token_acts_for_its_user_in_public_mode(public_app) -> None:
    client = public_app.test_client()
    user = bearer(public_app, "user-1")

    booked = client.put(slot_url("doc-ana", MON_0930, "booking"), json={}, headers=user)
    mine = client.get("/api/v1/users/user-1/appointments", headers=user)

    assert booked.status_code == 201
    assert [s["motivo"] for s in mine.get_json()["items"]] == ["privado", None]


def test_a_user_token_is_refused_doctor_slot_admin_and_token_operations(
    token_app, token_client, subtests
) -> None:
    user = bearer(token_app, "user-1")

    for method, path, body, role in ROUTES:
        if role == "agent":
            continue
        with subtests.test(route=f"{method} {path}"):
            response = token_client.open(path, method=method, json=body, headers=user)

            problem = assert_problem(response, 403)
            assert problem["type"] == "/problems/forbidden"
            assert f"{role} key" in problem["detail"]
    assert token_client.get("/api/v1/doctors", headers=user).status_code == 200


def test_an_agent_key_is_told_an_admin_key_is_needed(token_client) -> None:
    response = token_client.post(
        "/api/v1/doctors", json={"nombre": "Dr. X", "especialidad": "Y"}, headers=AGENT
    )

    assert "admin key" in assert_problem(response, 403)["detail"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", slot_url("doc-ana", MON_0900, "booking"), {"motivo": "x"}),
        ("POST", "/api/v1/holds", {"doctor_id": "doc-ana", "fecha_hora": MON_0900}),
        (
            "POST",
            "/api/v1/appointments/reschedule",
            {
                "from": {"doctor_id": "doc-ana", "fecha_hora": MON_0900},
                "to": {"doctor_id": "doc-ana", "fecha_hora": MON_0930},
            },
        ),
    ],
)
def test_an_api_key_that_names_no_user_in_a_body_is_a_422_and_nothing_is_stored(
    token_client, method, path, body
) -> None:
    new_doctor(token_client)
    add_slots(token_client, "doc-ana", MON_0900, MON_0930)
    keyed = {**AGENT, "Idempotency-Key": "no-user"}

    response = token_client.open(path, method=method, json=body, headers=keyed)

    problem = assert_problem(response, 422)
    assert problem["type"] == "/problems/validation"
    assert problem["errors"] == {"user_id": ["Missing data for required field."]}
    # Refused before it ran: the key is free for the corrected request.
    again = token_client.open(path, method=method, json={**body, "user_id": "u1"}, headers=keyed)
    assert again.status_code != 422, again.get_data(as_text=True)
