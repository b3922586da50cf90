"""PUT and DELETE /api/v1/doctors/{doctor_id}/schedules/{fecha_hora}/booking."""

from __future__ import annotations

import pytest

from health_api.api.kernel import kernel_of
from health_api.domain.models import BLOQUEADO, Slot
from tests.api.conftest import ADMIN, AGENT
from tests.api.helpers import (
    MON_0900,
    MON_0930,
    MON_1000,
    MON_1030,
    MON_1100,
    add_slots,
    assert_problem,
    book,
    create_doctor,
    slot_url,
)

PUBLIC_SLOT_KEYS = {
    "doctor_id",
    "fecha_hora",
    "fecha_hora_local",
    "zona_horaria",
    "duracion_min",
    "estado",
    "retenido_hasta",
}


@pytest.fixture
def doctor(client) -> dict:
    """``doc-ana`` with a free slot at 09:00 on a Monday in 2030."""
    doctor = create_doctor(client, "doc-ana")
    add_slots(client, "doc-ana", MON_0900)
    return doctor


def slot_as_admin(client, fecha_hora: str) -> dict:
    response = client.get(
        "/api/v1/doctors/doc-ana/schedules",
        query_string={"desde": fecha_hora, "hasta": fecha_hora},
        headers=ADMIN,
    )
    [slot] = response.get_json()["items"]
    return slot


def test_booking_a_free_slot_answers_201_with_the_booked_slot(client, doctor) -> None:
    response = client.put(
        slot_url("doc-ana", MON_0900, "booking"),
        json={"user_id": "user-1", "motivo": "revisión"},
        headers=AGENT,
    )

    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["doctor_id"] == "doc-ana"
    assert body["fecha_hora"] == MON_0900
    assert body["estado"] == "reservado"
    assert body["user_id"] == "user-1"
    assert body["motivo"] == "revisión"
    assert body["reservado_en"].endswith("Z")
    assert body["fecha_hora_local"].startswith("2030-03-04T09:00:00")
    assert body["zona_horaria"] == "UTC"
    assert slot_as_admin(client, MON_0900)["user_id"] == "user-1"


def test_the_same_user_booking_again_gets_200_and_the_same_booking(client, doctor) -> None:
    first = book(client, "doc-ana", MON_0900, "user-1", motivo="revisión")

    again = book(client, "doc-ana", MON_0900, "user-1", motivo="revisión")

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.get_json() == first.get_json()


def test_another_user_gets_409_with_alternatives(client, doctor) -> None:
    add_slots(client, "doc-ana", MON_0930, MON_1000, MON_1030, MON_1100, "2030-03-04T11:30:00Z")
    book(client, "doc-ana", MON_0900, "user-1", motivo="privado")
    book(client, "doc-ana", MON_0930, "user-2", motivo="privado")

    response = book(client, "doc-ana", MON_0900, "user-3")

    problem = assert_problem(response, 409)
    alternativas = problem["alternativas"]
    assert [s["fecha_hora"] for s in alternativas] == [MON_1000, MON_1030, MON_1100]
    assert all(set(s) == PUBLIC_SLOT_KEYS for s in alternativas)
    assert all(s["estado"] == "disponible" for s in alternativas)
    assert "user-1" not in response.get_data(as_text=True)
    assert slot_as_admin(client, MON_0900)["user_id"] == "user-1"


def test_a_conflict_with_no_free_slot_left_lists_no_alternatives(client, doctor) -> None:
    book(client, "doc-ana", MON_0900, "user-1")

    response = book(client, "doc-ana", MON_0900, "user-2")

    assert assert_problem(response, 409)["alternativas"] == []


def test_an_offset_time_books_the_utc_slot(client, doctor) -> None:
    add_slots(client, "doc-ana", MON_0930)

    response = book(client, "doc-ana", "2030-03-04T10:30:00+01:00", "user-1")

    assert response.status_code == 201
    assert response.get_json()["fecha_hora"] == MON_0930
    assert slot_as_admin(client, MON_0930)["estado"] == "reservado"


def test_booking_an_unknown_slot_is_a_404(client, doctor) -> None:
    response = book(client, "doc-ana", MON_1000, "user-1")

    assert assert_problem(response, 404)["type"] == "/problems/not-found"


def test_booking_a_slot_of_an_unknown_doctor_is_a_doctor_not_found_404(client, doctor) -> None:
    response = book(client, "doc-nobody", MON_0900, "user-1")

    body = assert_problem(response, 404)
    assert body["type"] == "/problems/doctor-not-found"
    assert "doc-nobody" in body["detail"]


def test_booking_at_a_path_time_that_is_not_a_real_time_is_a_400_naming_it(
    client, doctor, subtests
) -> None:
    for fecha_hora in ("2030-02-30T09:00:00Z", "tomorrow"):
        with subtests.test(fecha_hora=fecha_hora):
            response = book(client, "doc-ana", fecha_hora, "user-1")

            assert list(assert_problem(response, 400)["errors"]) == ["fecha_hora"]


