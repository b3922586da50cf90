"""Fault injection: what DESIGN.md's failure rules promise when the storage misbehaves.

- DynamoDB throttling and 5xx, injected into botocore with a ``before-send`` hook, so that
  botocore's own ``standard`` retry machinery (and its real, jittered backoff) runs: 3 attempts,
  then a 503 problem with ``Retry-After`` that says nothing about botocore, well inside
  gunicorn's 30 s worker timeout. A transient error followed by success is a 2xx.
- The DynamoDB endpoint refusing connections, or accepting them and never answering (a real
  TCP proxy in front of a moto server, switched at run time): 503 within the configured
  timeouts, ``/readyz`` 503, and recovery without restarting the app.
- The SQLite file locked by another process past the busy timeout: 503, nothing half-written,
  and the same requests succeed once the lock is gone.
- A read-only or full SQLite store: a start-up error naming the file, or 503 per write, never a
  silent success, and nothing half-written.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.awsrequest import AWSResponse
from flask import Flask
from flask.testing import FlaskClient

from health_api import create_app
from health_api.config import Settings
from health_api.domain.errors import StorageUnavailableError
from health_api.storage.dynamodb.client import build_client
from health_api.storage.dynamodb.storage import DynamoStorage
from health_api.storage.sqlite import connection as sqlite_connection
from health_api.storage.sqlite.storage import SqliteStorage
from tests.api.conftest import ADMIN, AGENT, storage_settings
from tests.api.helpers import (
    MON_0900,
    MON_0930,
    add_slots,
    assert_problem,
    book,
    create_doctor,
)
from tests.conftest import create_dynamodb_tables

ATTEMPTS = 3  # botocore standard mode, total_max_attempts=3 (client.build_client)
# Standard mode sleeps rand(0, 1) * base * 2 ** i before retry i + 1 (base 1 s for throttling,
# 25 ms for other DynamoDB errors): at most 1 s + 2 s over the 2 retries.
MAX_BACKOFF = 1.0 + 2.0
GUNICORN_TIMEOUT = 30.0
# Anything botocore or DynamoDB would say in an error: none of it may reach a client.
BACKEND_WORDS = (
    "botocore",
    "boto3",
    "Exception",
    "ThrottlingException",
    "ProvisionedThroughput",
    "InternalServerError",
    "ServiceUnavailable",
    "amazonaws",
    "127.0.0.1",
    "sqlite",
    "Traceback",
)
DOCTOR = "doc-ana"
USER = "user-fault-1"
FIGURES: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def report_figures(request) -> Iterator[None]:
    """Print the measured attempts and wall times once the module has run (shown with -s)."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and FIGURES:
        reporter.write_line("")
        for name, figure in FIGURES.items():
            reporter.write_line(f"fault {name}: {figure}")


def assert_unavailable(response) -> dict:
    """A 503 storage problem with ``Retry-After`` that leaks nothing about the backend."""
    body = assert_problem(response, 503)
    assert int(response.headers["Retry-After"]) >= 1
    text = response.get_data(as_text=True)
    for word in BACKEND_WORDS:
        assert word.lower() not in text.lower(), (word, text)
    return body


def readyz(app: Flask, client: FlaskClient):
    """``/readyz`` computed now, not from its 5 s cache."""
    app.extensions.get("health_api.ready", {}).clear()
    return client.get("/readyz")


def timed(call, *args, **kwargs):
    started = time.monotonic()
    response = call(*args, **kwargs)
    return response, time.monotonic() - started


def slot_state(client: FlaskClient, fecha_hora: str = MON_0900) -> dict:
    """The slot as the schedule listing shows it."""
    response = client.get(
        f"/api/v1/doctors/{DOCTOR}/schedules",
        query_string={"desde": "2030-03-04T00:00:00Z", "hasta": "2030-03-05T00:00:00Z"},
        headers=AGENT,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    (slot,) = [s for s in response.get_json()["items"] if s["fecha_hora"] == fecha_hora]
    return slot


def put_session(client: FlaskClient, user_id: str = USER, size: int = 0):
    data = {"paso": "triaje", "notas": "x" * size}
    return client.put(f"/api/v1/sessions/{user_id}", json={"data": data}, headers=AGENT)


def create_doctor_response(client: FlaskClient):
    body = {"doctor_id": "doc-new", "nombre": "Dr. Nuevo", "especialidad": "Pediatría"}
    return client.post("/api/v1/doctors", json=body, headers=ADMIN)


def seed(client: FlaskClient) -> None:
    create_doctor(client, DOCTOR)
    add_slots(client, DOCTOR, MON_0900, MON_0930)


# --- DynamoDB: throttling and 5xx injected into botocore --------------------------------------


class _Body(io.BytesIO):
    """A raw body as urllib3 would hand it to botocore."""

    def stream(self, **_kwargs):
        yield self.getvalue()


def aws_error(request, status: int, code: str) -> AWSResponse:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": code})
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "fault"}
    return AWSResponse(request.url, status, headers, _Body(body.encode()))


