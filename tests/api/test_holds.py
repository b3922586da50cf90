"""POST/GET/DELETE /api/v1/holds and booking with ``hold_id``: API.md "Holds", line by line."""

from __future__ import annotations

import pytest
from freezegun import freeze_time

from health_api import signing
from health_api.api.kernel import kernel_of
from health_api.domain.models import BLOQUEADO, Hold, Slot, SlotKey
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
    other_app,
    slot_url,
)

HOLDS = "/api/v1/holds"
NOW = "2030-03-04T08:00:00Z"  # an hour before MON_0900
IN_FIVE_MINUTES = "2030-03-04T08:05:00Z"


@pytest.fixture
def doctor(client):
    """Dra. Ana with five free slots on Monday morning."""
    create_doctor(client)
    add_slots(client, "doc-ana", MON_0900, MON_0930, MON_1000, MON_1030, MON_1100)


@pytest.fixture
def frozen():
    """The clock at NOW; ``frozen.move_to`` moves it."""
    with freeze_time(NOW) as clock:
        yield clock


def hold(client, fecha_hora=MON_0900, user_id="user-1", headers=AGENT, **extra):
    """POST a hold of Dra. Ana's slot; the response."""
    body = {"doctor_id": "doc-ana", "fecha_hora": fecha_hora, "user_id": user_id, **extra}
    return client.post(HOLDS, json=body, headers=headers)


def book_with(client, fecha_hora, user_id, hold_id):
    """PUT a booking naming ``hold_id``; the response."""
    body = {"user_id": user_id, "hold_id": hold_id}
    return client.put(slot_url("doc-ana", fecha_hora, "booking"), json=body, headers=AGENT)


