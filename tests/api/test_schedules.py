"""/api/v1/doctors/{doctor_id}/schedules: add slots (a list or a weekly rule), list, delete."""

from __future__ import annotations

import pytest
from freezegun import freeze_time

from health_api.storage.dynamodb import bounded
from tests.api.conftest import ADMIN, AGENT
from tests.api.helpers import (
    MON_0900,
    MON_0930,
    MON_1000,
    add_slots,
    assert_problem,
    book,
    create_doctor,
    other_app,
    slot_url,
)

SCHEDULES = "/api/v1/doctors/doc-ana/schedules"
WEEK = {"desde": "2030-03-04T00:00:00Z", "hasta": "2030-03-11T00:00:00Z"}
RULE = {
    "desde": "2030-03-29",
    "hasta": "2030-04-01",
    "dias": ["vie", "lun"],
    "hora_inicio": "09:00",
    "hora_fin": "10:00",
    "duracion_min": 30,
    "zona_horaria": "Europe/Madrid",
}


@pytest.fixture
def doctor(client) -> dict:
    """One doctor, ``doc-ana``, with no slots."""
    return create_doctor(client, "doc-ana")


def listing(client, headers=AGENT, **query) -> dict:
    response = client.get(SCHEDULES, query_string={**WEEK, **query}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_adding_a_list_of_slots_answers_201_with_the_count(client, doctor) -> None:
    body = {"slots": [{"fecha_hora": MON_0900}, {"fecha_hora": MON_0930, "duracion_min": 15}]}

    response = client.post(SCHEDULES, json=body, headers=ADMIN)

    assert response.status_code == 201
    assert response.get_json() == {"created": 2, "skipped": 0}
    assert response.headers["Cache-Control"] == "no-store"
    items = listing(client)["items"]
    assert [(s["fecha_hora"], s["duracion_min"], s["estado"]) for s in items] == [
        (MON_0900, 30, "disponible"),
        (MON_0930, 15, "disponible"),
    ]


def test_existing_slots_are_skipped_not_overwritten(client, doctor) -> None:
    add_slots(client, "doc-ana", MON_0900, duracion_min=30)

    response = client.post(
        SCHEDULES,
        json={"slots": [{"fecha_hora": MON_0900, "duracion_min": 60}, {"fecha_hora": MON_1000}]},
        headers=ADMIN,
    )

    assert response.status_code == 201
    assert response.get_json() == {"created": 1, "skipped": 1}
    assert listing(client)["items"][0]["duracion_min"] == 30


def test_input_offsets_are_normalised_to_utc(client, doctor) -> None:
    body = {"slots": [{"fecha_hora": "2030-03-04T10:00:00+01:00"}]}

    response = client.post(SCHEDULES, json=body, headers=ADMIN)

    assert response.get_json() == {"created": 1, "skipped": 0}
    assert [s["fecha_hora"] for s in listing(client)["items"]] == [MON_0900]


def test_a_weekly_rule_is_expanded_in_its_zone_across_a_dst_change(client, doctor) -> None:
    response = client.post(SCHEDULES, json=RULE, headers=ADMIN)

    assert response.status_code == 201
    assert response.get_json() == {"created": 4, "skipped": 0}
    items = listing(client, desde="2030-03-29T00:00:00Z", hasta="2030-04-02T00:00:00Z")["items"]
    # 09:00 in Madrid is 08:00Z on Friday (CET) and 07:00Z on Monday (CEST, after 31 March).
    assert [s["fecha_hora"] for s in items] == [
        "2030-03-29T08:00:00Z",
        "2030-03-29T08:30:00Z",
        "2030-04-01T07:00:00Z",
        "2030-04-01T07:30:00Z",
    ]


def test_slots_and_a_rule_together_are_a_422(client, doctor) -> None:
    body = {**RULE, "slots": [{"fecha_hora": MON_0900}]}

    response = client.post(SCHEDULES, json=body, headers=ADMIN)

    assert_problem(response, 422)
    assert listing(client)["items"] == []


def test_neither_slots_nor_a_rule_is_a_422(client, doctor) -> None:
    response = client.post(SCHEDULES, json={}, headers=ADMIN)

    assert "slots" in assert_problem(response, 422)["errors"]


def test_an_incomplete_rule_is_a_422_naming_the_missing_fields(client, doctor) -> None:
    body = {key: value for key, value in RULE.items() if key not in ("hora_fin", "dias")}

    response = client.post(SCHEDULES, json=body, headers=ADMIN)

    errors = assert_problem(response, 422)["errors"]
    assert {"hora_fin", "dias"} <= set(errors)


def test_a_rule_with_a_bad_value_is_a_422_naming_it(client, doctor, subtests) -> None:
    cases = [
        ({"dias": ["xyz"]}, "dias"),
        ({"zona_horaria": "Mars/Base"}, "zona_horaria"),
        ({"hora_inicio": "9am"}, "hora_inicio"),
        ({"desde": "2030-02-30"}, "desde"),
        ({"duracion_min": 0}, "duracion_min"),
    ]
    for change, field in cases:
        with subtests.test(change=change):
            response = client.post(SCHEDULES, json={**RULE, **change}, headers=ADMIN)

            assert field in assert_problem(response, 422)["errors"]
    assert listing(client, desde="2030-03-29T00:00:00Z", hasta="2030-04-02T00:00:00Z") == {
        "items": [],
        "next_cursor": None,
    }


def test_slots_for_an_unknown_doctor_are_a_doctor_not_found_404(client, subtests) -> None:
    for body in ({"slots": [{"fecha_hora": MON_0900}]}, RULE):
        with subtests.test(body=body):
            response = client.post("/api/v1/doctors/doc-nobody/schedules", json=body, headers=ADMIN)

            assert assert_problem(response, 404)["type"] == "/problems/doctor-not-found"


def test_listing_the_slots_of_an_unknown_doctor_is_a_doctor_not_found_404(client) -> None:
    response = client.get("/api/v1/doctors/doc-nobody/schedules", query_string=WEEK, headers=AGENT)

    body = assert_problem(response, 404)
    assert body["type"] == "/problems/doctor-not-found"
    assert "doc-nobody" in body["detail"]


def test_listing_a_known_doctor_without_slots_is_an_empty_page(client, doctor) -> None:
    assert listing(client) == {"items": [], "next_cursor": None}


def test_a_slot_in_the_past_is_a_422(client, doctor) -> None:
    body = {"slots": [{"fecha_hora": MON_0900}, {"fecha_hora": "2020-01-01T09:00:00Z"}]}

    response = client.post(SCHEDULES, json=body, headers=ADMIN)

    assert_problem(response, 422)
    assert listing(client)["items"] == []


def test_an_impossible_date_is_a_422_on_its_dotted_field(client, doctor) -> None:
    body = {"slots": [{"fecha_hora": MON_0900}, {"fecha_hora": "2030-02-30T09:00:00Z"}]}

    response = client.post(SCHEDULES, json=body, headers=ADMIN)

    assert "slots.1.fecha_hora" in assert_problem(response, 422)["errors"]


def test_an_unknown_field_in_a_slot_is_a_422(client, doctor) -> None:
    body = {"slots": [{"fecha_hora": MON_0900, "estado": "reservado", "user_id": "u-1"}]}

    response = client.post(SCHEDULES, json=body, headers=ADMIN)

    errors = assert_problem(response, 422)["errors"]
    assert {"slots.0.estado", "slots.0.user_id"} <= set(errors)
    assert listing(client)["items"] == []


def test_listing_returns_slots_in_time_order_with_local_time(client, doctor) -> None:
    add_slots(client, "doc-ana", MON_1000, MON_0900, MON_0930)

    response = client.get(SCHEDULES, query_string=WEEK, headers=AGENT)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["next_cursor"] is None
    assert [s["fecha_hora"] for s in body["items"]] == [MON_0900, MON_0930, MON_1000]
    assert body["items"][0]["fecha_hora_local"].startswith("2030-03-04T09:00:00")
    assert body["items"][0]["zona_horaria"] == "UTC"


def test_listing_in_a_clinic_zone_shows_the_local_time_beside_utc(
    client, app, backend, tmp_path, doctor
) -> None:
    madrid = other_app(app, backend, tmp_path, timezone="Europe/Madrid").test_client()
    # No offset: read in the clinic zone (10:00 in Madrid is 09:00Z in March).
    madrid.post(SCHEDULES, json={"slots": [{"fecha_hora": "2030-03-04T10:00:00"}]}, headers=ADMIN)

    response = madrid.get(SCHEDULES, query_string=WEEK, headers=AGENT)

    assert response.status_code == 200
    [slot] = response.get_json()["items"]
    assert slot["fecha_hora"] == MON_0900
    assert slot["fecha_hora_local"] == "2030-03-04T10:00:00+01:00"
    assert slot["zona_horaria"] == "Europe/Madrid"


def test_listing_is_limited_to_desde_hasta_and_estado(client, doctor) -> None:
    add_slots(client, "doc-ana", MON_0900, MON_0930, MON_1000)
    book(client, "doc-ana", MON_0930, "user-1")

    response = client.get(
        SCHEDULES,
        query_string={"desde": MON_0930, "hasta": MON_1000, "estado": "disponible"},
        headers=AGENT,
    )

    assert response.status_code == 200
    assert [s["fecha_hora"] for s in response.get_json()["items"]] == [MON_1000]


def test_listing_pages_in_time_order(client, doctor) -> None:
    add_slots(client, "doc-ana", MON_0900, MON_0930, MON_1000)

    first = listing(client, limit=2)
    second = listing(client, limit=2, cursor=first["next_cursor"])

    assert [s["fecha_hora"] for s in first["items"]] == [MON_0900, MON_0930]
    assert [s["fecha_hora"] for s in second["items"]] == [MON_1000]
    assert second["next_cursor"] is None


def test_agents_do_not_see_who_booked_but_admins_do(client, doctor) -> None:
    add_slots(client, "doc-ana", MON_0900)
    book(client, "doc-ana", MON_0900, "user-1", motivo="dolor de pecho")

    as_agent = listing(client, headers=AGENT)["items"][0]
    as_admin = listing(client, headers=ADMIN)["items"][0]

    assert as_agent["estado"] == "reservado"
    assert "user_id" not in as_agent
    assert "motivo" not in as_agent
    assert as_admin["user_id"] == "user-1"
    assert as_admin["motivo"] == "dolor de pecho"


def test_listing_with_a_bad_query_parameter_is_a_400(client, doctor, subtests) -> None:
    for query in (
        {"desde": "not-a-date"},
        {"hasta": "2030-13-01T00:00:00Z"},
        {"estado": "perdido"},
        {"limit": 0},
        {"limit": 101},
    ):
        with subtests.test(query=query):
            response = client.get(SCHEDULES, query_string=query, headers=AGENT)

            assert set(query) <= set(assert_problem(response, 400)["errors"])


def test_deleting_a_free_slot_answers_204_and_removes_it(client, doctor) -> None:
    add_slots(client, "doc-ana", MON_0900, MON_0930)

    response = client.delete(slot_url("doc-ana", MON_0900), headers=ADMIN)

    assert response.status_code == 204
    assert [s["fecha_hora"] for s in listing(client)["items"]] == [MON_0930]


def test_deleting_a_slot_named_with_an_offset_deletes_the_utc_slot(client, doctor) -> None:
    add_slots(client, "doc-ana", MON_0900)

    response = client.delete(slot_url("doc-ana", "2030-03-04T10:00:00+01:00"), headers=ADMIN)

    assert response.status_code == 204
    assert listing(client)["items"] == []


def test_deleting_a_booked_slot_is_a_409_and_keeps_the_booking(client, doctor) -> None:
    add_slots(client, "doc-ana", MON_0900)
    book(client, "doc-ana", MON_0900, "user-1")

    response = client.delete(slot_url("doc-ana", MON_0900), headers=ADMIN)

    assert_problem(response, 409)
    assert listing(client, headers=ADMIN)["items"][0]["user_id"] == "user-1"


def test_deleting_an_unknown_slot_is_a_404(client, doctor, subtests) -> None:
    add_slots(client, "doc-ana", MON_0900)

    for doctor_id, fecha_hora in (("doc-ana", MON_1000), ("doc-nobody", MON_0900)):
        with subtests.test(doctor_id=doctor_id, fecha_hora=fecha_hora):
            response = client.delete(slot_url(doctor_id, fecha_hora), headers=ADMIN)

            assert_problem(response, 404)
    assert [s["fecha_hora"] for s in listing(client)["items"]] == [MON_0900]


def test_deleting_at_a_path_time_that_is_not_a_time_is_a_400_naming_it(client, doctor) -> None:
    add_slots(client, "doc-ana", MON_0900)

    response = client.delete(slot_url("doc-ana", "not-a-time"), headers=ADMIN)

    body = assert_problem(response, 400)
    assert list(body["errors"]) == ["fecha_hora"]
    assert "2026-12-05T10:00:00+01:00" in body["errors"]["fecha_hora"][0]
    assert [s["fecha_hora"] for s in listing(client)["items"]] == [MON_0900]


def test_a_listing_window_of_93_days_is_served_and_a_longer_one_is_a_400(client, doctor) -> None:
    desde = "2030-03-04T00:00:00Z"

    served = client.get(
        SCHEDULES, query_string={"desde": desde, "hasta": "2030-06-05T00:00:00Z"}, headers=AGENT
    )
    refused = client.get(
        SCHEDULES, query_string={"desde": desde, "hasta": "2030-06-05T00:00:01Z"}, headers=AGENT
    )

    assert served.status_code == 200
    problem = assert_problem(refused, 400)
    assert "93 days" in problem["errors"]["hasta"][0]


def test_the_defaulted_desde_counts_in_the_93_day_window(client, doctor) -> None:
    with freeze_time("2030-03-01T00:00:00Z"):
        far = client.get(SCHEDULES, query_string={"hasta": "2030-06-03T00:00:00Z"}, headers=AGENT)
        near = client.get(SCHEDULES, query_string={"hasta": "2030-06-01T00:00:00Z"}, headers=AGENT)
        only_desde = client.get(
            SCHEDULES, query_string={"desde": "2031-01-01T00:00:00Z"}, headers=AGENT
        )

    assert "hasta" in assert_problem(far, 400)["errors"]
    assert near.status_code == 200
    assert only_desde.status_code == 200  # hasta defaults to a week after desde


def test_a_filtered_listing_stopped_at_its_read_budget_gives_a_cursor_that_goes_on(
    client, doctor, monkeypatch, backend
) -> None:
    monkeypatch.setattr(bounded, "READ_BUDGET", 2)
    times = [f"2030-03-04T{h:02d}:00:00Z" for h in range(8, 16)]
    add_slots(client, "doc-ana", *times)
    for t in times[:6]:
        book(client, "doc-ana", t, "user-1")
    pages, cursor = [], None
    while True:
        query = {**WEEK, "estado": "disponible", "limit": 5}
        body = listing(client, **(query | ({"cursor": cursor} if cursor else {})))
        pages.append(body)
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert [s["fecha_hora"] for p in pages for s in p["items"]] == times[6:]
    if backend != "sqlite":
        assert any(len(p["items"]) < 5 and p["next_cursor"] for p in pages)