@pytest.fixture
def dynamo_app(moto_server_url, table_prefix, tmp_path) -> Iterator[tuple[Flask, object]]:
    """The app on a DynamoStorage on a moto server, seeded; and the botocore client it uses.

    moto over HTTP, not in-process: in-process moto answers from its own ``before-send``
    handler, which runs (and writes) even when an injected handler has already answered.
    """
    settings = storage_settings(
        "dynamodb", tmp_path, dynamodb_endpoint_url=moto_server_url, table_prefix=table_prefix
    )
    create_dynamodb_tables(settings)
    aws = build_client(settings.aws_region, settings.dynamodb_endpoint_url)
    storage = DynamoStorage.on_client(aws, settings)
    app = create_app({"settings": settings, "storage": storage})
    seed(app.test_client())
    yield app, aws
    storage.close()


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ProvisionedThroughputExceededException", 400),
        ("ThrottlingException", 400),
        ("InternalServerError", 500),
        ("ServiceUnavailable", 503),
    ],
)
def test_errors_that_outlive_the_retries_are_a_503_well_inside_the_worker_timeout(
    dynamo_app, code, status
) -> None:
    app, aws = dynamo_app
    client = app.test_client()
    attempts: list[str] = []

    def fail(request, event_name, **_kwargs):
        attempts.append(event_name.rsplit(".", 1)[-1])
        return aws_error(request, status, code)

    aws.meta.events.register("before-send.dynamodb.*", fail)
    response, elapsed = timed(book, client, DOCTOR, MON_0900, USER, "control")
    aws.meta.events.unregister("before-send.dynamodb.*", fail)

    assert attempts == ["UpdateItem"] * ATTEMPTS  # the first try and 2 retries, one operation
    assert_unavailable(response)
    assert elapsed < MAX_BACKOFF + 2.0 < GUNICORN_TIMEOUT
    FIGURES[f"dynamodb {code}"] = f"{len(attempts)} attempts, 503 after {elapsed:.2f} s"
    # Nothing was written: the slot is still free and can be booked now.
    assert slot_state(client)["estado"] == "disponible"
    assert book(client, DOCTOR, MON_0900, USER).status_code == 201


@pytest.mark.parametrize(
    ("code", "status"), [("ThrottlingException", 400), ("InternalServerError", 500)]
)
def test_one_transient_error_is_retried_and_answered(dynamo_app, code, status) -> None:
    app, aws = dynamo_app
    client = app.test_client()
    attempts: list[str] = []

    def fail_once(request, event_name, **_kwargs):
        attempts.append(event_name.rsplit(".", 1)[-1])
        return aws_error(request, status, code) if len(attempts) == 1 else None

    aws.meta.events.register("before-send.dynamodb.*", fail_once)
    booked = book(client, DOCTOR, MON_0900, USER)
    session = put_session(client)
    aws.meta.events.unregister("before-send.dynamodb.*", fail_once)

    assert booked.status_code == 201, booked.get_data(as_text=True)
    assert booked.get_json()["user_id"] == USER
    assert session.status_code in (200, 201), session.get_data(as_text=True)
    # The booking's UpdateItem twice (the failure, then the retry), then the session's write.
    assert attempts[:2] == ["UpdateItem", "UpdateItem"]
    assert len(attempts) == 3


# --- DynamoDB: an endpoint that refuses, or accepts and never answers ------------------------


