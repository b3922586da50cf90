"""/api/v1/doctors: create, list by specialty, read, partial update, delete."""

from __future__ import annotations

from health_api.api.kernel import kernel_of
from health_api.schemas.doctors import DoctorDeletion
from health_api.services import doctors as doctor_service
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
)

DOCTOR = {
    "doctor_id": "doc-ana",
    "nombre": "Dra. Ana Pérez",
    "especialidad": "Cardiología",
    "centro": "Clínica Centro",
    "telefono": "+34 600 000 000",
    "email": "ana@example.org",
    "idiomas": ["es", "en"],
}


def test_create_answers_201_with_the_doctor_and_its_location(client) -> None:
    response = client.post("/api/v1/doctors", json=DOCTOR, headers=ADMIN)

    assert response.status_code == 201
    assert response.get_json() == DOCTOR
    assert response.headers["Location"].endswith("/api/v1/doctors/doc-ana")
    assert response.headers["Cache-Control"] == "no-store"


def test_create_without_an_id_generates_one(client) -> None:
    body = {"nombre": "Dr. Luis Gil", "especialidad": "Pediatría"}

    response = client.post("/api/v1/doctors", json=body, headers=ADMIN)

    assert response.status_code == 201
    doctor_id = response.get_json()["doctor_id"]
    assert doctor_id.startswith("doc-")
    assert response.headers["Location"].endswith(f"/api/v1/doctors/{doctor_id}")
    fetched = client.get(f"/api/v1/doctors/{doctor_id}", headers=AGENT)
    assert fetched.get_json()["nombre"] == "Dr. Luis Gil"


def test_create_with_an_existing_id_is_a_409_and_keeps_the_first(client) -> None:
    create_doctor(client, "doc-ana", nombre="Dra. Ana Pérez")

    response = client.post(
        "/api/v1/doctors",
        json={"doctor_id": "doc-ana", "nombre": "Impostor", "especialidad": "Pediatría"},
        headers=ADMIN,
    )

    assert_problem(response, 409)
    assert client.get("/api/v1/doctors/doc-ana", headers=AGENT).get_json()["nombre"] == (
        "Dra. Ana Pérez"
    )


def test_create_with_an_unknown_field_is_a_422_naming_it(client, subtests) -> None:
    for field in ("estado", "ttl", "user_id", "especialidad_normalizada"):
        with subtests.test(field=field):
            body = {"nombre": "Dr. Luis Gil", "especialidad": "Pediatría", field: "x"}

            response = client.post("/api/v1/doctors", json=body, headers=ADMIN)

            assert field in assert_problem(response, 422)["errors"]
    listing = client.get("/api/v1/doctors", headers=AGENT).get_json()
    assert listing["items"] == []


def test_create_without_required_fields_is_a_422_per_field(client) -> None:
    response = client.post("/api/v1/doctors", json={"centro": "x"}, headers=ADMIN)

    problem = assert_problem(response, 422)
    assert set(problem["errors"]) == {"nombre", "especialidad"}


def test_create_with_an_invalid_id_is_a_422(client, subtests) -> None:
    # A separator, a trailing newline, a Cyrillic look-alike, an accent: none is an id.
    for doctor_id in ("has space/slash", "doc-ana\n", "doc-\u0430na", "doc-\u00e1na"):
        with subtests.test(doctor_id=doctor_id):
            body = {"doctor_id": doctor_id, "nombre": "X", "especialidad": "Y"}

            response = client.post("/api/v1/doctors", json=body, headers=ADMIN)

            assert list(assert_problem(response, 422)["errors"]) == ["doctor_id"]
    assert client.get("/api/v1/doctors", headers=AGENT).get_json()["items"] == []


def test_get_one_answers_the_doctor(client) -> None:
    create_doctor(client, "doc-ana")

    response = client.get("/api/v1/doctors/doc-ana", headers=AGENT)

    assert response.status_code == 200
    assert response.get_json()["doctor_id"] == "doc-ana"
    assert response.headers["Cache-Control"] == "no-store"


def test_get_an_unknown_doctor_is_a_404(client) -> None:
    response = client.get("/api/v1/doctors/doc-nobody", headers=AGENT)

    assert_problem(response, 404)


def test_list_by_specialty_ignores_case_and_accents(client) -> None:
    create_doctor(client, "doc-ana", especialidad="Cardiología")
    create_doctor(client, "doc-bea", especialidad="cardiologia")
    create_doctor(client, "doc-ciro", especialidad="Pediatría")

    response = client.get("/api/v1/doctors?especialidad=CARDIOLOGÍA", headers=AGENT)

    assert response.status_code == 200
    body = response.get_json()
    assert sorted(d["doctor_id"] for d in body["items"]) == ["doc-ana", "doc-bea"]
    assert body["next_cursor"] is None


