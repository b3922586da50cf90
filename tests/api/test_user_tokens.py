"""A user token on REST reaches only its user's data (API.md "Patient tokens"): ``user_id``
defaults to the bound user, another user is a 403 that reveals nothing (a 404 for a hold id),
a missing scope a 403 with its challenge, no answer carries another user's booking or hold,
and Idempotency-Keys and the rate limit are the bound user's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from freezegun import freeze_time

from health_api import create_app
from health_api.api.kernel import kernel_of
from tests.api.conftest import ADMIN, AGENT
from tests.api.helpers import (
    MON_0900,
    MON_0930,
    MON_1000,
    MON_1030,
    MON_1100,
    add_slots,
    assert_problem,
    create_doctor,
    slot_url,
)
from tests.api.tokens import bearer

SECRET_REASON = "secreto-de-paciente-2"
OTHERS = ("user-2", "user-9")  # one who has data here, one who never came: the same answer


@pytest.fixture(params=("sqlite", "dynamodb-local"))
def backend(request) -> str:
    """Both storage engines (the rules are the services', the reads the engines')."""
    return request.param


@pytest.fixture
def clinic(token_client) -> dict:
    """``doc-ana`` with five slots: 09:00 booked by user-2 (with a reason), 09:30 held by
    user-2, and user-2's session; the hold's id."""
    create_doctor(token_client)
    add_slots(token_client, "doc-ana", MON_0900, MON_0930, MON_1000, MON_1030, MON_1100)
    booked = token_client.put(
        slot_url("doc-ana", MON_0900, "booking"),
        json={"user_id": "user-2", "motivo": SECRET_REASON},
        headers=AGENT,
    )
    held = token_client.post(
        "/api/v1/holds",
        json={"doctor_id": "doc-ana", "fecha_hora": MON_0930, "user_id": "user-2"},
        headers=AGENT,
    )
    session = token_client.put(
        "/api/v1/sessions/user-2", json={"data": {"paso": SECRET_REASON}}, headers=AGENT
    )
    assert [booked.status_code, held.status_code, session.status_code] == [201, 201, 200]
    return {"hold_id": held.get_json()["hold_id"]}


def admin_slot(client, fecha_hora: str) -> dict:
    page = client.get(
        "/api/v1/doctors/doc-ana/schedules",
        query_string={"desde": fecha_hora, "hasta": fecha_hora},
        headers=ADMIN,
    ).get_json()
    [slot] = page["items"]
    return slot


def move(source: str, target: str, **extra) -> dict:
    return {
        "from": {"doctor_id": "doc-ana", "fecha_hora": source},
        "to": {"doctor_id": "doc-ana", "fecha_hora": target},
        **extra,
    }


def test_a_token_acts_for_its_user_wherever_user_id_is_left_out(
    token_app, token_client, clinic
) -> None:
    user = bearer(token_app, "user-1")

    held = token_client.post(
        "/api/v1/holds", json={"doctor_id": "doc-ana", "fecha_hora": MON_1000}, headers=user
    )
    booked = token_client.put(slot_url("doc-ana", MON_1000, "booking"), json={}, headers=user)
    moved = token_client.post(
        "/api/v1/appointments/reschedule", json=move(MON_1000, MON_1030), headers=user
    )
    mine = token_client.get("/api/v1/users/user-1/appointments", headers=user).get_json()
    cancelled = token_client.delete(slot_url("doc-ana", MON_1030, "booking"), headers=user)

    assert held.status_code == 201, held.get_data(as_text=True)
    assert held.get_json()["user_id"] == "user-1"
    assert booked.status_code == 201
    assert booked.get_json()["user_id"] == "user-1"
    assert moved.status_code == 200
    assert moved.get_json()["user_id"] == "user-1"
    assert [slot["fecha_hora"] for slot in mine["items"]] == [MON_1030]
    assert cancelled.status_code == 204
    assert admin_slot(token_client, MON_1030)["estado"] == "disponible"
    assert admin_slot(token_client, MON_0900)["user_id"] == "user-2"


def test_naming_its_own_user_is_the_same_as_naming_none(token_app, token_client, clinic) -> None:
    user = bearer(token_app, "user-1")

    booked = token_client.put(
        slot_url("doc-ana", MON_1000, "booking"), json={"user_id": "user-1"}, headers=user
    )
    session = token_client.put("/api/v1/sessions/user-1", json={"data": {"a": 1}}, headers=user)
    cancelled = token_client.delete(
        slot_url("doc-ana", MON_1000, "booking"), query_string={"user_id": "user-1"}, headers=user
    )

    assert booked.status_code == 201
    assert session.status_code == 200
    assert session.get_json()["user_id"] == "user-1"
    assert cancelled.status_code == 204


def naming(other: str) -> list[tuple[str, str, dict | None]]:
    """Every way a request may name ``other``: bodies, a query, paths."""
    return [
        ("PUT", slot_url("doc-ana", MON_1000, "booking"), {"user_id": other}),
        ("DELETE", slot_url("doc-ana", MON_0900, "booking") + f"?user_id={other}", None),
        (
            "POST",
            "/api/v1/holds",
            {"doctor_id": "doc-ana", "fecha_hora": MON_1000, "user_id": other},
        ),
        ("POST", "/api/v1/appointments/reschedule", move(MON_0900, MON_1000, user_id=other)),
        ("GET", f"/api/v1/users/{other}/appointments", None),
        ("PUT", f"/api/v1/sessions/{other}", {"data": {"robado": True}}),
        ("GET", f"/api/v1/sessions/{other}", None),
        ("PATCH", f"/api/v1/sessions/{other}", {"data": {"robado": True}}),
        ("DELETE", f"/api/v1/sessions/{other}", None),
    ]


def test_naming_another_user_anywhere_is_a_403_that_reveals_nothing(
    token_app, token_client, clinic, subtests
) -> None:
    user = bearer(token_app, "user-1")

    for index, (method, path, _body) in enumerate(naming("user-2")):
        with subtests.test(request=f"{method} {path}"):
            answers = []
            for other in OTHERS:
                other_method, other_path, other_body = naming(other)[index]
                response = token_client.open(
                    other_path, method=other_method, json=other_body, headers=user
                )
                problem = assert_problem(response, 403)
                assert problem["type"] == "/problems/other-user"
                text = response.get_data(as_text=True)
                assert other not in text
                assert SECRET_REASON not in text
                answers.append(problem)
            # Whether the other user exists or not, the answer is the same.
            assert answers[0] == answers[1]

    assert admin_slot(token_client, MON_0900)["user_id"] == "user-2"
    assert admin_slot(token_client, MON_1000)["estado"] == "disponible"
    session = token_client.get("/api/v1/sessions/user-2", headers=AGENT).get_json()
    assert session["data"] == {"paso": SECRET_REASON}


def test_another_users_hold_id_is_a_404(token_app, token_client, clinic) -> None:
    user = bearer(token_app, "user-1")
    hold = f"/api/v1/holds/{clinic['hold_id']}"

    read = token_client.get(hold, headers=user)
    released = token_client.delete(hold, headers=user)

    for response in (read, released):
        assert assert_problem(response, 404)["type"] == "/problems/not-found"
        assert "user-2" not in response.get_data(as_text=True)
    assert token_client.get(hold, headers=AGENT).status_code == 200
    assert admin_slot(token_client, MON_0930)["retenido_por"] == "user-2"


def test_its_own_hold_id_reads_and_releases(token_app, token_client, clinic) -> None:
    user = bearer(token_app, "user-1")
    held = token_client.post(
        "/api/v1/holds", json={"doctor_id": "doc-ana", "fecha_hora": MON_1000}, headers=user
    ).get_json()
    hold = f"/api/v1/holds/{held['hold_id']}"

    read = token_client.get(hold, headers=user)
    released = token_client.delete(hold, headers=user)

    assert read.status_code == 200
    assert read.get_json()["user_id"] == "user-1"
    assert "retenido_por" not in read.get_json()["slot"]
    assert released.status_code == 204
    assert admin_slot(token_client, MON_1000)["estado"] == "disponible"


@pytest.mark.parametrize(
    ("scope", "method", "path", "body", "needed"),
    [
        ("sessions", "PUT", slot_url("doc-ana", MON_1000, "booking"), {}, "appointments"),
        (
            "sessions",
            "POST",
            "/api/v1/holds",
            {"doctor_id": "doc-ana", "fecha_hora": MON_1000},
            "appointments",
        ),
        ("sessions", "GET", "/api/v1/users/user-1/appointments", None, "appointments"),
        ("sessions", "DELETE", slot_url("doc-ana", MON_1000, "booking"), None, "appointments"),
        ("appointments", "GET", "/api/v1/sessions/user-1", None, "sessions"),
        ("appointments", "PUT", "/api/v1/sessions/user-1", {"data": {}}, "sessions"),
    ],
)
def test_a_token_without_the_scope_is_a_403_with_the_challenge(
    token_app, token_client, clinic, scope, method, path, body, needed
) -> None:
    response = token_client.open(
        path, method=method, json=body, headers=bearer(token_app, "user-1", scope)
    )

    problem = assert_problem(response, 403)
    assert problem["type"] == "/problems/insufficient-scope"
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer realm="health-api", error="insufficient_scope", scope="{needed}"'
    )
    assert admin_slot(token_client, MON_1000)["estado"] == "disponible"


def test_a_hold_id_read_without_the_scope_is_a_403(token_app, token_client, clinic) -> None:
    response = token_client.get(
        f"/api/v1/holds/{clinic['hold_id']}", headers=bearer(token_app, "user-1", "sessions")
    )

    assert assert_problem(response, 403)["type"] == "/problems/insufficient-scope"


def test_no_answer_to_a_token_carries_another_users_booking_or_hold(
    token_app, token_client, clinic, subtests
) -> None:
    user = bearer(token_app, "user-1")
    own = token_client.put(
        slot_url("doc-ana", MON_1100, "booking"), json={"motivo": "mi control"}, headers=user
    )
    window = {"desde": "2030-03-04", "hasta": "2030-03-04"}
    answers = {
        "schedules": token_client.get(
            "/api/v1/doctors/doc-ana/schedules", query_string=window, headers=user
        ),
        "availability": token_client.get(
            "/api/v1/availability",
            query_string={**window, "especialidad": "cardiologia"},
            headers=user,
        ),
        "book a booked slot": token_client.put(
            slot_url("doc-ana", MON_0900, "booking"), json={}, headers=user
        ),
        "book a held slot": token_client.put(
            slot_url("doc-ana", MON_0930, "booking"), json={}, headers=user
        ),
        "book with its hold_id": token_client.put(
            slot_url("doc-ana", MON_0930, "booking"),
            json={"hold_id": clinic["hold_id"]},
            headers=user,
        ),
        "hold a booked slot": token_client.post(
            "/api/v1/holds", json={"doctor_id": "doc-ana", "fecha_hora": MON_0900}, headers=user
        ),
        "reschedule onto it": token_client.post(
            "/api/v1/appointments/reschedule", json=move(MON_1100, MON_0900), headers=user
        ),
        "cancel it": token_client.delete(slot_url("doc-ana", MON_0900, "booking"), headers=user),
        "own appointments": token_client.get("/api/v1/users/user-1/appointments", headers=user),
    }

    for name, response in answers.items():
        with subtests.test(answer=name):
            assert response.status_code in (200, 409), response.get_data(as_text=True)
            text = response.get_data(as_text=True)
            assert "user-2" not in text
            assert SECRET_REASON not in text
            assert "retenido_por" not in text
    listed = {slot["fecha_hora"]: slot for slot in answers["schedules"].get_json()["items"]}
    assert listed[MON_0900]["estado"] == "reservado"
    assert listed[MON_0930]["estado"] == "retenido"
    assert answers["book a booked slot"].get_json()["type"] == "/problems/slot-taken"
    assert answers["book a booked slot"].get_json()["alternativas"]
    assert answers["cancel it"].get_json()["type"] == "/problems/not-your-booking"
    assert answers["book with its hold_id"].get_json()["type"] == "/problems/hold-invalid"
    assert own.status_code == 201
    assert own.get_json()["motivo"] == "mi control"
    [mine] = answers["own appointments"].get_json()["items"]
    assert mine["motivo"] == "mi control"


def test_two_tokens_of_one_user_share_idempotency_keys_and_a_key_never_does(
    token_app, token_client, clinic
) -> None:
    first = bearer(token_app, "user-1", ttl=600)
    second = bearer(token_app, "user-1", ttl=900)
    stranger = bearer(token_app, "user-2")
    body = {"user_id": "user-1", "motivo": "control"}
    path = slot_url("doc-ana", MON_1000, "booking")

    def put(headers, json=body):
        return token_client.put(path, json=json, headers={**headers, "Idempotency-Key": "k-1"})

    original = put(first)
    replayed = put(second)
    by_key = put(AGENT)
    by_other = put(stranger, {"motivo": "control"})

    assert original.status_code == 201
    assert replayed.status_code == 201
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.get_json() == original.get_json()
    # The agent key's own scope: the request runs (the same user's booking again: 200).
    assert by_key.status_code == 200
    assert "Idempotent-Replayed" not in by_key.headers
    # Another user's token: its own scope too; it runs, and the slot is taken.
    assert by_other.status_code == 409
    assert "Idempotent-Replayed" not in by_other.headers
    assert "user-1" not in by_other.get_data(as_text=True)


def test_the_rate_limit_counts_per_user_whatever_token_it_comes_with(
    token_app, token_client
) -> None:
    settings = kernel_of(token_app).settings.replace(rate_limit="3/minute")
    limited = create_app({"settings": settings, "storage": kernel_of(token_app).storage})
    client = limited.test_client()

    with freeze_time(datetime.now(UTC).replace(second=0, microsecond=0)):
        first, second = bearer(limited, "user-1", ttl=600), bearer(limited, "user-1", ttl=900)
        statuses = [
            client.get("/api/v1/doctors", headers=h).status_code for h in (first, first, second)
        ]
        over = [client.get("/api/v1/doctors", headers=h) for h in (first, second)]
        others = [
            client.get("/api/v1/doctors", headers=h).status_code
            for h in (bearer(limited, "user-2"), AGENT)
        ]

    assert statuses == [200, 200, 200]
    for response in over:
        assert assert_problem(response, 429)["type"] == "/problems/rate-limited"
        assert response.headers["Retry-After"]
    assert others == [200, 200]
