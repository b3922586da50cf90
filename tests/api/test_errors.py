"""Status codes, problem documents and headers that every route shares."""

from __future__ import annotations

import base64
import json
import re

import pytest

from health_api.api.kernel import kernel_of
from health_api.domain.errors import StorageUnavailableError
from health_api.services import doctors as doctor_service
from tests.api.conftest import ADMIN, AGENT
from tests.api.helpers import (
    MON_0900,
    MON_0930,
    MON_1000,
    add_slots,
    assert_problem,
    create_doctor,
    other_app,
)

DOCTORS = "/api/v1/doctors"
NEW_DOCTOR = {"nombre": "Dr. Luis Gil", "especialidad": "Pediatría"}
WEEK = {"desde": "2030-03-04T00:00:00Z", "hasta": "2030-03-11T00:00:00Z"}


def decode_cursor(cursor: str) -> dict:
    payload = cursor.rpartition(".")[0]  # a cursor is <payload>.<signature>
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def encode_cursor(document: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


@pytest.fixture
def two_doctors(client) -> str:
    """``doc-a`` and ``doc-b`` with three slots each; a next_cursor of ``doc-a``'s schedule."""
    for doctor_id in ("doc-a", "doc-b"):
        create_doctor(client, doctor_id)
        add_slots(client, doctor_id, MON_0900, MON_0930, MON_1000)
    response = client.get(
        "/api/v1/doctors/doc-a/schedules", query_string={**WEEK, "limit": 1}, headers=AGENT
    )
    return response.get_json()["next_cursor"]


# --- 400 -------------------------------------------------------------------------------------


def test_malformed_json_is_a_400(client, subtests) -> None:
    for body in (b'{"nombre": ', b"{'nombre': 'x'}", b"\xff\xfe{}", b"nombre=x", b"[1,]"):
        with subtests.test(body=body):
            response = client.post(
                DOCTORS, data=body, content_type="application/json", headers=ADMIN
            )

            assert_problem(response, 400)
    assert client.get(DOCTORS, headers=AGENT).get_json()["items"] == []


def test_an_empty_json_body_is_a_422_naming_the_required_fields(client) -> None:
    response = client.post(DOCTORS, data=b"", content_type="application/json", headers=ADMIN)

    assert set(assert_problem(response, 422)["errors"]) == {"nombre", "especialidad"}


def test_a_deeply_nested_json_body_is_a_4xx_not_a_500(client) -> None:
    depth = 100_000
    body = b'{"data": ' + b"[" * depth + b"]" * depth + b"}"

    response = client.put(
        "/api/v1/sessions/user-1", data=body, content_type="application/json", headers=AGENT
    )

    problem = assert_problem(response, response.status_code)
    assert 400 <= response.status_code < 500
    assert problem["status"] == response.status_code


def test_a_string_with_a_lone_surrogate_is_a_4xx_not_a_500(client) -> None:
    raw = b'{"nombre": "Dr. \\ud800", "especialidad": "Y"}'

    response = client.post(DOCTORS, data=raw, content_type="application/json", headers=ADMIN)

    assert response.status_code in (400, 422)
    assert_problem(response, response.status_code)


def test_a_cursor_that_is_not_ours_is_a_400(client, two_doctors, subtests) -> None:
    document = decode_cursor(two_doctors)
    bad_cursors = {
        "garbage": "garbage",
        "not base64": "%%%",
        "json null": "bnVsbA",
        "a list": encode_cursor([1]),
        "no position": encode_cursor({"v": 1}),
        "too long": "x" * 3000,
        "truncated": two_doctors[:-4],
        "other version": encode_cursor({**document, "v": 2}),
        "other query": encode_cursor({**document, "q": "0" * 16}),
        "extra field": encode_cursor({**document, "p": {**document["p"], "doctor_id": "x"}}),
        "empty value": encode_cursor({**document, "p": {"fecha_hora": ""}}),
        "number value": encode_cursor({**document, "p": {"fecha_hora": 5}}),
    }
    for name, cursor in bad_cursors.items():
        with subtests.test(cursor=name):
            response = client.get(
                "/api/v1/doctors/doc-a/schedules",
                query_string={**WEEK, "cursor": cursor},
                headers=AGENT,
            )

            assert "cursor" in assert_problem(response, 400)["errors"]


def test_a_cursor_of_another_query_is_a_400(client, two_doctors, subtests) -> None:
    other_queries = [
        ("/api/v1/doctors/doc-b/schedules", WEEK),
        ("/api/v1/doctors/doc-a/schedules", {**WEEK, "estado": "disponible"}),
        ("/api/v1/doctors", {}),
        ("/api/v1/users/user-1/appointments", {}),
        ("/api/v1/availability", {"especialidad": "cardiologia", **WEEK}),
    ]
    for url, query in other_queries:
        with subtests.test(url=url, query=query):
            response = client.get(url, query_string={**query, "cursor": two_doctors}, headers=AGENT)

            assert "cursor" in assert_problem(response, 400)["errors"]


def test_a_cursor_whose_position_was_edited_is_a_400(client, two_doctors) -> None:
    document = decode_cursor(two_doctors)
    signature = two_doctors.rpartition(".")[2]
    document["p"]["fecha_hora"] = "2030-03-04T09:59:59Z"

    response = client.get(
        "/api/v1/doctors/doc-a/schedules",
        # The edited position keeps the original signature, as a forger would have to.
        query_string={**WEEK, "cursor": f"{encode_cursor(document)}.{signature}"},
        headers=AGENT,
    )

    assert "cursor" in assert_problem(response, 400)["errors"]


def test_a_bad_paging_parameter_is_a_400(client, subtests) -> None:
    for limit in (0, 101, -1, "abc", "1.5"):
        with subtests.test(limit=limit):
            response = client.get(DOCTORS, query_string={"limit": limit}, headers=AGENT)

            assert list(assert_problem(response, 400)["errors"]) == ["limit"]


# --- 404 / 405 -------------------------------------------------------------------------------


def test_an_unknown_api_route_is_a_404_problem(client, subtests) -> None:
    for path in ("/api/v1/nothing-here", "/api/v1/doctors/doc-a/nothing", "/api/v2/doctors"):
        with subtests.test(path=path):
            response = client.get(path, headers=AGENT)

            assert_problem(response, 404)
            assert response.headers["Cache-Control"] == "no-store"


def test_an_unknown_route_outside_the_api_is_a_404_problem(client) -> None:
    response = client.get("/nothing-here")

    assert_problem(response, 404)


# Not ids: a control character, too long, a space, an emoji, a line break inside or at the end,
# a Cyrillic look-alike letter, an accented letter. (A slash, even as %2F, splits the path: no
# route, a 404.)
NOT_IDS = (
    "%00",
    "x" * 129,
    "a%20b",
    "%F0%9F%98%80",
    "a%0Ab",
    "doc-ana%0A",
    "doc-%D0%B0na",
    "doc-%C3%A1na",
)


def test_a_path_id_that_is_not_a_valid_id_is_a_400_naming_it(client, subtests) -> None:
    create_doctor(client, "doc-ana")
    for doctor_id in NOT_IDS:
        for suffix in ("", "/schedules"):
            with subtests.test(path=f"/api/v1/doctors/{doctor_id}{suffix}"):
                response = client.get(f"/api/v1/doctors/{doctor_id}{suffix}", headers=AGENT)

                body = assert_problem(response, 400)
                assert list(body["errors"]) == ["doctor_id"]
                assert "ASCII" in body["errors"]["doctor_id"][0]


def test_an_empty_path_id_is_a_404(client) -> None:
    response = client.get("/api/v1/doctors//schedules", headers=AGENT)

    assert_problem(response, 404)


def test_a_wrong_method_is_a_405_with_allow(client, subtests) -> None:
    cases = [
        ("PUT", DOCTORS, {"GET", "POST"}),
        ("POST", "/api/v1/doctors/doc-a", {"GET", "PATCH", "DELETE"}),
        ("GET", "/api/v1/appointments/reschedule", {"POST"}),
        ("POST", "/api/v1/sessions/user-1", {"GET", "PUT", "PATCH", "DELETE"}),
        ("POST", "/healthz", {"GET"}),
    ]
    for method, path, allowed in cases:
        with subtests.test(method=method, path=path):
            response = client.open(path, method=method, headers=ADMIN)

            assert_problem(response, 405)
            assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}