class SwitchableProxy:
    """A TCP proxy on 127.0.0.1 in front of an upstream server, switched at run time.

    ``forward`` pumps bytes both ways; ``refuse`` closes the listening socket, so connections
    are refused as on a port nothing listens on; ``blackhole`` accepts and reads but never
    answers. Every switch drops the connections open so far (botocore's pooled ones too).
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.mode = "forward"
        self.port = 0
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._stop = threading.Event()
        threading.Thread(target=self._accept, args=(listener, self._stop), daemon=True).start()

    def _accept(self, listener: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self._track(conn)
            if self.mode == "blackhole":
                threading.Thread(target=self._drain, args=(conn,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                self._close(conn)
                continue
            upstream.settimeout(None)
            self._track(upstream)
            for source, sink in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()
        listener.close()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.append(sock)

    @staticmethod
    def _close(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        self._close(source)
        self._close(sink)

    def _drain(self, conn: socket.socket) -> None:
        try:
            while conn.recv(65536):
                pass  # read the request, never answer it
        except OSError:
            pass

    def _drop_connections(self) -> None:
        with self._lock:
            connections, self._open = self._open, []
        for sock in connections:
            self._close(sock)

    def _stop_listening(self) -> None:
        if self._listener is not None:
            self._stop.set()
            time.sleep(0.1)  # the accept loop closes the socket within one 50 ms tick
            self._listener = None

    def refuse(self) -> None:
        self._stop_listening()
        self._drop_connections()

    def blackhole(self) -> None:
        self.mode = "blackhole"
        self._drop_connections()
        if self._listener is None:
            self._listen()

    def forward(self) -> None:
        self.mode = "forward"
        self._drop_connections()
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        self._stop_listening()
        self._drop_connections()


CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 0.75


@pytest.fixture
def proxied_app(moto_server_url, table_prefix, tmp_path) -> Iterator[tuple[Flask, SwitchableProxy]]:
    """The app built from settings (as in production) on moto, reached through the proxy."""
    direct = storage_settings(
        "dynamodb", tmp_path, dynamodb_endpoint_url=moto_server_url, table_prefix=table_prefix
    )
    create_dynamodb_tables(direct)
    upstream = urlsplit(moto_server_url)
    proxy = SwitchableProxy((upstream.hostname, upstream.port))
    settings: Settings = direct.replace(
        dynamodb_endpoint_url=proxy.url,
        dynamodb_connect_timeout=CONNECT_TIMEOUT,
        dynamodb_read_timeout=READ_TIMEOUT,
    )
    app = create_app({"settings": settings})
    seed(app.test_client())
    yield app, proxy
    app.extensions["health_api.storage"].close()
    proxy.close()


def count_attempts(app: Flask) -> list[str]:
    """Every request botocore sends from now on (each retry too), by operation name."""
    attempts: list[str] = []

    def record(event_name, **_kwargs):
        attempts.append(event_name.rsplit(".", 1)[-1])

    # The storage's one client: the same object every repository uses.
    aws = app.extensions["health_api.storage"]._client
    aws.meta.events.register("before-send.dynamodb.*", record)
    return attempts


def test_the_timeouts_come_from_the_settings(proxied_app) -> None:
    app, _proxy = proxied_app
    config = app.extensions["health_api.storage"]._client.meta.config

    assert (config.connect_timeout, config.read_timeout) == (CONNECT_TIMEOUT, READ_TIMEOUT)
    assert config.retries == {"mode": "standard", "total_max_attempts": ATTEMPTS}


def test_an_endpoint_that_stops_listening_is_a_503_and_recovers_without_restart(
    proxied_app,
) -> None:
    app, proxy = proxied_app
    client = app.test_client()
    assert readyz(app, client).status_code == 200
    attempts = count_attempts(app)

    proxy.refuse()
    response, elapsed = timed(book, client, DOCTOR, MON_0900, USER)
    assert_unavailable(response)
    assert attempts == ["UpdateItem"] * ATTEMPTS
    assert elapsed < ATTEMPTS * CONNECT_TIMEOUT + MAX_BACKOFF + 1.0
    FIGURES["dynamodb refused"] = f"{len(attempts)} attempts, 503 after {elapsed:.2f} s"
    session, _ = timed(put_session, client)
    assert_unavailable(session)
    ready, ready_elapsed = timed(readyz, app, client)
    assert_problem(ready, 503)
    assert ready.headers["Retry-After"]
    assert ready_elapsed < ATTEMPTS * CONNECT_TIMEOUT + MAX_BACKOFF + 1.0

    proxy.forward()
    assert readyz(app, client).status_code == 200
    assert slot_state(client)["estado"] == "disponible"  # the refused booking wrote nothing
    assert client.get(f"/api/v1/sessions/{USER}", headers=AGENT).status_code == 404
    assert book(client, DOCTOR, MON_0900, USER).status_code == 201
    assert put_session(client).status_code in (200, 201)


def test_an_endpoint_that_never_answers_is_a_503_within_the_timeouts_and_recovers(
    proxied_app,
) -> None:
    app, proxy = proxied_app
    client = app.test_client()
    assert readyz(app, client).status_code == 200
    attempts = count_attempts(app)

    proxy.blackhole()
    response, elapsed = timed(book, client, DOCTOR, MON_0900, USER)
    assert_unavailable(response)
    assert attempts == ["UpdateItem"] * ATTEMPTS
    # Each attempt waited out its read timeout; all of them and the backoff stay bounded.
    assert elapsed >= ATTEMPTS * READ_TIMEOUT
    assert elapsed < ATTEMPTS * (CONNECT_TIMEOUT + READ_TIMEOUT) + MAX_BACKOFF + 1.0
    FIGURES["dynamodb silent"] = f"{len(attempts)} attempts, 503 after {elapsed:.2f} s"
    ready, ready_elapsed = timed(readyz, app, client)
    assert_problem(ready, 503)
    assert ready_elapsed < ATTEMPTS * (CONNECT_TIMEOUT + READ_TIMEOUT) + MAX_BACKOFF + 1.0

    proxy.forward()
    assert readyz(app, client).status_code == 200
    assert slot_state(client)["estado"] == "disponible"
    assert book(client, DOCTOR, MON_0900, USER).status_code == 201


@pytest.mark.parametrize("value", ["0", "-1", "20.5", "nan", "inf", "soon"])
def test_a_timeout_that_is_not_bounded_stops_start_up(value) -> None:
    from health_api.config import ConfigError, load_settings

    for variable in ("HEALTH_API_DYNAMODB_CONNECT_TIMEOUT", "HEALTH_API_DYNAMODB_READ_TIMEOUT"):
        with pytest.raises(ConfigError, match=variable):
            load_settings({variable: value})


def test_the_default_timeouts_fit_inside_the_worker_timeout() -> None:
    """The worst case of one DynamoDB call with the defaults: every attempt times out."""
    from health_api.config import load_settings

    settings = load_settings({})
    worst = ATTEMPTS * (settings.dynamodb_connect_timeout + settings.dynamodb_read_timeout)

    assert worst + MAX_BACKOFF < GUNICORN_TIMEOUT


# --- SQLite: another process holds the write lock past the busy timeout ----------------------

BUSY_TIMEOUT_MS = 300
LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
conn.close()
"""


