"""The real server: ``gunicorn -c gunicorn.conf.py wsgi:app`` on a free port, on the embedded
SQLite store and on DynamoDB (AWS's DynamoDB Local over HTTP).

- Its output is JSON lines only, with exactly one access line per request carrying the route
  template (never the path, never a query string) and no patient data anywhere.
- SIGTERM while a request is stuck in storage lets that request finish (201, and the booking is
  there after a restart) and the master exits 0 well inside ``graceful_timeout``.

The slow request needs no hook in the app: on SQLite the test itself holds the database's write
lock (``BEGIN IMMEDIATE``) so the booking waits in SQLite's busy timeout; on DynamoDB a gate in a
TCP proxy in front of DynamoDB Local holds the storage call back.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.ops import procs
from tests.ops.procs import ADMIN, AGENT, call, running, send

CANARY_MOTIVO = "CANARY-motivo-7f3a"
CANARY_SESSION = "CANARY-session-9b1c"
CANARY_USER = "CANARY-user-5d2e"
CANARY_QUERY = "CANARY-query-3e8a"
CANARY_FIELD = "CANARY-field-c41d"
CANARIES = (CANARY_MOTIVO, CANARY_SESSION, CANARY_USER, CANARY_QUERY, CANARY_FIELD)
GRACEFUL_TIMEOUT = 20
HOLD_AFTER_TERM = 1.0
BOOKING_ROUTE = "/api/v1/doctors/<doctor_id>/schedules/<fecha_hora>/booking"


@pytest.fixture(params=["sqlite", "dynamodb-local"])
def storage_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The server environment on each backend (tables created on DynamoDB Local)."""
    if request.param == "sqlite":
        (tmp_path / "data").mkdir()
        return procs.server_env(procs.sqlite_env(tmp_path / "data" / "h.db"))
    endpoint = request.getfixturevalue("dynamodb_local")
    env = procs.server_env(procs.dynamodb_env(endpoint, f"ops{uuid.uuid4().hex[:8]}-"))
    procs.create_tables(env)
    return env


