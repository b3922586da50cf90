"""Forgotten means forgotten (API.md v1.2): a stored Idempotency-Key answer keeps no session
``data`` and no booking ``motivo``; a replay reads them as they are now, and leaves them out
once the session was deleted or the booking cancelled or moved."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from freezegun import freeze_time

from tests.api.conftest import AGENT, AGENT_KEY
from tests.api.helpers import MON_0900, add_slots, create_doctor, slot_url
from tests.api.test_idempotency import keyed, record_of

MON_0930 = "2030-03-04T09:30:00Z"
SECRET = "diabetes tipo 2"  # what must not outlive its session or booking in the store
SESSION = "/api/v1/sessions/user-1"


def assert_stored_without_personal_data(app, key: str) -> None:
    record = record_of(app, AGENT_KEY, key)
    assert record.completed
    assert SECRET not in record.body
    assert '"data"' not in record.body
    assert '"motivo":"' not in record.body  # a null motivo (no booking) says nothing


def without(body: bytes, field: str) -> dict:
    document = json.loads(body)
    document.pop(field)
    return document


@pytest.fixture
def slots(client) -> None:
    create_doctor(client)
    add_slots(client, "doc-ana", MON_0900, MON_0930)


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_session_answer_is_stored_without_its_data_and_replayed_as_it_is_now(
    app, client, method
) -> None:
    client.put(SESSION, json={"data": {"paso": "inicio"}}, headers=AGENT)
    body = {"data": {"nota": SECRET}}
    first = client.open(SESSION, method=method, json=body, headers=keyed(AGENT, "guardar-1"))
    while_alive = client.open(SESSION, method=method, json=body, headers=keyed(AGENT, "guardar-1"))
    client.patch(SESSION, json={"data": {"paso": "fin"}}, headers=AGENT)
    changed = client.open(SESSION, method=method, json=body, headers=keyed(AGENT, "guardar-1"))
    client.delete(SESSION, headers=AGENT)
    deleted = client.open(SESSION, method=method, json=body, headers=keyed(AGENT, "guardar-1"))

    assert first.get_json()["data"]["nota"] == SECRET
    assert while_alive.headers["Idempotent-Replayed"] == "true"
    assert while_alive.get_data() == first.get_data()  # byte for byte while nothing changed
    assert changed.get_json()["data"]["paso"] == "fin"  # the data as it is now
    assert deleted.status_code == 200
    assert deleted.headers["Idempotent-Replayed"] == "true"
    assert "data" not in deleted.get_json()
    assert deleted.get_json() == without(first.get_data(), "data")
    assert_stored_without_personal_data(app, "guardar-1")


def test_a_booking_answer_is_stored_without_its_motivo_and_a_cancel_removes_it(
    app, client, slots
) -> None:
    url = slot_url("doc-ana", MON_0900, "booking")
    body = {"user_id": "user-1", "motivo": SECRET}
    with freeze_time(datetime.now(UTC)) as frozen:
        first = client.put(url, json=body, headers=keyed(AGENT, "reserva-1"))
        booked = client.put(url, json=body, headers=keyed(AGENT, "reserva-1"))
        client.delete(url, query_string={"user_id": "user-1"}, headers=AGENT)
        cancelled = client.put(url, json=body, headers=keyed(AGENT, "reserva-1"))
        # Booked again by the same user, later: another booking than the answer's.
        frozen.tick(1)
        client.put(url, json={**body, "motivo": "otra"}, headers=AGENT)
        rebooked = client.put(url, json=body, headers=keyed(AGENT, "reserva-1"))

    assert first.status_code == 201
    assert booked.get_data() == first.get_data()
    assert (cancelled.status_code, cancelled.headers["Idempotent-Replayed"]) == (201, "true")
    assert cancelled.get_json() == without(first.get_data(), "motivo")
    assert "motivo" not in rebooked.get_json()
    assert_stored_without_personal_data(app, "reserva-1")


def test_a_reschedule_answer_is_stored_without_its_motivo(app, client, slots) -> None:
    client.put(
        slot_url("doc-ana", MON_0900, "booking"),
        json={"user_id": "user-1", "motivo": SECRET},
        headers=AGENT,
    )
    move = {
        "user_id": "user-1",
        "from": {"doctor_id": "doc-ana", "fecha_hora": MON_0900},
        "to": {"doctor_id": "doc-ana", "fecha_hora": MON_0930},
    }
    url = "/api/v1/appointments/reschedule"
    first = client.post(url, json=move, headers=keyed(AGENT, "mover-1"))
    moved = client.post(url, json=move, headers=keyed(AGENT, "mover-1"))
    client.delete(
        slot_url("doc-ana", MON_0930, "booking"), query_string={"user_id": "user-1"}, headers=AGENT
    )
    cancelled = client.post(url, json=move, headers=keyed(AGENT, "mover-1"))

    assert first.get_json()["motivo"] == SECRET
    assert moved.get_data() == first.get_data()
    assert cancelled.headers["Idempotent-Replayed"] == "true"
    assert cancelled.get_json() == without(first.get_data(), "motivo")
    assert_stored_without_personal_data(app, "mover-1")


def test_a_hold_answer_carries_no_motivo_and_replays_byte_for_byte(app, client, slots) -> None:
    hold = {"doctor_id": "doc-ana", "fecha_hora": MON_0900, "user_id": "user-1"}
    first = client.post("/api/v1/holds", json=hold, headers=keyed(AGENT, "retener-1"))
    client.delete(first.headers["Location"], headers=AGENT)
    again = client.post("/api/v1/holds", json=hold, headers=keyed(AGENT, "retener-1"))

    assert first.status_code == again.status_code == 201
    assert first.get_json()["slot"]["motivo"] is None
    assert again.get_data() == first.get_data()
    assert_stored_without_personal_data(app, "retener-1")