@pytest.fixture
def sqlite_app(tmp_path) -> Iterator[Flask]:
    settings = storage_settings("sqlite", tmp_path)
    storage = SqliteStorage.open(settings, busy_timeout_ms=BUSY_TIMEOUT_MS)
    app = create_app({"settings": settings, "storage": storage})
    seed(app.test_client())
    yield app
    storage.close()


@contextlib.contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    """Another process holds ``BEGIN IMMEDIATE`` on ``path`` until the block ends."""
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert locker.stdout.readline().strip() == "locked"
        yield
    finally:
        locker.stdin.write("\n")
        locker.stdin.close()
        assert locker.wait(timeout=10) == 0


def test_a_file_locked_by_another_process_is_a_503_and_nothing_is_half_written(
    sqlite_app, tmp_path
) -> None:
    client = sqlite_app.test_client()

    with write_lock_held(tmp_path / "health.db"):
        booked, booked_elapsed = timed(book, client, DOCTOR, MON_0900, USER, "control")
        session, session_elapsed = timed(put_session, client)
        # Reads do not wait for the writer (WAL).
        assert slot_state(client)["estado"] == "disponible"

    for response, elapsed in ((booked, booked_elapsed), (session, session_elapsed)):
        assert_unavailable(response)
        assert BUSY_TIMEOUT_MS / 1000 <= elapsed < BUSY_TIMEOUT_MS / 1000 + 2.0
    FIGURES["sqlite locked"] = f"503 after {booked_elapsed:.2f} s (busy timeout 0.30 s)"
    assert slot_state(client)["estado"] == "disponible"
    assert "user_id" not in slot_state(client)
    assert client.get(f"/api/v1/sessions/{USER}", headers=AGENT).status_code == 404

    booked = book(client, DOCTOR, MON_0900, USER, "control")
    assert booked.status_code == 201, booked.get_data(as_text=True)
    assert put_session(client).status_code in (200, 201)
    assert client.get(f"/api/v1/sessions/{USER}", headers=AGENT).status_code == 200


# --- SQLite: read-only and full -------------------------------------------------------------


