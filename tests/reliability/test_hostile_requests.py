"""Hostile requests through real gunicorn (``tests/ops/processes.py``), where the wire matters:
oversized and deeply nested bodies, limits out of range, forged or foreign cursors, and path
values gunicorn and werkzeug decode. Each is a quick 4xx problem, never a 5xx, and the worker
keeps serving.

The auth matrix, 413 / 415, nested JSON, cursors and path ids are also covered in-process in
tests/api/test_auth_matrix.py and tests/api/test_errors.py; here they go through the real server.
Every body is checked for leaks (``hygiene.assert_clean``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from tests.ops import procs
from tests.ops.procs import ADMIN, AGENT
from tests.reliability.hygiene import API, QUICK, assert_clean, call


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