# --- 413 / 415 -------------------------------------------------------------------------------


def test_a_body_over_one_mib_is_a_413(client) -> None:
    filler = "x" * int(1.1 * 1024 * 1024)
    body = json.dumps({"data": {"texto": filler}})

    response = client.put(
        "/api/v1/sessions/user-1", data=body, content_type="application/json", headers=AGENT
    )

    problem = assert_problem(response, 413)
    assert filler[:100] not in response.get_data(as_text=True)
    assert problem["title"]
    assert_problem(client.get("/api/v1/sessions/user-1", headers=AGENT), 404)


def test_a_body_that_is_not_json_is_a_415(client, subtests) -> None:
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        None,
    ):
        with subtests.test(content_type=content_type):
            response = client.post(
                DOCTORS, data=json.dumps(NEW_DOCTOR), content_type=content_type, headers=ADMIN
            )

            assert_problem(response, 415)
    assert client.get(DOCTORS, headers=AGENT).get_json()["items"] == []


def test_a_json_suffix_media_type_is_accepted(client) -> None:
    response = client.post(
        DOCTORS,
        data=json.dumps(NEW_DOCTOR),
        content_type="application/merge-patch+json",
        headers=ADMIN,
    )

    assert response.status_code == 201


# --- 422 -------------------------------------------------------------------------------------