def test_list_pages_through_every_doctor_once(client) -> None:
    for name in ("doc-a", "doc-b", "doc-c"):
        create_doctor(client, name)

    first = client.get("/api/v1/doctors?limit=2", headers=AGENT).get_json()
    second = client.get(
        "/api/v1/doctors", query_string={"limit": 2, "cursor": first["next_cursor"]}, headers=AGENT
    ).get_json()

    assert len(first["items"]) == 2
    assert first["next_cursor"]
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None
    seen = [d["doctor_id"] for d in first["items"] + second["items"]]
    assert sorted(seen) == ["doc-a", "doc-b", "doc-c"]


def test_list_by_specialty_pages_with_a_cursor(client) -> None:
    for name in ("doc-a", "doc-b", "doc-c"):
        create_doctor(client, name, especialidad="Neurología")

    first = client.get("/api/v1/doctors?especialidad=neurologia&limit=2", headers=AGENT)
    cursor = first.get_json()["next_cursor"]
    second = client.get(
        "/api/v1/doctors",
        query_string={"especialidad": "neurologia", "limit": 2, "cursor": cursor},
        headers=AGENT,
    )

    seen = [d["doctor_id"] for d in first.get_json()["items"] + second.get_json()["items"]]
    assert sorted(seen) == ["doc-a", "doc-b", "doc-c"]
    assert second.get_json()["next_cursor"] is None


