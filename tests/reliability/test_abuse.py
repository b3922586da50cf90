"""Abuse and hygiene, measured: what a hostile or careless client can and cannot do.

Real gunicorn (``tests/ops/procs.py``) where the wire matters: oversized and deeply nested
bodies, path values gunicorn and werkzeug decode, the rate limit across workers, what reaches the
captured logs, and the fuzzing run (``reliability/fuzz.py`` with a CI-sized bound). The Flask test
client where it does not: mass assignment on both backends, DEBUG in production.

The auth matrix, 413 / 415, nested JSON, cursors and path ids are also covered in-process in
tests/api/test_auth_matrix.py and tests/api/test_errors.py; here they go through the real server.

Every response body seen here, on either path, is checked for a traceback, a file path and
botocore wording (``assert_clean``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import signal
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from health_api import create_app
from health_api.services import doctors as doctor_service
from reliability import fuzz
from tests.api.conftest import ADMIN as APP_ADMIN
from tests.api.conftest import AGENT as APP_AGENT
from tests.api.conftest import storage_settings
from tests.ops import procs
from tests.ops.procs import ADMIN, AGENT

LEAKS = ("Traceback", "/work/", '.py"', "botocore", "An error occurred (", 'File "')
QUICK = 2.0  # seconds: an abusive body is refused in well under this
API = "/api/v1"


def assert_clean(text: str) -> None:
    """No traceback, source path or storage error text in what a client receives."""
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} in a response body: {text[:500]}"


def body_text(response: procs.Response) -> str:
    body = response.body
    if isinstance(body, bytes):
        return body.decode(errors="replace")
    return json.dumps(body, ensure_ascii=False)


def call(port: int, method: str, path: str, **kwargs: Any) -> procs.Response:
    """``procs.call`` plus the leak check on the body."""
    response = procs.call(port, method, path, **kwargs)
    assert_clean(body_text(response))
    return response


def future(days: int, hour: int = 9) -> str:
    moment = (datetime.now(UTC) + timedelta(days=days)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- CI-sized fuzzing against real gunicorn ---------------------------------------------------


def test_fuzzing_the_live_server_finds_no_server_error_and_no_schema_violation(
    tmp_path: Path,
) -> None:
    report, server = fuzz.run(examples=5, workdir=tmp_path)

    failing = [result.line() + "\n" + "\n".join(result.samples) for result in report.results]
    failing = [line for line, r in zip(failing, report.results, strict=True) if r.failures]
    assert report.total("server_errors") == 0, failing
    assert report.total("schema_violations") == 0, failing
    assert report.ok, failing
    # Both keys, every operation of the document (the API.md list plus the service paths).
    assert len({r.operation for r in report.results}) == 27
    assert {r.key for r in report.results} == {"admin", "agent"}
    assert report.total("examples") >= 48 * 3
    # No unexpected exception was logged either (the app logs one with its traceback).
    assert "Traceback" not in server.stdout() + server.stderr()


# --- mass assignment (Flask test client, both backends) ---------------------------------------


@pytest.fixture
def client(make_storage, backend: str, tmp_path: Path) -> FlaskClient:
    """The app on a fresh store of ``backend`` (the tests/api keys)."""
    app = create_app({"settings": storage_settings(backend, tmp_path), "storage": make_storage()})
    return app.test_client()


def checked(response) -> Any:
    assert_clean(response.get_data(as_text=True))
    return response


def refused_422(response, field: str) -> None:
    checked(response)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    errors = response.get_json().get("errors", {})
    assert any(field in key for key in _error_keys(errors)), (field, errors)


def _error_keys(errors: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(errors, dict):
        for key, value in errors.items():
            yield f"{prefix}{key}"
            yield from _error_keys(value, f"{prefix}{key}.")


SLOT_1 = future(30, 9)
SLOT_2 = future(30, 10)


def schedule(client: FlaskClient, doctor_id: str) -> list[dict]:
    query = {"desde": future(29), "hasta": future(32), "limit": 100}
    response = checked(
        client.get(f"{API}/doctors/{doctor_id}/schedules", query_string=query, headers=APP_AGENT)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["items"]


@pytest.fixture
def doctor(client: FlaskClient) -> str:
    doctor_id = "mass-doc"
    made = client.post(
        f"{API}/doctors",
        json={"doctor_id": doctor_id, "nombre": "Dra. Ana Ruiz", "especialidad": "Cardiología"},
        headers=APP_ADMIN,
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    slots = client.post(
        f"{API}/doctors/{doctor_id}/schedules",
        json={"slots": [{"fecha_hora": SLOT_1}]},
        headers=APP_ADMIN,
    )
    assert slots.status_code == 201, slots.get_data(as_text=True)
    return doctor_id


FORBIDDEN_DOCTOR_FIELDS = {"estado": "bloqueado", "ttl": 1, "user_id": "intruso"}


@pytest.mark.parametrize(("field", "value"), FORBIDDEN_DOCTOR_FIELDS.items())
def test_a_doctor_cannot_be_created_or_patched_with_fields_the_contract_does_not_give(
    client: FlaskClient, doctor: str, field: str, value: Any
) -> None:
    before = checked(client.get(f"{API}/doctors/{doctor}", headers=APP_AGENT)).get_json()
    new = {"doctor_id": "mass-new", "nombre": "Dr. X", "especialidad": "Pediatría", field: value}

    refused_422(client.post(f"{API}/doctors", json=new, headers=APP_ADMIN), field)
    refused_422(
        client.patch(
            f"{API}/doctors/{doctor}", json={"nombre": "Otro", field: value}, headers=APP_ADMIN
        ),
        field,
    )

    assert checked(client.get(f"{API}/doctors/mass-new", headers=APP_AGENT)).status_code == 404
    after = checked(client.get(f"{API}/doctors/{doctor}", headers=APP_AGENT)).get_json()
    assert after == before


@pytest.mark.parametrize(
    ("field", "value"), [("estado", "bloqueado"), ("reservado_en", "2020-01-01T00:00:00Z")]
)
def test_a_booking_cannot_set_its_state_or_time(
    client: FlaskClient, doctor: str, field: str, value: str
) -> None:
    before = schedule(client, doctor)
    path = f"{API}/doctors/{doctor}/schedules/{SLOT_1}/booking"

    refused_422(client.put(path, json={"user_id": "u-1", field: value}, headers=APP_AGENT), field)

    after = schedule(client, doctor)
    assert after == before
    assert after[0]["estado"] == "disponible"
    assert "user_id" not in after[0] or after[0]["user_id"] is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("ttl", 1), ("expires_at", "2999-01-01T00:00:00Z"), ("user_id", "otro-usuario")],
)
def test_a_session_cannot_set_its_expiry_or_owner(
    client: FlaskClient, field: str, value: Any
) -> None:
    path = f"{API}/sessions/u-mass"
    made = checked(client.put(path, json={"data": {"paso": 1}}, headers=APP_AGENT))
    assert made.status_code in (200, 201), made.get_data(as_text=True)
    before = checked(client.get(path, headers=APP_AGENT)).get_json()

    refused_422(
        client.put(path, json={"data": {"paso": 2}, field: value}, headers=APP_AGENT), field
    )
    refused_422(
        client.patch(path, json={"data": {"paso": 3}, field: value}, headers=APP_AGENT), field
    )
    refused_422(
        client.put(f"{API}/sessions/u-other", json={"data": {}, field: value}, headers=APP_AGENT),
        field,
    )

    assert checked(client.get(path, headers=APP_AGENT)).get_json() == before
    other = checked(client.get(f"{API}/sessions/u-other", headers=APP_AGENT))
    assert other.status_code == 404
    assert checked(client.get(f"{API}/sessions/{value}", headers=APP_AGENT)).status_code == 404


@pytest.mark.parametrize(("field", "value"), [("estado", "reservado"), ("user_id", "intruso")])
def test_new_slots_cannot_carry_a_state_or_a_holder(
    client: FlaskClient, doctor: str, field: str, value: str
) -> None:
    before = schedule(client, doctor)
    slots = [{"fecha_hora": SLOT_2}, {"fecha_hora": SLOT_1, field: value}]

    refused_422(
        client.post(f"{API}/doctors/{doctor}/schedules", json={"slots": slots}, headers=APP_ADMIN),
        field,
    )

    assert schedule(client, doctor) == before  # not even the valid slot of the batch
    appointments = checked(client.get(f"{API}/users/{value}/appointments", headers=APP_AGENT))
    assert appointments.get_json()["items"] == []


# --- the production switch ---------------------------------------------------------------------


def test_production_runs_without_debug_and_answers_a_fault_with_a_bare_500(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in {
        "ENVIRONMENT": "production",
        "HEALTH_API_KEYS": f"admin={procs.ADMIN_KEY},agent={procs.AGENT_KEY}",
        "HEALTH_API_KEY_ID_SECRET": procs.KEY_ID_SECRET,
        "HEALTH_API_STORAGE": "sqlite",
        "HEALTH_API_SQLITE_PATH": str(tmp_path / "prod.db"),
        "FLASK_DEBUG": "1",  # a stray debug switch in the environment changes nothing
    }.items():
        monkeypatch.setenv(name, value)
    app = create_app()

    assert app.extensions["health_api.settings"].environment == "production"
    assert app.debug is False
    assert app.config["DEBUG"] is False
    assert not app.testing
    assert not app.config.get("PROPAGATE_EXCEPTIONS")

    def explode(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError(f"secret-detail in {__file__}")

    monkeypatch.setattr(doctor_service, "create_doctor", explode)
    response = app.test_client().post(
        f"{API}/doctors", json={"nombre": "Dr. X", "especialidad": "Pediatría"}, headers=ADMIN
    )

    text = checked(response).get_data(as_text=True)
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert set(response.get_json()) == {"type", "title", "status", "detail"}
    assert "secret-detail" not in text
    assert "RuntimeError" not in text


# --- real gunicorn: bodies, parameters, cursors, path values ----------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[procs.Gunicorn]:
    """One gunicorn (2 workers) on SQLite with the demo data, shared by the wire tests."""
    workdir = tmp_path_factory.mktemp("abuse")
    (workdir / "data").mkdir()
    with procs.running(procs.server_env(procs.sqlite_env(workdir / "data" / "h.db")), workdir) as s:
        procs.seed(s.port)
        yield s


def _read_response_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _send_big_body(
    port: int, chunked: bool, size: int = 10 * 1024 * 1024, fill: bytes = b"x"
) -> tuple[bytes, float, int]:
    """PUT a ``size`` session body (declared by Content-Length, or chunked): valid JSON, then
    ``fill`` to the end; the status line and headers received, the seconds until they arrived,
    and how many body bytes got out."""
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    head = (
        f"PUT {API}/sessions/big-body HTTP/1.1\r\nHost: test\r\n"
        f"Authorization: {AGENT['Authorization']}\r\nContent-Type: application/json\r\n"
        f"{framing}\r\n\r\n"
    ).encode()
    piece = 64 * 1024
    sent = [0]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(head)

        def pump() -> None:
            start = b'{"data": {}}'
            with contextlib.suppress(OSError):  # the server closes on us: that is the point
                while sent[0] < size:
                    payload = (start if sent[0] == 0 else b"") + fill * piece
                    payload = payload[: min(piece, size - sent[0])]
                    frame = f"{len(payload):x}\r\n".encode() + payload + b"\r\n"
                    sock.sendall(frame if chunked else payload)
                    sent[0] += len(payload)
                if chunked:
                    sock.sendall(b"0\r\n\r\n")

        sender = threading.Thread(target=pump, daemon=True)
        sender.start()
        try:
            answer = _read_response_head(sock)
        except OSError:
            answer = b""
        elapsed = time.monotonic() - started
        sender.join(timeout=10)
    return answer, elapsed, sent[0]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_10_mib_body_is_refused_at_once_and_the_worker_keeps_serving(
    server: procs.Gunicorn, chunked: bool
) -> None:
    for _ in range(3):  # more than one per worker
        answer, elapsed, sent = _send_big_body(server.port, chunked)

        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"application/problem+json" in answer
        assert elapsed < QUICK, elapsed
        assert sent < 10 * 1024 * 1024, "the server read the whole 10 MiB before refusing"
        assert_clean(answer.decode(errors="replace"))
    # Just over 1 MiB, and the first MiB alone is valid JSON (trailing spaces): still a 413.
    answer, _, _ = _send_big_body(server.port, chunked, size=1024 * 1024 + 1, fill=b" ")
    assert answer.startswith(b"HTTP/1.1 413"), answer[:400]
    assert call(server.port, "GET", f"{API}/sessions/big-body", headers=AGENT).status == 404
    # Exactly 1 MiB is not over it, and the worker still serves.
    answer, _, _ = _send_big_body(server.port, chunked, size=1024 * 1024, fill=b" ")
    assert answer.startswith(b"HTTP/1.1 200"), answer[:400]
    assert call(server.port, "DELETE", f"{API}/sessions/big-body", headers=AGENT).status == 204
    assert call(server.port, "GET", f"{API}/doctors?limit=1", headers=AGENT).status == 200


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"data": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b"}",
        b'{"data": ' + b"[" * 200_000,  # deep and unterminated
    ],
    ids=["arrays", "objects", "unterminated"],
)
def test_a_deeply_nested_body_is_a_quick_400_and_the_worker_keeps_serving(
    server: procs.Gunicorn, body: bytes
) -> None:
    for _ in range(3):
        started = time.monotonic()
        response = call(server.port, "PUT", f"{API}/sessions/deep", raw=body, headers=AGENT)
        elapsed = time.monotonic() - started

        assert response.status == 400, response.body
        assert response.headers["content-type"] == "application/problem+json"
        assert elapsed < QUICK, elapsed
    assert call(server.port, "GET", f"{API}/sessions/deep", headers=AGENT).status == 404
    assert call(server.port, "GET", f"{API}/doctors?limit=1", headers=AGENT).status == 200


COLLECTIONS = (
    f"{API}/doctors?",
    f"{API}/doctors?especialidad=cardiologia&",
    f"{API}/doctors/demo-cardio-1/schedules?",
    f"{API}/users/someone/appointments?",
    f"{API}/availability?especialidad=cardiologia&",
)


@pytest.mark.parametrize("limit", ["101", "1000", "100000000000000000000", "0", "-1", "ten"])
def test_a_limit_outside_1_to_100_is_a_400(server: procs.Gunicorn, limit: str) -> None:
    for collection in COLLECTIONS:
        response = call(server.port, "GET", f"{collection}limit={limit}", headers=AGENT)

        assert response.status == 400, (collection, response.body)
        assert "limit" in response.body.get("errors", {}), response.body
    edge = call(server.port, "GET", f"{API}/doctors?limit=100", headers=AGENT)
    assert edge.status == 200


def _b64(document: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def _unb64(text: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def _next_cursor(port: int, path: str) -> str:
    page = call(port, "GET", path, headers=AGENT)
    assert page.status == 200, page.body
    assert page.body["next_cursor"], (path, page.body)
    return page.body["next_cursor"]


def test_a_forged_or_foreign_cursor_is_a_400(server: procs.Gunicorn) -> None:
    port = server.port
    doctors = f"{API}/doctors?limit=2"
    schedules_a = f"{API}/doctors/demo-cardio-1/schedules?limit=2"
    schedules_b = f"{API}/doctors/demo-cardio-2/schedules?limit=2"
    cursor = _next_cursor(port, doctors)
    payload, _, signature = cursor.rpartition(".")
    document = _unb64(payload)
    edited = json.loads(json.dumps(document).replace("demo-", "demo-x"))
    assert edited != document
    forged = {
        "another signature": f"{payload}.{_b64('not-the-mac')}",
        "no signature": payload,
        "edited position, old signature": f"{_b64(edited)}.{signature}",
        "made-up payload and signature": f"{_b64({'p': {'doctor_id': 'x'}, 'v': 1})}.AAAA",
        "not base64": "%%%.%%%",
        "empty": ".",
    }
    foreign = {
        "doctors cursor on a schedule": (schedules_a, cursor),
        "schedule of one doctor on another": (schedules_b, _next_cursor(port, schedules_a)),
        "schedule cursor on the doctor list": (doctors, _next_cursor(port, schedules_a)),
        "doctor list on a filtered list": (f"{doctors}&especialidad=pediatria", cursor),
        "doctor list on availability": (f"{API}/availability?especialidad=cardiologia", cursor),
    }
    cases = [(doctors, token, name) for name, token in forged.items()]
    cases += [(path, token, name) for name, (path, token) in foreign.items()]
    for path, token, name in cases:
        query = urllib.parse.urlencode({"cursor": token})
        response = call(
            port, "GET", f"{path}&{query}" if "?" in path else f"{path}?{query}", headers=AGENT
        )

        assert response.status == 400, (name, response.body)
        assert response.headers["content-type"] == "application/problem+json", name
    # The genuine cursor still works where it belongs.
    genuine = call(port, "GET", f"{doctors}&cursor={urllib.parse.quote(cursor)}", headers=AGENT)
    assert genuine.status == 200


LONG = "a" * 10_000  # past gunicorn's request line limit: gunicorn's own 414
PATH_VALUES = {
    "encoded slash": "a%2Fb",
    "encoded slash only": "%2F",
    "dot-dot slash": "..%2F..%2Fadmin",
    "NUL": "a%00b",
    "NUL only": "%00",
    "CR LF": "a%0D%0AX-Injected:%201",
    "10 000 characters": LONG,
    "4 000 characters": "b" * 4_000,
    "non-UTF-8 byte": "a%FFb",
}
PATH_ROUTES = (
    ("GET", f"{API}/doctors/{{v}}", None),
    ("PATCH", f"{API}/doctors/{{v}}", {"nombre": "X"}),
    ("DELETE", f"{API}/doctors/{{v}}", None),
    ("GET", f"{API}/doctors/{{v}}/schedules", None),
    ("DELETE", f"{API}/doctors/demo-cardio-1/schedules/{{v}}", None),
    ("PUT", f"{API}/doctors/demo-cardio-1/schedules/{{v}}/booking", {"user_id": "u-1"}),
    ("PUT", f"{API}/doctors/{{v}}/schedules/2031-01-01T09:00:00Z/booking", {"user_id": "u-1"}),
    ("GET", f"{API}/users/{{v}}/appointments", None),
    ("GET", f"{API}/sessions/{{v}}", None),
    ("PUT", f"{API}/sessions/{{v}}", {"data": {}}),
    ("DELETE", f"{API}/sessions/{{v}}", None),
)


@pytest.mark.parametrize("value", PATH_VALUES.values(), ids=PATH_VALUES.keys())
def test_hostile_path_values_are_4xx_never_5xx(server: procs.Gunicorn, value: str) -> None:
    statuses = set()
    for method, template, body in PATH_ROUTES:
        response = call(server.port, method, template.format(v=value), body=body, headers=ADMIN)

        assert 400 <= response.status < 500, (method, template, response.status, response.body)
        statuses.add(response.status)
    if value is LONG:
        assert statuses == {414}  # refused by gunicorn before the app
    # Nothing was created under a hostile id, and the server still serves.
    assert call(server.port, "GET", f"{API}/doctors?limit=1", headers=AGENT).status == 200


# --- real gunicorn: the rate limit -------------------------------------------------------------


def test_past_the_rate_limit_the_real_server_answers_429_with_retry_after(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    env = procs.server_env(
        procs.sqlite_env(tmp_path / "data" / "h.db"), HEALTH_API_RATE_LIMIT="5/minute"
    )
    with procs.running(env, tmp_path / "logs") as limited:
        statuses = []
        limited_response = None
        for _ in range(40):  # the count may be kept per worker: 2 workers x 5, and then some
            response = call(limited.port, "GET", f"{API}/doctors", headers=AGENT)
            statuses.append(response.status)
            if response.status == 429:
                limited_response = response
                break

        assert limited_response is not None, statuses
        assert set(statuses[:-1]) == {200}
        assert 5 <= len(statuses) - 1 <= 10, statuses
        assert limited_response.headers["content-type"] == "application/problem+json"
        assert 0 < int(limited_response.headers["retry-after"]) <= 60
        assert limited_response.body["status"] == 429
        # Probes are never limited; the other key has its own budget.
        assert call(limited.port, "GET", "/healthz").status == 200
        assert call(limited.port, "GET", f"{API}/doctors", headers=ADMIN).status == 200


# --- hygiene: a canary through every endpoint, and the captured output ------------------------

CANARY = f"CANARY{uuid.uuid4().hex[:8]}"
CANARY_USER = f"{CANARY}-user"
CANARY_USER_2 = f"{CANARY}-user2"
CANARY_DOCTOR = f"{CANARY}-doctor"
CANARY_NAME = f"Dra. {CANARY} Nombre"
CANARY_MOTIVO = f"{CANARY} motivo: dolor toracico"
CANARY_SESSION = f"{CANARY} session: alergia penicilina"
CANARY_QUERY = f"{CANARY}query"
CANARY_FIELD = f"{CANARY}field"


@pytest.fixture(params=["sqlite", "dynamodb-local"])
def canary_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "sqlite":
        (tmp_path / "data").mkdir()
        return procs.server_env(procs.sqlite_env(tmp_path / "data" / "h.db"))
    endpoint = request.getfixturevalue("dynamodb_local")
    env = procs.server_env(procs.dynamodb_env(endpoint, f"abuse{uuid.uuid4().hex[:8]}-"))
    procs.create_tables(env)
    return env


def test_a_canary_through_every_endpoint_never_reaches_the_logs(
    canary_env: dict[str, str], tmp_path: Path
) -> None:
    def hit(method: str, path: str, status: int | tuple[int, ...], **kwargs: Any) -> Any:
        response = call(server.port, method, path, **kwargs)
        expected = status if isinstance(status, tuple) else (status,)
        assert response.status in expected, (method, path, response.status, response.body)
        return response.body

    slot_1, slot_2 = future(40, 9), future(40, 10)
    doctor = f"{API}/doctors/{CANARY_DOCTOR}"
    with running_server(canary_env, tmp_path) as server:
        hit("GET", "/healthz", 200)
        hit("GET", "/readyz", 200)
        hit("GET", "/openapi.json", 200)
        hit("GET", "/docs", 200)
        hit(
            "POST",
            f"{API}/doctors",
            201,
            body={"doctor_id": CANARY_DOCTOR, "nombre": CANARY_NAME, "especialidad": "Neumología"},
            headers=ADMIN,
        )
        hit(
            "POST",
            f"{API}/doctors",
            409,
            body={"doctor_id": CANARY_DOCTOR, "nombre": CANARY_NAME, "especialidad": "Neumología"},
            headers=ADMIN,
        )
        hit("GET", f"{API}/doctors?especialidad={CANARY_QUERY}&limit=5", 200, headers=AGENT)
        assert hit("GET", doctor, 200, headers=AGENT)["nombre"] == CANARY_NAME
        hit("PATCH", doctor, 200, body={"nombre": f"{CANARY_NAME} II"}, headers=ADMIN)
        hit("PATCH", doctor, 422, body={CANARY_FIELD: CANARY_NAME}, headers=ADMIN)
        hit(
            "POST",
            f"{doctor}/schedules",
            201,
            body={"slots": [{"fecha_hora": slot_1}, {"fecha_hora": slot_2}]},
            headers=ADMIN,
        )
        hit("GET", f"{doctor}/schedules?desde={future(39)}&hasta={future(41)}", 200, headers=AGENT)
        booking_1 = f"{doctor}/schedules/{slot_1}/booking"
        booking_2 = f"{doctor}/schedules/{slot_2}/booking"
        booked = hit(
            "PUT",
            booking_1,
            201,
            body={"user_id": CANARY_USER, "motivo": CANARY_MOTIVO},
            headers=AGENT,
        )
        assert booked["motivo"] == CANARY_MOTIVO
        hit(
            "PUT",
            booking_1,
            409,
            body={"user_id": CANARY_USER_2, "motivo": CANARY_MOTIVO},
            headers=AGENT,
        )
        hit(
            "PUT",
            booking_1,
            422,
            body={"user_id": CANARY_USER, CANARY_FIELD: CANARY_MOTIVO},
            headers=AGENT,
        )
        hit(
            "PUT",
            booking_1,
            400,
            raw=f'{{"user_id": "{CANARY_USER}", "motivo": "{CANARY_MOTIVO}"'.encode(),
            headers=AGENT,
        )
        hit(
            "POST",
            f"{API}/appointments/reschedule",
            200,
            body={
                "user_id": CANARY_USER,
                "from": {"doctor_id": CANARY_DOCTOR, "fecha_hora": slot_1},
                "to": {"doctor_id": CANARY_DOCTOR, "fecha_hora": slot_2},
            },
            headers=AGENT,
        )
        mine = hit(
            "GET", f"{API}/users/{CANARY_USER}/appointments?desde={future(1)}", 200, headers=AGENT
        )
        assert [item["motivo"] for item in mine["items"]] == [CANARY_MOTIVO]
        hit("GET", f"{API}/availability?especialidad=neumologia&limit=5", 200, headers=AGENT)
        hit("DELETE", f"{booking_2}?user_id={CANARY_USER_2}", 409, headers=AGENT)
        hit("DELETE", f"{booking_2}?user_id={CANARY_USER}", 204, headers=AGENT)
        # A hold by the canary user (with a canary Idempotency-Key), read, then released.
        held = hit(
            "POST",
            f"{API}/holds",
            201,
            body={"doctor_id": CANARY_DOCTOR, "fecha_hora": slot_1, "user_id": CANARY_USER},
            headers={**AGENT, "Idempotency-Key": f"{CANARY}-key"},
        )
        hit("GET", f"{API}/holds/{held['hold_id']}", 200, headers=AGENT)
        hit("DELETE", f"{API}/holds/{held['hold_id']}", 204, headers=AGENT)
        hit("DELETE", f"{doctor}/schedules/{slot_1}", 204, headers=ADMIN)
        session = f"{API}/sessions/{CANARY_USER}"
        hit("PUT", session, (200, 201), body={"data": {"nota": CANARY_SESSION}}, headers=AGENT)
        assert hit("GET", session, 200, headers=AGENT)["data"] == {"nota": CANARY_SESSION}
        hit("PATCH", session, 200, body={"data": {"extra": CANARY_SESSION}}, headers=AGENT)
        hit("PUT", session, 422, body={"data": {}, CANARY_FIELD: CANARY_SESSION}, headers=AGENT)
        hit("DELETE", session, 204, headers=AGENT)
        hit("GET", session, 404, headers=AGENT)
        hit("GET", f"{API}/users/{CANARY_USER}/appointments", 401)
        hit("GET", f"{API}/admin/tables", 403, headers=AGENT)
        hit("GET", f"{API}/admin/tables", 200, headers=ADMIN)
        hit("DELETE", doctor, 204, headers=ADMIN)
        if canary_env["HEALTH_API_STORAGE"] == "sqlite":  # the demo set is slow to load on moto
            hit("POST", f"{API}/admin/seed", 200, headers=ADMIN)
            hit("DELETE", f"{API}/admin/seed", 200, headers=ADMIN)
        else:
            hit("DELETE", f"{API}/admin/seed", 200, headers=ADMIN)
        hit("GET", f"/no-such-page/{CANARY_USER}?q={CANARY_QUERY}", 404)

        document = hit("GET", "/openapi.json", 200)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        output = server.stdout() + server.stderr()

    # Every operation of the document was called (its access line names the route template).
    operations = {
        (method.upper(), path.replace("{", "<").replace("}", ">"))
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    if canary_env["HEALTH_API_STORAGE"] != "sqlite":
        operations.discard(("POST", f"{API}/admin/seed"))  # the demo set is slow on moto
    logged = {(r["method"], r["route"]) for r in server.access_lines()}
    assert operations <= logged, sorted(operations - logged)
    assert output.strip(), "nothing was captured: the check below would prove nothing"
    assert "health_api.access" in output
    for canary in (
        CANARY,
        CANARY_USER,
        CANARY_DOCTOR,
        CANARY_MOTIVO,
        CANARY_SESSION,
        CANARY_QUERY,
        CANARY_FIELD,
    ):
        assert canary not in output, f"{canary} leaked into the server's output"
    for line in output.splitlines():
        if line.strip():
            json.loads(line)


@contextlib.contextmanager
def running_server(env: dict[str, str], tmp_path: Path) -> Iterator[procs.Gunicorn]:
    with procs.running(env, tmp_path / "logs") as server:
        yield server