def test_a_body_that_is_not_an_object_is_a_422(client) -> None:
    response = client.post(DOCTORS, json=[NEW_DOCTOR], headers=ADMIN)

    assert_problem(response, 422)


def test_validation_errors_name_every_bad_field(client) -> None:
    body = {"nombre": "", "especialidad": 5, "email": "not-an-email", "estado": "x"}

    response = client.post(DOCTORS, json=body, headers=ADMIN)

    problem = assert_problem(response, 422)
    assert set(problem["errors"]) == {"nombre", "especialidad", "email", "estado"}
    assert all(
        isinstance(messages, list) and all(isinstance(m, str) for m in messages)
        for messages in problem["errors"].values()
    )
    assert "not-an-email" not in response.get_data(as_text=True)


# --- 429 -------------------------------------------------------------------------------------


def test_past_the_rate_limit_a_key_gets_a_429_with_retry_after(app, backend, tmp_path) -> None:
    limited = other_app(app, backend, tmp_path, rate_limit="3/minute").test_client()
    allowed = [limited.get(DOCTORS, headers=AGENT) for _ in range(3)]

    response = limited.get(DOCTORS, headers=AGENT)

    assert [r.status_code for r in allowed] == [200, 200, 200]
    assert_problem(response, 429)
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["Cache-Control"] == "no-store"
    # The limit is per key, and probes are never limited.
    assert limited.get(DOCTORS, headers=ADMIN).status_code == 200
    assert [limited.get("/healthz").status_code for _ in range(5)] == [200] * 5


# --- 500 / 503 -------------------------------------------------------------------------------


def test_an_unexpected_exception_is_a_bare_500(client, monkeypatch) -> None:
    def explode(*_args, **_kwargs):
        raise RuntimeError("secret-detail")

    monkeypatch.setattr(doctor_service, "create_doctor", explode)

    response = client.post(DOCTORS, json=NEW_DOCTOR, headers=ADMIN)

    problem = assert_problem(response, 500)
    text = response.get_data(as_text=True)
    assert "secret-detail" not in text
    assert "RuntimeError" not in text
    assert "errors" not in problem
    assert response.headers["X-Request-ID"]


def test_storage_unavailable_is_a_503_with_retry_after(client, app, monkeypatch) -> None:
    def unavailable(*_args, **_kwargs):
        raise StorageUnavailableError("ddb said: ProvisionedThroughputExceeded", retry_after=7)

    monkeypatch.setattr(kernel_of(app).storage.doctors, "get", unavailable)

    response = client.get("/api/v1/doctors/doc-a", headers=AGENT)

    assert_problem(response, 503)
    assert response.headers["Retry-After"] == "7"
    assert "ProvisionedThroughputExceeded" not in response.get_data(as_text=True)


# --- headers ---------------------------------------------------------------------------------


def test_a_given_request_id_is_echoed_on_api_responses_and_errors(client) -> None:
    ok = client.get(DOCTORS, headers={**AGENT, "X-Request-ID": "req-42"})
    unauthorized = client.get(DOCTORS, headers={"X-Request-ID": "req-43"})
    missing = client.get("/api/v1/doctors/doc-x", headers={**AGENT, "X-Request-ID": "req-44"})

    assert ok.headers["X-Request-ID"] == "req-42"
    assert unauthorized.headers["X-Request-ID"] == "req-43"
    assert missing.headers["X-Request-ID"] == "req-44"


def test_a_request_id_is_generated_when_absent_and_differs_per_request(client) -> None:
    first = client.get(DOCTORS, headers=AGENT)
    second = client.get(DOCTORS, headers=AGENT)

    assert re.fullmatch(r"[A-Za-z0-9._:-]{8,128}", first.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_an_unsafe_request_id_is_replaced(client, subtests) -> None:
    for given in ("has spaces", "x" * 200, "<script>", "a\tb"):
        with subtests.test(given=given):
            response = client.get(DOCTORS, headers={**AGENT, "X-Request-ID": given})

            assert response.status_code == 200
            assert response.headers["X-Request-ID"] != given
            assert re.fullmatch(r"[A-Za-z0-9._:-]{8,128}", response.headers["X-Request-ID"])


def test_api_responses_are_nosniff_and_no_store(client, subtests) -> None:
    cases = [
        ("/api/v1/doctors", AGENT, 200),
        ("/api/v1/doctors/doc-x", AGENT, 404),
        ("/api/v1/doctors", {}, 401),
        ("/api/v1/admin/tables", AGENT, 403),
        ("/api/v1/nothing", AGENT, 404),
    ]
    for path, headers, status in cases:
        with subtests.test(path=path, status=status):
            response = client.get(path, headers=headers)

            assert response.status_code == status
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["Cache-Control"] == "no-store"
            assert response.headers["X-Request-ID"]


def test_service_responses_are_nosniff(client, subtests) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs", "/nothing"):
        with subtests.test(path=path):
            response = client.get(path)

            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["X-Request-ID"]