def test_one_json_access_line_per_request_and_no_patient_data(
    storage_env: dict[str, str], tmp_path: Path
) -> None:
    made: list[tuple[str, str, str, str | None, int, str | None]] = []

    def request(
        method: str,
        path: str,
        route: str | None,
        status: int,
        role: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs,
    ) -> procs.Response:
        request_id = f"ops-{len(made)}-{uuid.uuid4().hex[:8]}"
        response = call(
            server.port,
            method,
            path,
            headers={**(headers or {}), "X-Request-ID": request_id},
            **kwargs,
        )
        assert response.status == status, (method, path, response.body)
        assert response.headers["x-request-id"] == request_id
        made.append((request_id, method, path, route, status, role))
        return response

    with running(storage_env, tmp_path / "logs") as server:
        request("GET", "/healthz", "/healthz", 200)
        request("GET", "/readyz", "/readyz", 200)
        request("POST", "/api/v1/admin/seed", "/api/v1/admin/seed", 200, "admin", ADMIN)
        free = request(
            "GET",
            "/api/v1/availability?especialidad=cardiologia&limit=1",
            "/api/v1/availability",
            200,
            "agent",
            AGENT,
        ).body["items"][0]
        request(
            "GET",
            f"/api/v1/doctors?especialidad={CANARY_QUERY}&limit=5",
            "/api/v1/doctors",
            200,
            "agent",
            AGENT,
        )
        booking = procs.booking_path(free["doctor_id"], free["fecha_hora"])
        booked = request(
            "PUT",
            booking,
            BOOKING_ROUTE,
            201,
            "agent",
            AGENT,
            body={"user_id": CANARY_USER, "motivo": CANARY_MOTIVO},
        )
        assert booked.body["motivo"] == CANARY_MOTIVO
        # A refused body (unknown field) must not be echoed into the log either.
        request(
            "PUT",
            booking,
            BOOKING_ROUTE,
            422,
            "agent",
            AGENT,
            body={"user_id": CANARY_USER, "motivo": CANARY_MOTIVO, CANARY_FIELD: 1},
        )
        session_path = f"/api/v1/sessions/{CANARY_USER}"
        request(
            "PUT",
            session_path,
            "/api/v1/sessions/<user_id>",
            200,
            "agent",
            AGENT,
            body={"data": {"nota": CANARY_SESSION}},
        )
        read = request("GET", session_path, "/api/v1/sessions/<user_id>", 200, "agent", AGENT)
        assert read.body["data"] == {"nota": CANARY_SESSION}
        request(
            "PUT",
            session_path,
            "/api/v1/sessions/<user_id>",
            400,
            "agent",
            AGENT,
            raw=b'{"data": {"nota": "' + CANARY_SESSION.encode() + b'"',
        )
        listed = request(
            "GET",
            f"/api/v1/users/{CANARY_USER}/appointments?limit=5",
            "/api/v1/users/<user_id>/appointments",
            200,
            "agent",
            AGENT,
        )
        assert [item["motivo"] for item in listed.body["items"]] == [CANARY_MOTIVO]
        request(
            "GET",
            f"/api/v1/users/{CANARY_USER}/appointments",
            "/api/v1/users/<user_id>/appointments",
            401,
        )
        request("GET", f"/no-such-page/{CANARY_USER}?q={CANARY_QUERY}", None, 404)

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=GRACEFUL_TIMEOUT + 5) == 0
        stdout, stderr = server.stdout(), server.stderr()

    # Every line on stdout (and on stderr, if anything is there) is one JSON object.
    records = []
    for stream, text in (("stdout", stdout), ("stderr", stderr)):
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                pytest.fail(f"{stream} line is not JSON: {line!r}")
            assert isinstance(record, dict), line
            assert {"level", "logger", "message"} <= record.keys(), line
            records.append(record)
    assert any(r["logger"] == "gunicorn.error" for r in records), "gunicorn's own lines"

    # Exactly one access line per request made (readiness probes included), with the template.
    access = [r for r in records if r["logger"] == "health_api.access"]
    probes = [r for r in access if r["request_id"].startswith(procs.READY_PREFIX)]
    assert len(probes) == server.probes
    ours = [r for r in access if not r["request_id"].startswith(procs.READY_PREFIX)]
    assert len(ours) == len(made), [r["request_id"] for r in ours]
    by_id = {r["request_id"]: r for r in ours}
    assert len(by_id) == len(ours), "a request was logged twice"
    for request_id, method, path, route, status, role in made:
        record = by_id[request_id]
        assert record["method"] == method
        assert record["route"] == route, (path, record)
        assert record["status"] == status
        assert record["role"] == role
        assert isinstance(record["duration_ms"], int | float)
        raw_path = path.split("?")[0]
        if raw_path != route:
            assert raw_path not in stdout, f"raw path {raw_path} logged"

    # No patient data and no query string anywhere in the output.
    output = stdout + stderr
    for canary in CANARIES:
        assert canary not in output, f"{canary} leaked into the logs"
    for fragment in ("especialidad=", "limit=", "?q="):
        assert fragment not in output, f"a query string ({fragment}) was logged"
    for record in access:
        assert "?" not in str(record.get("route")), record


# --- SIGTERM while a request is slow ------------------------------------------------------------


@pytest.fixture
def slow_storage(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[dict[str, str], Callable[[], object], Callable[[], None], Callable[[], None]]]:
    """(server env, hold, wait until a storage call is stuck, release) for each backend."""
    if request.param == "sqlite":
        (tmp_path / "data").mkdir()
        db = tmp_path / "data" / "h.db"
        holder: list[sqlite3.Connection] = []

        def hold() -> None:
            conn = sqlite3.connect(db, isolation_level=None, timeout=5)
            holder.append(conn)
            conn.execute("BEGIN IMMEDIATE")  # the write lock: the booking's BEGIN IMMEDIATE waits

        def release() -> None:
            for conn in holder:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")

        try:
            # Without a way to see SQLite's busy wait, "stuck" is proved at the socket level.
            yield procs.server_env(procs.sqlite_env(db)), hold, lambda: None, release
        finally:
            for conn in holder:
                conn.close()
        return
    endpoint = request.getfixturevalue("dynamodb_local")
    host, port = endpoint.removeprefix("http://").split(":")
    proxy = procs.GatedProxy(host, int(port))
    prefix = f"ops{uuid.uuid4().hex[:8]}-"
    procs.create_tables(procs.server_env(procs.dynamodb_env(endpoint, prefix)))
    try:
        yield (
            procs.server_env(procs.dynamodb_env(proxy.url, prefix)),
            proxy.open.clear,
            lambda: procs.wait_for(proxy.held.is_set, 10, "the storage call to reach the gate"),
            proxy.open.set,
        )
    finally:
        proxy.close()


