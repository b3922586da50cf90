"""Service endpoints through the Flask test client."""

from __future__ import annotations


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
    ]


def test_a_given_request_id_is_echoed(client) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})

    assert response.headers["X-Request-ID"] == "abc-123"
