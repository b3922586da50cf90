"""Reschedule, a user's appointments, and availability across a specialty."""

from __future__ import annotations

import pytest
from freezegun import freeze_time

from health_api.api.kernel import kernel_of
from health_api.domain.models import BLOQUEADO, Slot
from tests.api.conftest import ADMIN, AGENT
from tests.api.helpers import (
    MON_0900,
    MON_0930,
    MON_1000,
    MON_1030,
    add_slots,
    assert_problem,
    book,
    create_doctor,
)

RESCHEDULE = "/api/v1/appointments/reschedule"
MONDAY = {"desde": "2030-03-04T00:00:00Z", "hasta": "2030-03-05T00:00:00Z"}


@pytest.fixture
def booked(client) -> None:
    """``doc-ana`` (cardiology) with 09:00 booked by ``user-1`` and 09:30, 10:00 free;
    ``doc-bea`` (cardiology) with 09:15 and 10:30 free."""
    create_doctor(client, "doc-ana", especialidad="Cardiología", nombre="Dra. Ana Pérez")
    create_doctor(client, "doc-bea", especialidad="cardiologia", nombre="Dra. Bea Ruiz")
    add_slots(client, "doc-ana", MON_0900, MON_0930, MON_1000)
    add_slots(client, "doc-bea", "2030-03-04T09:15:00Z", MON_1030)
    assert book(client, "doc-ana", MON_0900, "user-1", motivo="revisión").status_code == 201


def slots_of(client, doctor_id: str) -> dict[str, str | None]:
    """``{fecha_hora: user_id}`` of the doctor's Monday slots, seen as admin."""
    response = client.get(
        f"/api/v1/doctors/{doctor_id}/schedules", query_string=MONDAY, headers=ADMIN
    )
    return {s["fecha_hora"]: s.get("user_id") for s in response.get_json()["items"]}


def move(user_id: str, source: tuple[str, str], target: tuple[str, str]) -> dict:
    return {
        "user_id": user_id,
        "from": {"doctor_id": source[0], "fecha_hora": source[1]},
        "to": {"doctor_id": target[0], "fecha_hora": target[1]},
    }


def test_reschedule_moves_the_booking_and_frees_the_old_slot(client, booked) -> None:
    body = move("user-1", ("doc-ana", MON_0900), ("doc-bea", MON_1030))

    response = client.post(RESCHEDULE, json=body, headers=AGENT)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    slot = response.get_json()
    assert (slot["doctor_id"], slot["fecha_hora"]) == ("doc-bea", MON_1030)
    assert (slot["estado"], slot["user_id"]) == ("reservado", "user-1")
    assert slot["zona_horaria"] == "UTC"
    assert slots_of(client, "doc-ana")[MON_0900] is None
    assert slots_of(client, "doc-bea")[MON_1030] == "user-1"


def test_reschedule_normalises_offsets(client, booked) -> None:
    body = move("user-1", ("doc-ana", "2030-03-04T10:00:00+01:00"), ("doc-ana", MON_1000))

    response = client.post(RESCHEDULE, json=body, headers=AGENT)

    assert response.status_code == 200
    assert response.get_json()["fecha_hora"] == MON_1000
    assert slots_of(client, "doc-ana") == {MON_0900: None, MON_0930: None, MON_1000: "user-1"}


FAILED_MOVES = [
    ("user-1", ("doc-ana", MON_1030), ("doc-ana", MON_1000), "from_not_found"),
    ("user-2", ("doc-ana", MON_0900), ("doc-ana", MON_1000), "from_not_held"),
    ("user-2", ("doc-ana", MON_1000), ("doc-ana", MON_0930), "from_not_held"),
    ("user-1", ("doc-ana", MON_0900), ("doc-ana", "2030-03-04T11:00:00Z"), "to_not_found"),
    ("user-1", ("doc-ana", MON_0900), ("doc-nobody", MON_1000), "to_not_found"),
    ("user-1", ("doc-ana", MON_0900), ("doc-ana", MON_0930), "to_taken"),
    ("user-1", ("doc-ana", MON_0900), ("doc-bea", "2030-03-04T09:45:00Z"), "to_blocked"),
    ("user-1", ("doc-ana", MON_0900), ("doc-ana", MON_0900), "same_slot"),
]


def test_a_failed_reschedule_is_a_409_with_a_reason_and_changes_nothing(
    client, app, booked, subtests
) -> None:
    book(client, "doc-ana", MON_0930, "user-9")
    kernel_of(app).storage.slots.add_many(
        [Slot("doc-bea", "2030-03-04T09:45:00Z", estado=BLOQUEADO)]
    )
    before = (slots_of(client, "doc-ana"), slots_of(client, "doc-bea"))

    for user_id, source, target, reason in FAILED_MOVES:
        with subtests.test(reason=reason, source=source, target=target):
            response = client.post(RESCHEDULE, json=move(user_id, source, target), headers=AGENT)

            assert assert_problem(response, 409)["reason"] == reason
            assert (slots_of(client, "doc-ana"), slots_of(client, "doc-bea")) == before


