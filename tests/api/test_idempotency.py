"""Idempotency-Key on every write of /api/v1 (API.md "Idempotency-Key"), on every engine."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from freezegun import freeze_time

from health_api import clock
from health_api.api.auth import scope_id
from health_api.api.kernel import kernel_of
from health_api.domain.errors import StorageUnavailableError
from health_api.services import idempotency as rules
from tests.api.conftest import ADMIN, ADMIN_KEY, AGENT, AGENT_KEY
from tests.api.helpers import (
    MON_0900,
    add_slots,
    assert_problem,
    create_doctor,
    slot_url,
)

DOCTOR = {"nombre": "Dra. Marta Ruiz", "especialidad": "Pediatría"}


def keyed(headers: dict, key: str) -> dict:
    return {**headers, "Idempotency-Key": key}


def record_of(app, api_key: str, key: str):
    return kernel_of(app).storage.idempotency.get(
        rules.record_key(scope_id(api_key), key), clock.epoch_seconds()
    )


@pytest.fixture
def slot(client) -> str:
    create_doctor(client)
    add_slots(client, "doc-ana", MON_0900)
    return slot_url("doc-ana", MON_0900, "booking")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param('""', id="empty-string"),
        pytest.param("k" * 256, id="256-characters"),
        pytest.param('"' + "k" * 256 + '"', id="quoted-256"),
        pytest.param("clave-ñ", id="non-ascii"),
        pytest.param("a b", id="space-in-token"),
        pytest.param('"abc', id="unclosed"),
        pytest.param('"a", "b"', id="two-strings"),
    ],
)
def test_a_malformed_key_is_a_400_and_nothing_runs(client, value) -> None:
    response = client.post("/api/v1/doctors", json=DOCTOR, headers=keyed(ADMIN, value))

    body = assert_problem(response, 400)
    assert "Idempotency-Key" in body["errors"]
    assert client.get("/api/v1/doctors", headers=AGENT).get_json()["items"] == []


def test_two_key_header_lines_are_a_400(client) -> None:
    headers = [*ADMIN.items(), ("Idempotency-Key", "a"), ("Idempotency-Key", "b")]

    response = client.post("/api/v1/doctors", json=DOCTOR, headers=headers)

    assert_problem(response, 400)


def test_a_255_character_key_is_accepted(client) -> None:
    response = client.post("/api/v1/doctors", json=DOCTOR, headers=keyed(ADMIN, "k" * 255))

    assert response.status_code == 201


def test_a_replayed_201_is_the_same_answer_byte_for_byte(app, client) -> None:
    first = client.post("/api/v1/doctors", json=DOCTOR, headers=keyed(ADMIN, "alta-1"))
    # The body in another key order and spacing is the same request.
    again = client.post(
        "/api/v1/doctors",
        data=json.dumps(dict(reversed(DOCTOR.items())), indent=2),
        content_type="application/json",
        headers=keyed(ADMIN, '"alta-1"'),  # the sf-string form is the same key
    )

    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    assert again.headers["Location"] == first.headers["Location"]
    assert len(client.get("/api/v1/doctors", headers=AGENT).get_json()["items"]) == 1
    assert record_of(app, ADMIN_KEY, "alta-1").completed


def test_the_same_key_with_another_body_is_a_422(client) -> None:
    client.post("/api/v1/doctors", json=DOCTOR, headers=keyed(ADMIN, "alta-1"))

    response = client.post(
        "/api/v1/doctors", json={**DOCTOR, "nombre": "Otra"}, headers=keyed(ADMIN, "alta-1")
    )

    body = assert_problem(response, 422)
    assert body["type"] == "/problems/idempotency-key-reused"


def test_a_repeat_while_the_first_runs_is_a_409_with_retry_after(app, client) -> None:
    huella = rules.fingerprint("POST", "/api/v1/doctors", [], json.dumps(DOCTOR).encode("utf-8"))
    clave = rules.record_key(scope_id(ADMIN_KEY), "alta-1")
    running = rules.begin(
        kernel_of(app).storage.idempotency,
        clave,
        huella,
        ttl_seconds=60,
        lease_seconds=30,
    )
    assert running.outcome == rules.RUN

    response = client.post("/api/v1/doctors", json=DOCTOR, headers=keyed(ADMIN, "alta-1"))

    body = assert_problem(response, 409)
    assert body["type"] == "/problems/idempotency-key-in-flight"
    assert response.headers["Retry-After"] == "1"


def test_a_domain_conflict_is_stored_and_replayed(client, slot) -> None:
    client.put(slot, json={"user_id": "user-2"}, headers=AGENT)
    taken = client.put(slot, json={"user_id": "user-1"}, headers=keyed(AGENT, "reserva-1"))
    client.delete(slot, json={"user_id": "user-2"}, headers=AGENT)

    again = client.put(slot, json={"user_id": "user-1"}, headers=keyed(AGENT, "reserva-1"))

    assert_problem(taken, 409)
    assert again.status_code == 409
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == taken.get_data()


def test_a_schema_error_is_not_stored_and_the_retry_runs_again(app, client) -> None:
    first = client.post("/api/v1/doctors", json={"nombre": "x"}, headers=keyed(ADMIN, "k1"))
    again = client.post("/api/v1/doctors", json={"nombre": "x"}, headers=keyed(ADMIN, "k1"))

    assert_problem(first, 422)
    assert_problem(again, 422)
    assert "Idempotent-Replayed" not in again.headers
    assert record_of(app, ADMIN_KEY, "k1") is None


def test_a_403_is_not_stored(app, client) -> None:
    response = client.post("/api/v1/doctors", json=DOCTOR, headers=keyed(AGENT, "k1"))

    assert_problem(response, 403)
    assert record_of(app, AGENT_KEY, "k1") is None


def test_a_5xx_is_not_stored_and_the_retry_succeeds(app, client, monkeypatch) -> None:
    doctors = kernel_of(app).storage.doctors
    real_create = doctors.create

    def broken(doctor):
        raise RuntimeError("boom")

    monkeypatch.setattr(doctors, "create", broken)
    failed = client.post("/api/v1/doctors", json=DOCTOR, headers=keyed(ADMIN, "k1"))
    monkeypatch.setattr(doctors, "create", real_create)
    retried = client.post("/api/v1/doctors", json=DOCTOR, headers=keyed(ADMIN, "k1"))

    assert_problem(failed, 500)
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers


def test_keys_are_scoped_to_the_api_key(client, slot) -> None:
    as_admin = client.put(slot, json={"user_id": "user-1"}, headers=keyed(ADMIN, "k1"))
    as_agent = client.put(slot, json={"user_id": "user-1"}, headers=keyed(AGENT, "k1"))

    assert as_admin.status_code == 201
    assert as_agent.status_code == 200  # ran: the same user's booking, not the admin's record
    assert "Idempotent-Replayed" not in as_agent.headers


def test_get_ignores_the_header_even_malformed(client) -> None:
    response = client.get("/api/v1/doctors", headers=keyed(AGENT, ""))

    assert response.status_code == 200


def test_a_doctor_post_without_id_re_run_after_its_process_died_keeps_its_id(
    app, client, monkeypatch
) -> None:
    repository = kernel_of(app).storage.idempotency
    with freeze_time(datetime.now(UTC)) as frozen:
        # The first run committed, then its process died before the answer was stored: the
        # claim stays, no longer renewed.
        with monkeypatch.context() as dying:
            dying.setattr(repository, "complete", lambda completed: False)
            first = client.post("/api/v1/doctors", json=DOCTOR, headers=keyed(ADMIN, "alta-1"))
        frozen.tick(kernel_of(app).settings.idempotency_lease_seconds)
        retried = client.post("/api/v1/doctors", json=DOCTOR, headers=keyed(ADMIN, "alta-1"))

    assert first.status_code == retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert retried.get_json()["doctor_id"] == first.get_json()["doctor_id"]
    assert len(client.get("/api/v1/doctors", headers=AGENT).get_json()["items"]) == 1


def test_a_doctor_post_whose_first_run_failed_after_creating_it_is_not_created_twice(
    app, client, monkeypatch
) -> None:
    doctors = kernel_of(app).storage.doctors
    real_create = doctors.create

    def created_then_failed(doctor):
        real_create(doctor)  # committed, then the store's answer was an error (a 503)
        raise StorageUnavailableError("the answer was lost", retry_after=1)

    with monkeypatch.context() as failing:
        failing.setattr(doctors, "create", created_then_failed)
        failed = client.post("/api/v1/doctors", json=DOCTOR, headers=keyed(ADMIN, "alta-1"))
    retried = client.post("/api/v1/doctors", json=DOCTOR, headers=keyed(ADMIN, "alta-1"))
    listed = client.get("/api/v1/doctors", headers=AGENT).get_json()["items"]

    assert_problem(failed, 503)
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert [d["doctor_id"] for d in listed] == [retried.get_json()["doctor_id"]]


def test_a_doctor_post_with_a_key_whose_record_expired_creates_a_new_doctor(app, client) -> None:
    ttl = kernel_of(app).settings.idempotency_ttl_seconds
    with freeze_time(datetime.now(UTC)) as frozen:
        first = client.post("/api/v1/doctors", json=DOCTOR, headers=keyed(ADMIN, "alta-1"))
        frozen.tick(ttl)
        again = client.post("/api/v1/doctors", json=DOCTOR, headers=keyed(ADMIN, "alta-1"))
        listed = client.get("/api/v1/doctors", headers=AGENT).get_json()["items"]

    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert again.get_json()["doctor_id"] != first.get_json()["doctor_id"]
    assert again.headers["Location"].endswith(again.get_json()["doctor_id"])
    assert sorted(d["doctor_id"] for d in listed) == sorted(
        r.get_json()["doctor_id"] for r in (first, again)
    )


def test_every_write_route_goes_through_the_idempotency_layer(app, client) -> None:
    checked = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"x-\1", rule.rule)
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            if (method, rule.rule) == ("POST", "/api/v1/tokens"):
                # API.md: minting ignores Idempotency-Key, no live token is stored
                # (test_tokens_endpoint.py proves it).
                continue
            response = client.open(path, method=method, headers=keyed(ADMIN, ""))
            assert response.status_code == 400, (method, rule.rule)
            assert "Idempotency-Key" in response.get_json().get("errors", {}), (method, rule.rule)
            checked.append((method, rule.rule))
    assert len(checked) >= 8


@pytest.mark.parametrize("headers", [ADMIN, keyed(ADMIN, "alta-sur")], ids=["no-key", "key"])
def test_a_lone_surrogate_escape_in_the_body_is_the_same_400_with_or_without_a_key(
    app, client, headers
) -> None:
    body = b'{"nombre": "\\ud800", "especialidad": "Pediatr\\u00eda"}'

    response = client.post(
        "/api/v1/doctors", data=body, content_type="application/json", headers=headers
    )

    problem = assert_problem(response, 400)
    assert problem["errors"] == {"_schema": ["Invalid JSON body."]}
    assert record_of(app, ADMIN_KEY, "alta-sur") is None  # a refusal is not stored