def test_patch_changes_only_the_given_fields(client) -> None:
    create_doctor(client, "doc-ana", centro="Clínica Centro", telefono="+34 600")

    response = client.patch(
        "/api/v1/doctors/doc-ana", json={"centro": "Clínica Norte"}, headers=ADMIN
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["centro"] == "Clínica Norte"
    assert body["telefono"] == "+34 600"
    assert body["nombre"] == "Dra. Ana Pérez"
    assert client.get("/api/v1/doctors/doc-ana", headers=AGENT).get_json() == body


def test_patch_of_the_specialty_moves_the_doctor_in_the_listing(client) -> None:
    create_doctor(client, "doc-ana", especialidad="Cardiología")

    client.patch("/api/v1/doctors/doc-ana", json={"especialidad": "Pediatría"}, headers=ADMIN)

    cardio = client.get("/api/v1/doctors?especialidad=cardiologia", headers=AGENT).get_json()
    pedia = client.get("/api/v1/doctors?especialidad=pediatria", headers=AGENT).get_json()
    assert cardio["items"] == []
    assert [d["doctor_id"] for d in pedia["items"]] == ["doc-ana"]


def test_patch_with_a_field_that_cannot_change_is_a_422(client, subtests) -> None:
    before = create_doctor(client, "doc-ana")

    for field in ("doctor_id", "estado", "ttl", "user_id"):
        with subtests.test(field=field):
            response = client.patch(
                "/api/v1/doctors/doc-ana", json={field: "doc-x", "centro": "x"}, headers=ADMIN
            )

            assert field in assert_problem(response, 422)["errors"]
    assert client.get("/api/v1/doctors/doc-ana", headers=AGENT).get_json() == before


def test_patch_of_an_unknown_doctor_is_a_404(client) -> None:
    response = client.patch("/api/v1/doctors/doc-nobody", json={"centro": "x"}, headers=ADMIN)

    assert_problem(response, 404)


def test_delete_answers_204_and_the_doctor_is_gone(client) -> None:
    create_doctor(client, "doc-ana")

    response = client.delete("/api/v1/doctors/doc-ana", headers=ADMIN)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert_problem(client.get("/api/v1/doctors/doc-ana", headers=AGENT), 404)


def test_delete_of_an_unknown_doctor_is_a_404(client) -> None:
    response = client.delete("/api/v1/doctors/doc-nobody", headers=ADMIN)

    assert_problem(response, 404)


def test_delete_while_a_future_booking_exists_is_a_409(client) -> None:
    create_doctor(client, "doc-ana")
    add_slots(client, "doc-ana", MON_0900)
    assert book(client, "doc-ana", MON_0900, "user-1").status_code == 201

    response = client.delete("/api/v1/doctors/doc-ana", headers=ADMIN)

    assert_problem(response, 409)
    assert client.get("/api/v1/doctors/doc-ana", headers=AGENT).status_code == 200


def schedule_of(client, doctor_id: str) -> list[tuple[str, str]]:
    window = "desde=2030-03-04T00:00:00Z&hasta=2030-03-05T00:00:00Z"
    response = client.get(f"/api/v1/doctors/{doctor_id}/schedules?{window}", headers=ADMIN)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [(slot["fecha_hora"], slot["estado"]) for slot in response.get_json()["items"]]


def test_delete_while_a_future_booking_exists_says_what_to_do_and_changes_nothing(
    client,
) -> None:
    create_doctor(client, "doc-ana")
    add_slots(client, "doc-ana", MON_0900, MON_1000)
    book(client, "doc-ana", MON_1000, "user-1")

    body = assert_problem(client.delete("/api/v1/doctors/doc-ana", headers=ADMIN), 409)

    assert body["type"] == "/problems/conflict"
    assert "cancel them first" in body["detail"]
    assert body["slots_eliminados"] == 0
    # The free slot before the booked one is still there.
    assert schedule_of(client, "doc-ana") == [(MON_0900, "disponible"), (MON_1000, "reservado")]
    # Called off: the doctor takes slots again.
    assert add_slots(client, "doc-ana", MON_1100)["created"] == 1


def test_delete_while_a_slot_is_held_live_is_a_409_that_keeps_the_hold(client) -> None:
    create_doctor(client, "doc-ana")
    add_slots(client, "doc-ana", MON_0900, MON_1000)
    held = client.post(
        "/api/v1/holds",
        json={"doctor_id": "doc-ana", "fecha_hora": MON_1000, "user_id": "user-1"},
        headers=AGENT,
    )
    assert held.status_code == 201, held.get_data(as_text=True)

    body = assert_problem(client.delete("/api/v1/doctors/doc-ana", headers=ADMIN), 409)

    assert body["slots_eliminados"] == 0
    assert schedule_of(client, "doc-ana") == [(MON_0900, "disponible"), (MON_1000, "retenido")]
    hold = client.get(held.headers["Location"], headers=AGENT)
    assert hold.status_code == 200


def test_a_booking_landing_mid_delete_is_a_409_that_counts_the_removed_slots(
    app, client, monkeypatch
) -> None:
    create_doctor(client, "doc-ana")
    add_slots(client, "doc-ana", MON_0900, MON_0930, MON_1000)
    slots = kernel_of(app).storage.slots
    read_future = slots.read_future

    def read_then_a_booking_lands(doctor_id, desde, now):
        future = read_future(doctor_id, desde, now)
        assert book(client, "doc-ana", MON_1000, "user-1").status_code == 201
        return future

    monkeypatch.setattr(slots, "read_future", read_then_a_booking_lands)

    body = assert_problem(client.delete("/api/v1/doctors/doc-ana", headers=ADMIN), 409)

    assert body["type"] == "/problems/conflict"
    assert body["slots_eliminados"] == 2
    assert schedule_of(client, "doc-ana") == [(MON_1000, "reservado")]
    assert client.get("/api/v1/doctors/doc-ana", headers=AGENT).status_code == 200


def test_a_delete_past_its_budget_is_a_202_until_a_repeat_finishes_with_204(
    client, monkeypatch
) -> None:
    monkeypatch.setattr(doctor_service, "MAX_REMOVED_PER_REQUEST", 2)
    create_doctor(client, "doc-ana")
    add_slots(client, "doc-ana", MON_0900, MON_0930, MON_1000, MON_1030, MON_1100)

    first = client.delete("/api/v1/doctors/doc-ana", headers=ADMIN)

    assert first.status_code == 202, first.get_data(as_text=True)
    assert first.mimetype == "application/json"
    assert int(first.headers["Retry-After"]) >= 1
    body = first.get_json()
    assert body == {"doctor_id": "doc-ana", "estado": "eliminando", "slots_eliminados": 2}
    assert DoctorDeletion().dump(body) == body
    # While it runs: the doctor still reads, and takes no new slots.
    assert client.get("/api/v1/doctors/doc-ana", headers=AGENT).status_code == 200
    adding = client.post(
        "/api/v1/doctors/doc-ana/schedules",
        json={"slots": [{"fecha_hora": "2030-03-05T09:00:00Z"}]},
        headers=ADMIN,
    )
    assert "being deleted" in assert_problem(adding, 409)["detail"]

    second = client.delete("/api/v1/doctors/doc-ana", headers=ADMIN)
    third = client.delete("/api/v1/doctors/doc-ana", headers=ADMIN)

    assert (second.status_code, second.get_json()["slots_eliminados"]) == (202, 2)
    assert third.status_code == 204
    assert third.get_data() == b""
    assert_problem(client.get("/api/v1/doctors/doc-ana", headers=AGENT), 404)
    assert_problem(client.delete("/api/v1/doctors/doc-ana", headers=ADMIN), 404)


def test_the_openapi_document_describes_the_202_of_a_delete(client) -> None:
    operation = client.get("/openapi.json").get_json()["paths"]["/api/v1/doctors/{doctor_id}"]
    responses = operation["delete"]["responses"]

    assert {"202", "204", "409"} <= responses.keys()
    accepted = responses["202"]
    assert "Retry-After" in accepted["headers"]
    schema = accepted["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/DoctorDeletion"}
    conflict = responses["409"]
    assert "slots_eliminados" in conflict["description"]
    assert conflict["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