def test_rescheduling_to_a_past_slot_is_a_422(client, app, booked) -> None:
    past = "2020-01-06T09:00:00Z"
    kernel_of(app).storage.slots.add_many([Slot("doc-ana", past)])

    response = client.post(
        RESCHEDULE, json=move("user-1", ("doc-ana", MON_0900), ("doc-ana", past)), headers=AGENT
    )

    assert_problem(response, 422)
    assert slots_of(client, "doc-ana")[MON_0900] == "user-1"


def test_an_invalid_reschedule_body_is_a_422_on_the_dotted_field(client, booked, subtests) -> None:
    cases = [
        ({"from": {"fecha_hora": MON_0900}}, "from.doctor_id"),
        ({"to": {"doctor_id": "doc-ana", "fecha_hora": "2030-02-30T09:00:00Z"}}, "to.fecha_hora"),
        ({"to": {"doctor_id": "doc-ana", "fecha_hora": MON_1000, "estado": "x"}}, "to.estado"),
        ({"to": "doc-ana"}, "to"),
        ({"user_id": None}, "user_id"),
        ({"user_id": "user-1\n"}, "user_id"),
        ({"to": {"doctor_id": "doc-\u0430na", "fecha_hora": MON_1000}}, "to.doctor_id"),
        ({"extra": 1}, "extra"),
    ]
    for change, field in cases:
        with subtests.test(change=change):
            body = {**move("user-1", ("doc-ana", MON_0900), ("doc-ana", MON_1000)), **change}

            response = client.post(RESCHEDULE, json=body, headers=AGENT)

            errors = assert_problem(response, 422)["errors"]
            assert any(key == field or key.startswith(f"{field}.") for key in errors), errors
    assert slots_of(client, "doc-ana")[MON_0900] == "user-1"


def test_a_users_appointments_are_listed_in_time_order(client, booked) -> None:
    book(client, "doc-bea", MON_1030, "user-1")
    book(client, "doc-ana", MON_0930, "user-1")
    book(client, "doc-ana", MON_1000, "user-2")

    response = client.get("/api/v1/users/user-1/appointments", headers=AGENT)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert [(s["doctor_id"], s["fecha_hora"]) for s in body["items"]] == [
        ("doc-ana", MON_0900),
        ("doc-ana", MON_0930),
        ("doc-bea", MON_1030),
    ]
    assert all(s["user_id"] == "user-1" and s["estado"] == "reservado" for s in body["items"])
    assert body["items"][0]["fecha_hora_local"]
    assert body["items"][0]["zona_horaria"] == "UTC"
    assert body["next_cursor"] is None


def test_a_users_appointments_start_at_desde_and_page(client, booked) -> None:
    book(client, "doc-ana", MON_0930, "user-1")
    book(client, "doc-ana", MON_1000, "user-1")
    book(client, "doc-bea", MON_1030, "user-1")
    url = "/api/v1/users/user-1/appointments"

    first = client.get(url, query_string={"desde": MON_0930, "limit": 2}, headers=AGENT)
    cursor = first.get_json()["next_cursor"]
    second = client.get(
        url, query_string={"desde": MON_0930, "limit": 2, "cursor": cursor}, headers=AGENT
    )

    assert [s["fecha_hora"] for s in first.get_json()["items"]] == [MON_0930, MON_1000]
    assert [s["fecha_hora"] for s in second.get_json()["items"]] == [MON_1030]
    assert second.get_json()["next_cursor"] is None


def test_a_user_without_appointments_gets_an_empty_page(client, booked) -> None:
    response = client.get("/api/v1/users/user-nobody/appointments", headers=AGENT)

    assert response.status_code == 200
    assert response.get_json() == {"items": [], "next_cursor": None}


def test_a_bad_appointments_query_is_a_400(client, subtests) -> None:
    for query in ({"limit": 0}, {"limit": 101}, {"desde": "yesterday"}):
        with subtests.test(query=query):
            response = client.get(
                "/api/v1/users/user-1/appointments", query_string=query, headers=AGENT
            )

            assert set(query) <= set(assert_problem(response, 400)["errors"])