def test_booking_a_slot_in_the_past_is_a_422(client, app, doctor) -> None:
    past = "2020-01-06T09:00:00Z"
    kernel_of(app).storage.slots.add_many([Slot("doc-ana", past)])

    response = book(client, "doc-ana", past, "user-1")

    assert_problem(response, 422)
    assert slot_as_admin(client, past)["estado"] == "disponible"


def test_booking_a_blocked_slot_is_a_422(client, app, doctor) -> None:
    kernel_of(app).storage.slots.add_many([Slot("doc-ana", MON_1000, estado=BLOQUEADO)])

    response = book(client, "doc-ana", MON_1000, "user-1")

    assert_problem(response, 422)
    assert slot_as_admin(client, MON_1000)["estado"] == "bloqueado"


def test_an_invalid_booking_body_is_a_422_naming_the_field(client, doctor, subtests) -> None:
    cases = [
        ({}, "user_id"),
        ({"user_id": "has space"}, "user_id"),
        ({"user_id": "user-1", "estado": "disponible"}, "estado"),
        ({"user_id": "user-1", "reservado_en": "2030-01-01T00:00:00Z"}, "reservado_en"),
        ({"user_id": "user-1", "motivo": "x" * 501}, "motivo"),
    ]
    for body, field in cases:
        with subtests.test(body=body):
            response = client.put(
                slot_url("doc-ana", MON_0900, "booking"), json=body, headers=AGENT
            )

            assert field in assert_problem(response, 422)["errors"]
    assert slot_as_admin(client, MON_0900)["estado"] == "disponible"


def test_cancelling_answers_204_and_frees_the_slot(client, doctor) -> None:
    book(client, "doc-ana", MON_0900, "user-1", motivo="revisión")

    response = client.delete(
        slot_url("doc-ana", MON_0900, "booking"), query_string={"user_id": "user-1"}, headers=AGENT
    )

    assert response.status_code == 204
    assert response.get_data() == b""
    slot = slot_as_admin(client, MON_0900)
    assert slot["estado"] == "disponible"
    assert slot.get("user_id") is None
    assert slot.get("motivo") is None
    assert book(client, "doc-ana", MON_0900, "user-2").status_code == 201


def test_cancelling_someone_elses_booking_is_a_409_and_keeps_it(client, doctor) -> None:
    book(client, "doc-ana", MON_0900, "user-1")

    response = client.delete(
        slot_url("doc-ana", MON_0900, "booking"), query_string={"user_id": "user-2"}, headers=AGENT
    )

    body = assert_problem(response, 409)
    assert body["type"] == "/problems/not-your-booking"
    assert "alternativas" not in body
    assert slot_as_admin(client, MON_0900)["user_id"] == "user-1"


def test_cancelling_without_user_id_is_a_400(client, doctor) -> None:
    book(client, "doc-ana", MON_0900, "user-1")

    response = client.delete(slot_url("doc-ana", MON_0900, "booking"), headers=AGENT)

    assert "user_id" in assert_problem(response, 400)["errors"]
    assert slot_as_admin(client, MON_0900)["user_id"] == "user-1"


def test_cancelling_an_unknown_slot_is_a_404(client, doctor) -> None:
    response = client.delete(
        slot_url("doc-ana", MON_1000, "booking"), query_string={"user_id": "user-1"}, headers=AGENT
    )

    assert assert_problem(response, 404)["type"] == "/problems/not-found"


def test_cancelling_a_slot_of_an_unknown_doctor_is_a_doctor_not_found_404(client, doctor) -> None:
    response = client.delete(
        slot_url("doc-nobody", MON_0900, "booking"),
        query_string={"user_id": "user-1"},
        headers=AGENT,
    )

    assert assert_problem(response, 404)["type"] == "/problems/doctor-not-found"


def test_cancelling_with_a_user_id_that_is_not_an_id_is_a_400_naming_it(
    client, doctor, subtests
) -> None:
    book(client, "doc-ana", MON_0900, "user-1")

    for user_id in ("user-1\n", "us\u0435r-1", "user 1", ""):
        with subtests.test(user_id=user_id):
            response = client.delete(
                slot_url("doc-ana", MON_0900, "booking"),
                query_string={"user_id": user_id},
                headers=AGENT,
            )

            assert list(assert_problem(response, 400)["errors"]) == ["user_id"]
    assert slot_as_admin(client, MON_0900)["user_id"] == "user-1"


def test_booking_with_a_user_id_that_is_not_an_id_is_a_422_naming_it(
    client, doctor, subtests
) -> None:
    for user_id in ("user-1\n", "us\u0435r-1", "\u00fcser-1", "user 1", "x" * 129):
        with subtests.test(user_id=user_id):
            response = book(client, "doc-ana", MON_0900, user_id)

            assert list(assert_problem(response, 422)["errors"]) == ["user_id"]
    assert slot_as_admin(client, MON_0900)["estado"] == "disponible"