def _mount(*args: str) -> bool:
    try:
        return subprocess.run(["mount", *args], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@contextlib.contextmanager
def small_filesystem(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (root only; the test is skipped otherwise)."""
    where.mkdir()
    if os.geteuid() != 0 or not _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)):
        pytest.skip("needs root to mount a tmpfs")
    try:
        yield where
    finally:
        if not _mount_undo(where):
            subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def _mount_undo(where: Path) -> bool:
    return subprocess.run(["umount", str(where)], capture_output=True).returncode == 0


def make_read_only(directory: Path) -> None:
    """Make ``directory`` and its files unwritable, for root too when it is a mount."""
    if os.geteuid() == 0:
        assert _mount("-o", "remount,ro", str(directory)), "cannot remount read-only"
    else:
        for child in directory.iterdir():
            child.chmod(0o444)
        directory.chmod(0o555)


@pytest.fixture
def writable_dir(tmp_path) -> Iterator[Path]:
    """A directory that ``make_read_only`` can really lock (a tmpfs when running as root)."""
    if os.geteuid() == 0:
        with small_filesystem(tmp_path / "mnt", "4m") as where:
            yield where
    else:
        where = tmp_path / "data"
        where.mkdir()
        yield where
        where.chmod(0o755)


def test_a_read_only_database_is_a_clear_startup_error(writable_dir, tmp_path) -> None:
    settings = storage_settings("sqlite", tmp_path).replace(sqlite_path=writable_dir / "health.db")
    app = create_app({"settings": settings})
    client = app.test_client()
    seed(client)
    app.extensions["health_api.storage"].release()
    make_read_only(writable_dir)

    # A running process whose store turns read-only: each write is a 503, none a 2xx.
    assert_unavailable(book(client, DOCTOR, MON_0900, USER))
    assert_unavailable(put_session(client))
    assert_unavailable(create_doctor_response(client))
    app.extensions["health_api.storage"].close()
    # A process starting on it refuses to start, naming the file and the cause.
    with pytest.raises(StorageUnavailableError) as refused:
        create_app({"settings": settings})

    message = str(refused.value)
    assert str(writable_dir / "health.db") in message
    assert "read-only" in message, message


def test_a_full_database_is_a_503_and_nothing_is_half_written(sqlite_app, monkeypatch) -> None:
    """SQLITE_FULL through the API: the file may not grow by one page (``max_page_count``)."""
    client = sqlite_app.test_client()
    original = sqlite_connection.connect

    def no_room(*args, **kwargs):
        conn = original(*args, **kwargs)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    sqlite_app.extensions["health_api.storage"].release()
    monkeypatch.setattr(sqlite_connection, "connect", no_room)
    many = [{"fecha_hora": f"2030-04-{1 + n // 20:02d}T{n % 20:02d}:00:00Z"} for n in range(500)]

    added = client.post(f"/api/v1/doctors/{DOCTOR}/schedules", json={"slots": many}, headers=ADMIN)
    session = put_session(client, size=60_000)

    assert_unavailable(added)
    assert_unavailable(session)
    monkeypatch.setattr(sqlite_connection, "connect", original)
    sqlite_app.extensions["health_api.storage"].release()  # drop the capped connection
    listed = client.get(
        f"/api/v1/doctors/{DOCTOR}/schedules",
        query_string={"desde": "2030-04-01T00:00:00Z", "hasta": "2030-05-01T00:00:00Z"},
        headers=AGENT,
    )
    assert listed.get_json()["items"] == []  # the batch was rolled back as a whole
    assert client.get(f"/api/v1/sessions/{USER}", headers=AGENT).status_code == 404
    assert client.post(
        f"/api/v1/doctors/{DOCTOR}/schedules", json={"slots": many}, headers=ADMIN
    ).get_json() == {"created": 500, "skipped": 0}
    assert put_session(client, size=60_000).status_code in (200, 201)


def test_a_really_full_disk_is_a_503_and_the_store_recovers(tmp_path) -> None:
    """ENOSPC from a tiny tmpfs (root only): a write that does not fit is a 503, not a 2xx."""
    with small_filesystem(tmp_path / "mnt", "1m") as where:
        settings = storage_settings("sqlite", tmp_path).replace(sqlite_path=where / "health.db")
        app = create_app({"settings": settings})
        client = app.test_client()
        seed(client)
        filler = where / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as handle:
            while True:  # take every free block
                handle.write(b"\0" * 4096)
                handle.flush()

        session = put_session(client, size=60_000)
        booked = book(client, DOCTOR, MON_0930, USER)

        assert_unavailable(session)
        # A booking rewrites a page in place; it may fit or not, but never half-succeed.
        assert booked.status_code in (201, 503), booked.get_data(as_text=True)
        filler.unlink()
        assert client.get(f"/api/v1/sessions/{USER}", headers=AGENT).status_code == 404
        expected = "reservado" if booked.status_code == 201 else "disponible"
        assert slot_state(client, MON_0930)["estado"] == expected
        assert put_session(client, size=60_000).status_code in (200, 201)
        app.extensions["health_api.storage"].close()