def listed(client, fecha_hora=MON_0900, headers=AGENT, **query):
    """The slot at ``fecha_hora`` as the schedules listing shows it."""
    params = {"desde": fecha_hora, "hasta": fecha_hora, **query}
    response = client.get("/api/v1/doctors/doc-ana/schedules", query_string=params, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    items = response.get_json()["items"]
    return items[0] if items else None


def edited(hold_id: str) -> str:
    """``hold_id`` with one character in its middle changed."""
    middle = len(hold_id) // 2
    return hold_id[:middle] + ("A" if hold_id[middle] != "A" else "B") + hold_id[middle + 1 :]


def test_a_hold_is_201_with_location_and_the_slot_is_retenido(client, doctor, frozen) -> None:
    response = hold(client)

    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert response.headers["Location"] == f"{HOLDS}/{body['hold_id']}"
    assert len(body["hold_id"]) <= 512
    assert "user-1" not in body["hold_id"]
    assert {k: body[k] for k in ("doctor_id", "fecha_hora", "user_id", "expires_at")} == {
        "doctor_id": "doc-ana",
        "fecha_hora": MON_0900,
        "user_id": "user-1",
        "expires_at": IN_FIVE_MINUTES,
    }
    assert body["slot"]["estado"] == "retenido"
    assert body["slot"]["retenido_hasta"] == IN_FIVE_MINUTES
    assert body["slot"]["fecha_hora_local"]
    assert body["slot"]["zona_horaria"]
    assert "retenido_por" not in body["slot"]
    assert "retencion" not in body["slot"]


def test_the_same_user_again_gets_200_and_the_same_hold_with_its_expiry(
    client, doctor, frozen
) -> None:
    first = hold(client).get_json()
    frozen.tick(60)

    again = hold(client, ttl_seconds=1800)

    assert again.status_code == 200
    assert "Location" not in again.headers
    assert again.get_json()["hold_id"] == first["hold_id"]
    assert again.get_json()["expires_at"] == IN_FIVE_MINUTES


def test_ttl_seconds_sets_the_expiry_and_is_30_to_1800(client, doctor, frozen) -> None:
    assert hold(client, ttl_seconds=30).get_json()["expires_at"] == "2030-03-04T08:00:30Z"
    for ttl in (29, 1801):
        problem = assert_problem(hold(client, MON_0930, ttl_seconds=ttl), 422)
        assert "ttl_seconds" in problem["errors"]


def test_the_expiry_is_never_later_than_the_slot_start(client, doctor) -> None:
    with freeze_time("2030-03-04T08:58:00Z"):
        response = hold(client, ttl_seconds=600)

    assert response.status_code == 201
    assert response.get_json()["expires_at"] == MON_0900


def test_a_slot_held_by_another_user_is_slot_taken_with_alternativas(
    client, doctor, frozen
) -> None:
    hold(client, user_id="user-1")

    problem = assert_problem(hold(client, user_id="user-2"), 409)

    assert problem["type"] == "/problems/slot-taken"
    assert [s["fecha_hora"] for s in problem["alternativas"]] == [MON_0930, MON_1000, MON_1030]


def test_a_booked_slot_is_slot_taken_for_others_and_already_booked_for_its_booker(
    client, doctor, frozen
) -> None:
    assert book(client, "doc-ana", MON_0900, "user-1").status_code == 201

    taken = assert_problem(hold(client, user_id="user-2"), 409)
    mine = assert_problem(hold(client, user_id="user-1"), 409)

    assert taken["type"] == "/problems/slot-taken"
    assert taken["alternativas"]
    assert mine["type"] == "/problems/already-booked"
    assert "alternativas" not in mine


def test_unknown_past_and_blocked_slots(client, app, doctor, frozen) -> None:
    store = kernel_of(app).storage
    store.slots.add_many(
        [
            Slot("doc-ana", "2030-03-04T07:00:00Z"),
            Slot("doc-ana", "2030-03-05T09:00:00Z", estado=BLOQUEADO),
        ]
    )

    assert_problem(hold(client, "2030-03-04T12:00:00Z"), 404)
    assert_problem(hold(client, "2030-03-04T07:00:00Z"), 422)
    assert assert_problem(hold(client, "2030-03-05T09:00:00Z"), 422)["type"] == (
        "/problems/slot-blocked"
    )


def test_a_user_holds_at_most_hold_max_per_user_slots(client, doctor, frozen) -> None:
    ids = [hold(client, t).get_json()["hold_id"] for t in (MON_0900, MON_0930, MON_1000)]

    over = assert_problem(hold(client, MON_1030), 409)
    repeat = hold(client, MON_0900)
    other_user = hold(client, MON_1030, user_id="user-2")

    assert over["type"] == "/problems/hold-limit"
    assert repeat.status_code == 200  # a repeat of a live hold does not count twice
    assert other_user.status_code == 201
    assert client.delete(f"{HOLDS}/{ids[0]}", headers=AGENT).status_code == 204
    assert hold(client, MON_1100).status_code == 201  # a released hold frees its place


def test_expired_holds_free_their_place_under_the_limit(client, doctor, frozen) -> None:
    for fecha_hora in (MON_0900, MON_0930, MON_1000):
        assert hold(client, fecha_hora, ttl_seconds=30).status_code == 201
    frozen.tick(31)

    assert hold(client, MON_1030).status_code == 201


def test_hold_get_book_with_hold_id_then_the_hold_is_gone(client, doctor, frozen) -> None:
    hold_id = hold(client).get_json()["hold_id"]

    read = client.get(f"{HOLDS}/{hold_id}", headers=AGENT)
    booked = book_with(client, MON_0900, "user-1", hold_id)
    retried = book_with(client, MON_0900, "user-1", hold_id)

    assert read.status_code == 200
    assert read.get_json()["hold_id"] == hold_id
    assert read.get_json()["expires_at"] == IN_FIVE_MINUTES
    assert booked.status_code == 201, booked.get_data(as_text=True)
    assert booked.get_json()["estado"] == "reservado"
    assert booked.get_json()["user_id"] == "user-1"
    assert retried.status_code == 200  # a safe retry, whatever hold_id says
    assert_problem(client.get(f"{HOLDS}/{hold_id}", headers=AGENT), 404)


def test_booking_by_the_holder_without_hold_id_consumes_the_hold(client, doctor, frozen) -> None:
    hold_id = hold(client).get_json()["hold_id"]

    assert book(client, "doc-ana", MON_0900, "user-1").status_code == 201

    assert_problem(client.get(f"{HOLDS}/{hold_id}", headers=AGENT), 404)
    assert hold(client, MON_0930).status_code == 201
    assert hold(client, MON_1000).status_code == 201
    assert hold(client, MON_1030).status_code == 201  # the consumed hold freed its place


def test_booking_a_slot_held_by_another_user_is_slot_taken(client, doctor, frozen) -> None:
    hold(client, user_id="user-1")

    problem = assert_problem(book(client, "doc-ana", MON_0900, "user-2"), 409)

    assert problem["type"] == "/problems/slot-taken"
    assert problem["alternativas"]


def test_a_hold_id_of_another_slot_edited_or_expired_is_hold_invalid(
    client, doctor, frozen
) -> None:
    hold_id = hold(client, MON_0900).get_json()["hold_id"]
    expiring = hold(client, MON_1000, ttl_seconds=30).get_json()["hold_id"]

    other_slot = book_with(client, MON_0930, "user-1", hold_id)
    tampered = book_with(client, MON_0930, "user-1", edited(hold_id))
    garbage = book_with(client, MON_0930, "user-1", "not-a-hold")
    frozen.tick(31)
    expired = book_with(client, MON_1000, "user-1", expiring)

    for response in (other_slot, tampered, garbage, expired):
        assert assert_problem(response, 409)["type"] == "/problems/hold-invalid"
    assert listed(client, MON_0930)["estado"] == "disponible"
    assert listed(client, MON_1000)["estado"] == "disponible"


def test_another_users_hold_id_is_hold_invalid_on_booking(client, doctor, frozen) -> None:
    hold_id = hold(client, user_id="user-1").get_json()["hold_id"]

    problem = assert_problem(book_with(client, MON_0900, "user-2", hold_id), 409)

    assert problem["type"] in {"/problems/hold-invalid", "/problems/slot-taken"}
    assert listed(client)["estado"] == "retenido"


def test_a_slot_booked_by_this_user_is_200_whatever_hold_id_says(client, doctor, frozen) -> None:
    assert book(client, "doc-ana", MON_0900, "user-1").status_code == 201

    assert book_with(client, MON_0900, "user-1", "not-a-hold").status_code == 200


def test_delete_is_204_twice_and_frees_the_slot(client, doctor, frozen) -> None:
    hold_id = hold(client).get_json()["hold_id"]

    first = client.delete(f"{HOLDS}/{hold_id}", headers=AGENT)
    second = client.delete(f"{HOLDS}/{hold_id}", headers=AGENT)

    assert (first.status_code, second.status_code) == (204, 204)
    assert listed(client)["estado"] == "disponible"
    assert_problem(client.get(f"{HOLDS}/{hold_id}", headers=AGENT), 404)
    assert hold(client, user_id="user-2").status_code == 201


def test_deleting_a_stale_hold_leaves_the_new_hold_alone(client, doctor, frozen) -> None:
    stale = hold(client, user_id="user-1", ttl_seconds=30).get_json()["hold_id"]
    frozen.tick(31)
    assert hold(client, user_id="user-2").status_code == 201

    assert client.delete(f"{HOLDS}/{stale}", headers=AGENT).status_code == 204

    assert listed(client)["estado"] == "retenido"


def test_an_edited_or_foreign_hold_id_is_404(client, app, backend, tmp_path, doctor, frozen):
    hold_id = hold(client).get_json()["hold_id"]
    foreign_app = other_app(app, backend, tmp_path, cursor_secret="another-secret-0123456789")
    foreign = foreign_app.test_client().post(
        HOLDS,
        json={"doctor_id": "doc-ana", "fecha_hora": MON_0930, "user_id": "user-1"},
        headers=AGENT,
    )
    assert foreign.status_code == 201
    foreign_id = foreign.get_json()["hold_id"]

    for bad in (edited(hold_id), foreign_id, "x", "A" * 600, hold_id + "A"):
        assert_problem(client.get(f"{HOLDS}/{bad}", headers=AGENT), 404)
        assert_problem(client.delete(f"{HOLDS}/{bad}", headers=AGENT), 404)
    assert client.get(f"{HOLDS}/{hold_id}", headers=AGENT).status_code == 200


def test_after_expiry_the_hold_is_gone_and_another_user_holds(client, doctor, frozen) -> None:
    hold_id = hold(client, user_id="user-1").get_json()["hold_id"]
    frozen.move_to(IN_FIVE_MINUTES)

    gone = client.get(f"{HOLDS}/{hold_id}", headers=AGENT)
    seen = listed(client)
    free = listed(client, estado="disponible")
    taken = hold(client, user_id="user-2")

    assert_problem(gone, 404)
    assert seen["estado"] == "disponible"
    assert seen["retenido_hasta"] is None
    assert free["fecha_hora"] == MON_0900
    assert taken.status_code == 201
    assert taken.get_json()["user_id"] == "user-2"


def test_agents_see_retenido_and_until_when_admins_also_see_who(client, doctor, frozen) -> None:
    hold(client, user_id="user-1")

    agent_view = listed(client, estado="retenido")
    admin_view = listed(client, headers=ADMIN, estado="retenido")
    free = listed(client, estado="disponible")

    assert agent_view["estado"] == "retenido"
    assert agent_view["retenido_hasta"] == IN_FIVE_MINUTES
    assert "retenido_por" not in agent_view
    assert "user_id" not in agent_view
    assert admin_view["retenido_por"] == "user-1"
    assert admin_view["user_id"] is None
    assert "retencion" not in admin_view
    assert free is None  # a live hold is not disponible


def test_an_admin_reading_a_hold_sees_the_holder_in_the_slot(client, doctor, frozen) -> None:
    hold_id = hold(client, user_id="user-1").get_json()["hold_id"]

    body = client.get(f"{HOLDS}/{hold_id}", headers=ADMIN).get_json()

    assert body["slot"]["retenido_por"] == "user-1"


def test_cancel_and_admin_delete_respect_a_live_hold(client, doctor, frozen) -> None:
    hold(client, user_id="user-1")

    cancel = client.delete(
        slot_url("doc-ana", MON_0900, "booking"), query_string={"user_id": "user-2"}, headers=AGENT
    )
    delete = client.delete(slot_url("doc-ana", MON_0900), headers=ADMIN)

    assert assert_problem(cancel, 409)["type"] == "/problems/not-your-booking"
    assert_problem(delete, 409)
    assert listed(client)["estado"] == "retenido"


def test_an_invalid_hold_body_is_a_422_naming_the_field(client, doctor, subtests) -> None:
    good = {"doctor_id": "doc-ana", "fecha_hora": MON_0900, "user_id": "user-1"}
    cases = [
        ({**good, "user_id": None}, "user_id"),
        ({"doctor_id": "doc-ana", "fecha_hora": MON_0900}, "user_id"),
        ({**good, "fecha_hora": "mañana"}, "fecha_hora"),
        ({**good, "ttl_seconds": "five"}, "ttl_seconds"),
        ({**good, "retenido_por": "user-9"}, "retenido_por"),
        ({**good, "user_id": "user-1\n"}, "user_id"),
        ({**good, "user_id": "us\u0435r-1"}, "user_id"),
        ({**good, "doctor_id": "doc-\u0430na"}, "doctor_id"),
    ]
    for body, field in cases:
        with subtests.test(body=body):
            problem = assert_problem(client.post(HOLDS, json=body, headers=AGENT), 422)
            assert field in problem["errors"]
    assert listed(client)["estado"] == "disponible"


def test_holding_a_slot_of_an_unknown_doctor_is_a_doctor_not_found_404(
    client, doctor, frozen
) -> None:
    response = hold(client, doctor_id="doc-nobody")

    assert assert_problem(response, 404)["type"] == "/problems/doctor-not-found"


def test_holding_an_unknown_slot_of_a_known_doctor_stays_a_plain_404(
    client, doctor, frozen
) -> None:
    response = hold(client, fecha_hora="2030-03-04T12:00:00Z")

    assert assert_problem(response, 404)["type"] == "/problems/not-found"


@pytest.mark.parametrize("doctor_id", ["doc-ana", "a" * 128, "ñ" * 128, "\U00020000" * 128])
def test_a_hold_id_fits_512_characters_and_any_edit_spoils_it(doctor_id) -> None:
    secret = b"s" * 32
    nonce = signing.new_nonce()
    hold_id = signing.hold_id_of(secret, Hold(doctor_id, MON_0900, "user-1", nonce, NOW, None))

    assert len(hold_id) <= 512
    assert signing.decode_hold_id(secret, hold_id) == (SlotKey(doctor_id, MON_0900), nonce)
    assert signing.decode_hold_id(b"t" * 32, hold_id) is None
    for position in range(len(hold_id)):
        for replacement in "AB_":
            if replacement != hold_id[position]:
                changed = hold_id[:position] + replacement + hold_id[position + 1 :]
                assert signing.decode_hold_id(secret, changed) is None


def test_a_reschedule_onto_the_users_own_hold_consumes_it(client, doctor, frozen) -> None:
    assert book(client, "doc-ana", MON_0900, "user-1").status_code == 201
    hold_id = hold(client, MON_0930, user_id="user-1").get_json()["hold_id"]
    body = {
        "user_id": "user-1",
        "from": {"doctor_id": "doc-ana", "fecha_hora": MON_0900},
        "to": {"doctor_id": "doc-ana", "fecha_hora": MON_0930},
    }

    response = client.post("/api/v1/appointments/reschedule", json=body, headers=AGENT)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["estado"] == "reservado"
    assert_problem(client.get(f"{HOLDS}/{hold_id}", headers=AGENT), 404)
    assert listed(client, MON_0900)["estado"] == "disponible"


def test_cancel_by_the_holder_releases_the_hold(client, doctor, frozen) -> None:
    hold_id = hold(client, user_id="user-1").get_json()["hold_id"]

    response = client.delete(
        slot_url("doc-ana", MON_0900, "booking"), query_string={"user_id": "user-1"}, headers=AGENT
    )

    assert response.status_code == 204
    assert_problem(client.get(f"{HOLDS}/{hold_id}", headers=AGENT), 404)
    assert listed(client)["estado"] == "disponible"
