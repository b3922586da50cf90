"""Service endpoints through the Flask test client."""

from __future__ import annotations

import contextlib
import sqlite3

from freezegun import freeze_time

from health_api.api import service
from health_api.api.kernel import kernel_of, state_of
from health_api.domain.errors import StorageUnavailableError
from health_api.storage.dynamodb.client import build_client
from health_api.storage.tables import USER_SESSIONS, table_specs
from tests.api.helpers import assert_problem


def test_healthz_answers_ok_without_a_key(client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Request-ID"]


def test_readyz_is_ready_when_every_table_matches(client) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready"
    assert [t["logical"] for t in body["tables"]] == [
        "doctores",
        "horarios_doctores",
        "user_sessions",
        "idempotency_keys",
    ]


def test_a_given_request_id_is_echoed(client) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})

    assert response.headers["X-Request-ID"] == "abc-123"


def test_readyz_never_asks_for_the_full_table_report(app, client, monkeypatch) -> None:
    # The full report reads tags (ListTagsOfResource: 10 calls/s per account on DynamoDB).
    def full_report():
        raise AssertionError("/readyz must not read the full table report")

    monkeypatch.setattr(kernel_of(app).storage, "check_tables", full_report)

    response = client.get("/readyz")

    assert response.status_code == 200


def test_readyz_is_503_with_retry_after_while_storage_fails_and_ready_again_without_restart(
    app, client, monkeypatch
) -> None:
    storage = kernel_of(app).storage
    answering = storage.check_ready

    def unreachable():
        raise StorageUnavailableError("http://10.0.0.9:8000 did not answer in time")

    with freeze_time("2030-01-01T00:00:00Z") as clock:
        monkeypatch.setattr(storage, "check_ready", unreachable)
        failing = client.get("/readyz")
        monkeypatch.setattr(storage, "check_ready", answering)
        clock.tick(service.READY_CACHE_SECONDS + 1)
        recovered = client.get("/readyz")

    assert failing.status_code == 503
    assert failing.headers["Retry-After"] == "5"
    assert failing.content_type == "application/problem+json"
    assert failing.get_json()["detail"] == "storage unreachable"
    assert "10.0.0.9" not in failing.get_data(as_text=True)
    assert recovered.status_code == 200
    assert recovered.get_json()["status"] == "ready"


def test_a_burst_of_probes_costs_one_storage_check(app, client, monkeypatch) -> None:
    storage = kernel_of(app).storage
    checks = []
    answering = storage.check_ready

    def counted():
        checks.append(1)
        return answering()

    monkeypatch.setattr(storage, "check_ready", counted)

    with freeze_time("2030-01-01T00:00:00Z") as clock:
        statuses = [client.get("/readyz").status_code for _ in range(3)]
        clock.tick(service.READY_CACHE_SECONDS + 1)
        statuses.append(client.get("/readyz").status_code)

    assert statuses == [200, 200, 200, 200]
    assert len(checks) == 2


def drop_table(app, backend: str, logical: str) -> str:
    """Delete one of the app's tables behind its back (an operator's mistake); its name."""
    settings = kernel_of(app).settings
    name = table_specs(settings)[logical].name
    if backend == "sqlite":
        with contextlib.closing(sqlite3.connect(settings.sqlite_path)) as conn:
            conn.execute(f'DROP TABLE "{name}"')
            conn.commit()
    else:
        client = build_client(settings.aws_region, settings.dynamodb_endpoint_url)
        client.delete_table(TableName=name)
        client.close()
    return name


def test_readyz_names_a_deleted_sessions_table_within_ten_seconds(app, client, backend) -> None:
    with freeze_time("2030-01-01T00:00:00Z") as clock:
        assert client.get("/readyz").status_code == 200
        name = drop_table(app, backend, USER_SESSIONS)
        clock.tick(service.READY_CACHE_SECONDS + 0.5)
        assert service.READY_CACHE_SECONDS + 0.5 <= 10

        response = client.get("/readyz")

    body = assert_problem(response, 503)
    assert response.headers["Retry-After"] == "5"
    assert name in body["detail"]
    wrong = [t for t in body["tables"] if not t["ok"]]
    assert [(t["logical"], t["name"], t["exists"]) for t in wrong] == [(USER_SESSIONS, name, False)]


def test_readyz_never_shows_key_attribute_names(app, client, backend) -> None:
    ready = client.get("/readyz")
    drop_table(app, backend, USER_SESSIONS)
    state_of(app).ready.clear()  # the next probe checks afresh

    not_ready = client.get("/readyz")

    assert (ready.status_code, not_ready.status_code) == (200, 503)
    for response in (ready, not_ready):
        for table in response.get_json()["tables"]:
            assert set(table) == {"logical", "name", "exists", "status", "ok", "differences"}
        text = response.get_data(as_text=True)
        for key_attribute in ("doctor_id", "fecha_hora", "user_id", "clave"):
            assert key_attribute not in text
