"""/api/v1/sessions/{user_id}: create or replace, read, sliding merge, delete, expiry."""

from __future__ import annotations

from freezegun import freeze_time

from tests.api.conftest import AGENT
from tests.api.helpers import assert_problem

URL = "/api/v1/sessions/user-1"
NOW = "2030-01-01T12:00:00Z"
SEVEN_DAYS = 7 * 24 * 3600


def test_put_creates_a_session_with_the_default_lifetime(client) -> None:
    data = {"paso": "elegir_medico", "especialidad": "Cardiología", "n": [1, 2]}

    with freeze_time(NOW):
        response = client.put(URL, json={"data": data}, headers=AGENT)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_json() == {
        "user_id": "user-1",
        "data": data,
        "created_at": NOW,
        "updated_at": NOW,
        "expires_at": "2030-01-01T12:30:00Z",
        "ttl_seconds": 1800,
    }


def test_put_replaces_the_whole_session(client) -> None:
    client.put(URL, json={"data": {"a": 1, "b": 2}}, headers=AGENT)

    response = client.put(URL, json={"data": {"c": 3}, "ttl_seconds": 60}, headers=AGENT)

    assert response.status_code == 200
    assert client.get(URL, headers=AGENT).get_json()["data"] == {"c": 3}


def test_get_answers_the_live_session(client) -> None:
    client.put(URL, json={"data": {"paso": 1}}, headers=AGENT)

    response = client.get(URL, headers=AGENT)

    assert response.status_code == 200
    assert response.get_json()["data"] == {"paso": 1}
    assert "ttl" not in response.get_json()


def test_get_of_an_absent_session_is_a_404(client) -> None:
    response = client.get("/api/v1/sessions/user-nobody", headers=AGENT)

    assert_problem(response, 404)


def test_an_expired_session_is_a_404_on_every_read(client) -> None:
    with freeze_time(NOW) as frozen:
        client.put(URL, json={"data": {"paso": 1}, "ttl_seconds": 60}, headers=AGENT)
        frozen.tick(59)
        alive = client.get(URL, headers=AGENT)
        frozen.tick(2)

        expired_get = client.get(URL, headers=AGENT)
        expired_patch = client.patch(URL, json={"data": {"paso": 2}}, headers=AGENT)

    assert alive.status_code == 200
    assert_problem(expired_get, 404)
    assert_problem(expired_patch, 404)


def test_patch_merges_shallowly_and_keeps_created_at(client) -> None:
    with freeze_time(NOW) as frozen:
        client.put(URL, json={"data": {"a": {"x": 1}, "b": 1}}, headers=AGENT)
        frozen.tick(10)

        response = client.patch(URL, json={"data": {"a": {"y": 2}, "c": 3}}, headers=AGENT)

    assert response.status_code == 200
    body = response.get_json()
    assert body["data"] == {"a": {"y": 2}, "b": 1, "c": 3}
    assert body["created_at"] == NOW
    assert body["updated_at"] == "2030-01-01T12:00:10Z"


def test_patch_slides_the_expiry_forward(client) -> None:
    with freeze_time(NOW) as frozen:
        client.put(URL, json={"data": {"a": 1}}, headers=AGENT)
        frozen.tick(1000)
        patched = client.patch(URL, json={"data": {"b": 2}}, headers=AGENT)
        frozen.tick(1000)  # 2000 s after the PUT: past its first expiry, not the slid one

        response = client.get(URL, headers=AGENT)

    assert patched.get_json()["expires_at"] == "2030-01-01T12:46:40Z"
    assert response.status_code == 200
    assert response.get_json()["data"] == {"a": 1, "b": 2}


def test_patch_without_a_lifetime_slides_by_the_sessions_own(client) -> None:
    with freeze_time(NOW) as frozen:
        created = client.put(URL, json={"data": {"a": 1}, "ttl_seconds": 60}, headers=AGENT)
        frozen.tick(30)
        patched = client.patch(URL, json={"data": {"b": 2}}, headers=AGENT)
        frozen.tick(59)
        alive = client.get(URL, headers=AGENT)
        frozen.tick(1)
        expired = client.get(URL, headers=AGENT)

    assert created.get_json()["ttl_seconds"] == 60
    assert patched.status_code == 200
    assert patched.get_json()["expires_at"] == "2030-01-01T12:01:30Z"
    assert patched.get_json()["ttl_seconds"] == 60
    assert alive.status_code == 200
    assert_problem(expired, 404)


def test_a_lifetime_given_to_patch_is_remembered_by_later_patches(client) -> None:
    with freeze_time(NOW) as frozen:
        client.put(URL, json={"data": {"a": 1}, "ttl_seconds": 60}, headers=AGENT)
        frozen.tick(10)
        longer = client.patch(URL, json={"data": {"b": 2}, "ttl_seconds": 600}, headers=AGENT)
        frozen.tick(100)
        later = client.patch(URL, json={"data": {"c": 3}}, headers=AGENT)
        read = client.get(URL, headers=AGENT)

    assert longer.get_json()["expires_at"] == "2030-01-01T12:10:10Z"
    assert later.get_json()["expires_at"] == "2030-01-01T12:11:50Z"
    assert read.get_json()["ttl_seconds"] == 600
    assert read.get_json()["data"] == {"a": 1, "b": 2, "c": 3}