@pytest.mark.parametrize("slow_storage", ["sqlite", "dynamodb-local"], indirect=True)
def test_sigterm_lets_a_slow_request_finish(slow_storage, tmp_path: Path) -> None:
    env, hold, wait_stuck, release = slow_storage
    user = f"slow-{uuid.uuid4().hex[:8]}"
    result: dict[str, object] = {}
    with running(env, tmp_path / "logs") as server:
        doctor_id, fecha_hora = procs.new_slot(server.port)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.connect()
        client_port = conn.sock.getsockname()[1]

        def book() -> None:
            try:
                result["response"] = send(
                    conn,
                    "PUT",
                    procs.booking_path(doctor_id, fecha_hora),
                    {"user_id": user, "motivo": "control"},
                    {**AGENT, "X-Request-ID": "slow-booking"},
                )
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                result["error"] = exc
            finally:
                conn.close()

        hold()
        client = threading.Thread(target=book, daemon=True)
        client.start()
        try:
            procs.wait_for(
                lambda: procs.request_taken_by_worker(server.port, client_port),
                10,
                "a worker to read the booking request",
            )
            wait_stuck()
            server.send_signal(signal.SIGTERM)
            term_at = time.monotonic()
            # Both workers have left their accept loop: the server is shutting down for real.
            procs.wait_for(
                lambda: not procs.accepting_workers(server), 5, "the workers to stop accepting"
            )
            # Keep the request in flight for a while into the shutdown (a real wait, on purpose:
            # the server must neither cut it off nor exit under it).
            procs.wait_for(lambda: time.monotonic() - term_at >= HOLD_AFTER_TERM, 5, "the hold")
            assert client.is_alive(), f"the booking ended before the lock was released: {result}"
            assert server.proc.poll() is None, "the master exited with a request in flight"
        finally:
            release()
        client.join(timeout=GRACEFUL_TIMEOUT)
        assert not client.is_alive(), "the booking never completed"
        assert "error" not in result, result
        response = result["response"]
        assert response.status == 201, response.body
        code = server.wait(timeout=GRACEFUL_TIMEOUT + 5)
        exited_after = time.monotonic() - term_at
        assert code == 0, server.stdout()
        assert exited_after < GRACEFUL_TIMEOUT, exited_after
        line = next(r for r in server.access_lines() if r["request_id"] == "slow-booking")
        assert line["status"] == 201
        assert line["route"] == BOOKING_ROUTE
        assert line["duration_ms"] >= HOLD_AFTER_TERM * 1000

    with running(env, tmp_path / "logs") as again:
        booked = procs.appointments(again.port, user)
        assert [(s["doctor_id"], s["fecha_hora"], s["motivo"]) for s in booked] == [
            (doctor_id, fecha_hora, "control")
        ]
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=GRACEFUL_TIMEOUT + 5) == 0


def test_malformed_requests_leave_no_patient_data_in_the_log(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    env = procs.server_env(procs.sqlite_env(tmp_path / "data" / "h.db"))
    with running(env, tmp_path / "logs") as server:
        for line in (
            f"GET /api/v1/sessions/{CANARY_USER}\r\n\r\n",  # no HTTP version
            f"GET /api/v1/users/{CANARY_USER}/appointments?q={CANARY_QUERY}\x00 HTTP/1.1\r\n\r\n",
        ):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(line.encode())
                assert sock.recv(64).startswith(b"HTTP/1.1 400")
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=GRACEFUL_TIMEOUT + 5) == 0
        output = server.stdout() + server.stderr()
    for record in output.splitlines():
        json.loads(record)
    assert CANARY_USER not in output
    assert CANARY_QUERY not in output