def test_availability_merges_free_slots_of_the_specialty_in_time_order(client, booked) -> None:
    create_doctor(client, "doc-ciro", especialidad="Pediatría")
    add_slots(client, "doc-ciro", MON_0930)

    response = client.get(
        "/api/v1/availability",
        query_string={"especialidad": "CARDIOLOGÍA", **MONDAY},
        headers=AGENT,
    )

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert [(s["doctor_id"], s["fecha_hora"]) for s in body["items"]] == [
        ("doc-bea", "2030-03-04T09:15:00Z"),
        ("doc-ana", MON_0930),
        ("doc-ana", MON_1000),
        ("doc-bea", MON_1030),
    ]
    first = body["items"][0]
    assert first["nombre"] == "Dra. Bea Ruiz"
    assert first["especialidad"] == "cardiologia"
    assert first["estado"] == "disponible"
    assert first["zona_horaria"] == "UTC"
    assert first["fecha_hora_local"]
    assert all("user_id" not in s and "motivo" not in s for s in body["items"])
    assert body["next_cursor"] is None


def test_availability_pages_with_a_cursor(client, booked) -> None:
    query = {"especialidad": "cardiologia", "limit": 3, **MONDAY}

    first = client.get("/api/v1/availability", query_string=query, headers=AGENT).get_json()
    second = client.get(
        "/api/v1/availability",
        query_string={**query, "cursor": first["next_cursor"]},
        headers=AGENT,
    ).get_json()

    assert len(first["items"]) == 3
    assert first["next_cursor"]
    assert [s["fecha_hora"] for s in second["items"]] == [MON_1030]
    assert second["next_cursor"] is None


def test_availability_leaves_out_past_slots(client, booked) -> None:
    with freeze_time("2030-03-04T09:20:00Z"):
        response = client.get(
            "/api/v1/availability", query_string={"especialidad": "cardiologia"}, headers=AGENT
        )

    assert response.status_code == 200
    assert [s["fecha_hora"] for s in response.get_json()["items"]] == [
        MON_0930,
        MON_1000,
        MON_1030,
    ]


def test_availability_of_an_unknown_specialty_is_an_empty_page(client, booked) -> None:
    response = client.get(
        "/api/v1/availability", query_string={"especialidad": "Astrología", **MONDAY}, headers=AGENT
    )

    assert response.status_code == 200
    assert response.get_json() == {"items": [], "next_cursor": None}


def test_a_bad_availability_query_is_a_400(client, subtests) -> None:
    cases = [
        ({}, "especialidad"),
        ({"especialidad": ""}, "especialidad"),
        (
            {"especialidad": "x", "desde": "2030-03-01T00:00:00Z", "hasta": "2030-04-02T00:00:00Z"},
            "hasta",
        ),
        (
            {"especialidad": "x", "desde": "2030-03-05T00:00:00Z", "hasta": "2030-03-04T00:00:00Z"},
            "hasta",
        ),
        ({"especialidad": "x", "desde": "2030-02-30T00:00:00Z"}, "desde"),
        ({"especialidad": "x", "limit": 101}, "limit"),
    ]
    for query, field in cases:
        with subtests.test(query=query):
            response = client.get("/api/v1/availability", query_string=query, headers=AGENT)

            assert field in assert_problem(response, 400)["errors"]


def test_a_cancelled_appointment_is_no_longer_listed(client, booked) -> None:
    book(client, "doc-ana", MON_1000, "user-1")
    url = "/api/v1/users/user-1/appointments"

    cancelled = client.delete(
        f"/api/v1/doctors/doc-ana/schedules/{MON_0900}/booking",
        query_string={"user_id": "user-1"},
        headers=AGENT,
    )
    listed = client.get(url, headers=AGENT).get_json()

    assert cancelled.status_code == 204
    assert [s["fecha_hora"] for s in listed["items"]] == [MON_1000]


def test_reschedule_answers_the_target_slot_with_the_old_motivo(client, booked) -> None:
    add_slots(client, "doc-bea", "2030-03-04T11:00:00Z", duracion_min=45)
    body = move("user-1", ("doc-ana", MON_0900), ("doc-bea", "2030-03-04T11:00:00Z"))

    first = client.post(RESCHEDULE, json=body, headers=AGENT)
    retried = client.post(RESCHEDULE, json=body, headers=AGENT)

    assert first.status_code == 200
    slot = first.get_json()
    assert (slot["duracion_min"], slot["motivo"], slot["user_id"]) == (45, "revisión", "user-1")
    assert slot["reservado_en"]
    assert retried.status_code == 200
    assert retried.get_json() == slot


def test_the_openapi_document_says_what_index_lag_remains(client) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]

    appointments = paths["/api/v1/users/{user_id}/appointments"]["get"]["description"]
    free = paths["/api/v1/availability"]["get"]["description"]
    assert "never listed as booked" in appointments
    assert "may be missing for a moment" in appointments
    assert "doctor just created may be missing" in free