def test_a_put_replaces_the_remembered_lifetime(client) -> None:
    with freeze_time(NOW) as frozen:
        client.put(URL, json={"data": {}, "ttl_seconds": 600}, headers=AGENT)
        client.put(URL, json={"data": {}}, headers=AGENT)
        frozen.tick(10)
        patched = client.patch(URL, json={"data": {"a": 1}}, headers=AGENT)

    assert patched.get_json()["ttl_seconds"] == 1800
    assert patched.get_json()["expires_at"] == "2030-01-01T12:30:10Z"


def test_patch_of_an_absent_session_is_a_404(client) -> None:
    response = client.patch("/api/v1/sessions/user-nobody", json={"data": {}}, headers=AGENT)

    assert_problem(response, 404)
    assert_problem(client.get("/api/v1/sessions/user-nobody", headers=AGENT), 404)


def test_delete_answers_204_and_forgets_the_session(client) -> None:
    client.put(URL, json={"data": {"a": 1}}, headers=AGENT)

    response = client.delete(URL, headers=AGENT)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert_problem(client.get(URL, headers=AGENT), 404)


def test_delete_of_an_absent_session_is_a_204(client) -> None:
    response = client.delete("/api/v1/sessions/user-nobody", headers=AGENT)

    assert response.status_code == 204


def test_a_lifetime_of_exactly_seven_days_is_accepted(client) -> None:
    with freeze_time(NOW):
        response = client.put(URL, json={"data": {}, "ttl_seconds": SEVEN_DAYS}, headers=AGENT)

    assert response.status_code == 200
    assert response.get_json()["expires_at"] == "2030-01-08T12:00:00Z"


def test_an_invalid_put_body_is_a_422_naming_the_field(client, subtests) -> None:
    cases = [
        ({"data": {}, "ttl_seconds": SEVEN_DAYS + 1}, "ttl_seconds"),
        ({"data": {}, "ttl_seconds": 0}, "ttl_seconds"),
        ({"data": {}, "ttl_seconds": "soon"}, "ttl_seconds"),
        ({"data": ["not", "an", "object"]}, "data"),
        ({"data": "text"}, "data"),
        ({"data": None}, "data"),
        ({}, "data"),
        ({"data": {}, "ttl": 99}, "ttl"),
        ({"data": {}, "expires_at": "2099-01-01T00:00:00Z"}, "expires_at"),
        ({"data": {}, "user_id": "user-2"}, "user_id"),
    ]
    for body, field in cases:
        with subtests.test(body=body):
            response = client.put(URL, json=body, headers=AGENT)

            assert field in assert_problem(response, 422)["errors"]
    assert_problem(client.get(URL, headers=AGENT), 404)


def test_data_over_64_kib_is_a_422(client) -> None:
    body = {"data": {"texto": "x" * (64 * 1024)}}

    response = client.put(URL, json=body, headers=AGENT)

    assert_problem(response, 422)
    assert_problem(client.get(URL, headers=AGENT), 404)


def test_a_patch_that_would_grow_data_past_64_kib_is_a_422(client) -> None:
    client.put(URL, json={"data": {"a": "x" * 40_000}}, headers=AGENT)

    response = client.patch(URL, json={"data": {"b": "y" * 40_000}}, headers=AGENT)

    assert_problem(response, 422)
    assert set(client.get(URL, headers=AGENT).get_json()["data"]) == {"a"}


def test_a_patch_with_a_lifetime_over_seven_days_is_a_422(client) -> None:
    client.put(URL, json={"data": {"a": 1}}, headers=AGENT)

    response = client.patch(
        URL, json={"data": {"b": 2}, "ttl_seconds": SEVEN_DAYS + 1}, headers=AGENT
    )

    assert "ttl_seconds" in assert_problem(response, 422)["errors"]
    assert client.get(URL, headers=AGENT).get_json()["data"] == {"a": 1}


def test_a_session_path_that_is_not_a_valid_id_is_a_400_naming_it(client, subtests) -> None:
    for user_id in ("a%20b", "x" * 129, "%00", "u2%0A", "us%D0%B5r"):
        for method in ("GET", "PUT", "PATCH", "DELETE"):
            with subtests.test(method=method, user_id=user_id):
                body = None if method in ("GET", "DELETE") else {"data": {}}
                response = client.open(
                    f"/api/v1/sessions/{user_id}", method=method, json=body, headers=AGENT
                )

                assert list(assert_problem(response, 400)["errors"]) == ["user_id"]
