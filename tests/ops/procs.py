"""Helpers for the process-level tests: a real gunicorn on a free port, a tiny HTTP client, and
Linux /proc probes that tell when a request is really inside a worker.

Every server runs in its own session (so in its own process group): ``kill_group`` reaches the
master and its workers together, as a container runtime or ``kill -9 -<pgid>`` would.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "ops-admin-key-0123456789abcdef"
AGENT_KEY = "ops-agent-key-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
AGENT = {"Authorization": f"Bearer {AGENT_KEY}"}
KEY_ID_SECRET = "ops-key-id-secret-0123456789abcdef"
READY_PREFIX = "ready-probe-"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(
    predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.02
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


@contextlib.contextmanager
def serving(
    command: list[str], env: dict[str, str], port: int, log: Path, path: str = "/readyz"
) -> Iterator[subprocess.Popen]:
    """Run ``command`` (output to ``log``) from the repository until ``path`` on ``port``
    answers 200; stop it afterwards (SIGTERM, then kill). A process that exits while waited
    for fails the test with its log."""
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
    try:

        def answering() -> bool:
            assert server.poll() is None, log.read_text()
            with contextlib.suppress(OSError):
                return call(port, "GET", path).status == 200
            return False

        wait_for(answering, 30, f"{path} on port {port}")
        yield server
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


def sqlite_env(db_path: Path) -> dict[str, str]:
    """The storage variables for the embedded store at ``db_path``."""
    return {"HEALTH_API_STORAGE": "sqlite", "HEALTH_API_SQLITE_PATH": str(db_path)}


def dynamodb_env(endpoint: str, prefix: str) -> dict[str, str]:
    """The storage variables for DynamoDB at ``endpoint`` (DynamoDB Local or moto's server)
    under table ``prefix``."""
    return {
        "HEALTH_API_STORAGE": "dynamodb",
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "HEALTH_API_TABLE_PREFIX": prefix,
    }


def server_env(storage: dict[str, str], **extra: str) -> dict[str, str]:
    """The process environment for gunicorn (and the CLI) on ``storage``: the test's own
    environment (fake AWS credentials from the autouse fixture) plus the service settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("HEALTH_API_", "GUNICORN_", "AWS_ENDPOINT_URL"))
        and name not in {"DYNAMODB_ENDPOINT_URL", "PORT", "HOST", "LOG_LEVEL"}
    }
    env.update(
        HOST="127.0.0.1",
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="4",
        GUNICORN_GRACEFUL_TIMEOUT="20",
        HEALTH_API_KEYS=f"admin={ADMIN_KEY},agent={AGENT_KEY}",
        HEALTH_API_RATE_LIMIT="100000/minute",
        HEALTH_API_AUTH_FAILURE_LIMIT="100000/minute",
        HEALTH_API_KEY_ID_SECRET=KEY_ID_SECRET,
        ENVIRONMENT="test",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(storage)
    env.update(extra)
    return env


def create_tables(env: dict[str, str]) -> None:
    """``python setup_tables.py --endpoint-url ...`` with the server's environment."""
    result = subprocess.run(
        [
            sys.executable,
            "setup_tables.py",
            "--endpoint-url",
            env["AWS_ENDPOINT_URL_DYNAMODB"],
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@dataclass
class Response:
    """What a call got back."""

    status: int
    body: Any
    headers: dict[str, str]


def call(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    timeout: float = 30,
) -> Response:
    """One HTTP request on a fresh connection (``raw`` sends bytes as they are)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        return send(conn, method, path, body, headers, raw)
    finally:
        conn.close()


def send(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> Response:
    """One request on ``conn`` (connected or not)."""
    all_headers = dict(headers or {})
    payload = raw
    if body is not None:
        payload = json.dumps(body).encode()
    if payload is not None:
        all_headers.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=payload, headers=all_headers)
    response = conn.getresponse()
    data = response.read()
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = data
    return Response(response.status, parsed, {k.lower(): v for k, v in response.getheaders()})


@dataclass
class Gunicorn:
    """One ``gunicorn -c gunicorn.conf.py wsgi:app`` with its output in files."""

    env: dict[str, str]
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    probes: int = 0  # readiness requests that reached the app (each writes an access line)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        tag = uuid.uuid4().hex[:6]
        self.stdout_path = self.workdir / f"gunicorn-{self.port}-{tag}.out"
        self.stderr_path = self.workdir / f"gunicorn-{self.port}-{tag}.err"

    def start(self, timeout: float = 20) -> Gunicorn:
        """Start the server and wait until ``/healthz`` answers 200."""
        env = dict(self.env, PORT=str(self.port))
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [*gunicorn_command(), "-c", "gunicorn.conf.py", "wsgi:app"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group: killpg reaches the workers
            )
        wait_for(self._healthy, timeout, f"gunicorn on port {self.port} to answer /healthz")
        return self

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(
                f"gunicorn exited with {self.proc.returncode} before it was ready:\n"
                f"{self.stdout()}\n{self.stderr()}"
            )
        probe = f"{READY_PREFIX}{self.probes}"
        try:
            response = call(self.port, "GET", "/healthz", headers={"X-Request-ID": probe})
        except OSError:
            return False
        self.probes += 1
        return response.status == 200

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def worker_pids(self) -> list[int]:
        """The master's live children (its workers)."""
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except OSError:
            return []

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the master only (how gunicorn is told to stop)."""
        os.kill(self.pid, sig)

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the master and every worker at once."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def wait(self, timeout: float) -> int:
        """Wait for the master to exit; its exit code."""
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def group_gone(self) -> bool:
        """True when no process of the server's group is left."""
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return True
        # Reparented workers that died are reaped by init; a zombie still counts for kill(0).
        return all(_is_zombie(pid) for pid in _group_members(self.pid))

    def cleanup(self) -> None:
        """Leave nothing running, whatever state the test left the server in."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            # The master is not reaped yet, so its pid (the group id) is still ours.
            self.kill_group(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        elif any(not _is_zombie(pid) for pid in _group_members(self.pid)):
            # Workers that outlived their master: a group with live members keeps its id, so
            # it is still this server's group.
            self.kill_group(signal.SIGKILL)

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def log_lines(self) -> list[str]:
        return [line for line in self.stdout().splitlines() if line.strip()]

    def access_lines(self) -> list[dict[str, Any]]:
        """The app's access records, probes included."""
        records = []
        for line in self.log_lines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict) and record.get("logger") == "health_api.access":
                    records.append(record)
        return records


def gunicorn_command() -> list[str]:
    """The gunicorn script next to this interpreter (the venv's), else ``python -m``."""
    script = Path(sys.executable).with_name("gunicorn")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gunicorn"]


@contextlib.contextmanager
def running(env: dict[str, str], workdir: Path) -> Iterator[Gunicorn]:
    """A started server, always cleaned up when the block ends."""
    server = Gunicorn(env, workdir)
    try:
        yield server.start()
    finally:
        server.cleanup()


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            fields_after_name = stat.rsplit(")", 1)[1].split()
            if int(fields_after_name[2]) == pgid:
                members.append(int(entry.name))
    return members


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}


# --- /proc probes -------------------------------------------------------------------------------


TCP_ESTABLISHED = "01"
TCP_LISTEN = "0A"


def _tcp_entries() -> list[tuple[int, int, str, int, int]]:
    """(local port, remote port, state, rx_queue, inode) of every IPv4 TCP socket."""
    entries = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        local, remote, state, queues, inode = parts[1], parts[2], parts[3], parts[4], parts[9]
        local_port, remote_port = int(local.split(":")[1], 16), int(remote.split(":")[1], 16)
        rx_queue = int(queues.split(":")[1], 16)
        entries.append((local_port, remote_port, state, rx_queue, int(inode)))
    return entries


def request_taken_by_worker(server_port: int, client_port: int) -> bool:
    """True when the server side of the connection from ``client_port`` exists and a worker
    has read every byte the client sent: the request is inside the app, not in a queue."""
    for local, remote, state, rx_queue, _ in _tcp_entries():
        if local == server_port and remote == client_port and state == TCP_ESTABLISHED:
            return rx_queue == 0
    return False


def _listener_inode(port: int) -> int | None:
    for local, _, state, _, inode in _tcp_entries():
        if local == port and state == TCP_LISTEN:
            return inode
    return None


def accepting_workers(server: Gunicorn) -> list[int]:
    """The workers whose event loop still watches the listening socket (epoll registration,
    read from /proc/<pid>/fdinfo). A gthread worker unregisters it the moment it starts its
    graceful shutdown, so an empty list means every worker has seen SIGTERM."""
    inode = _listener_inode(server.port)
    if inode is None:
        return []
    accepting = []
    for pid in server.worker_pids():
        with contextlib.suppress(OSError):
            listener_fds = set()
            epoll_fds = []
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target == f"socket:[{inode}]":
                    listener_fds.add(int(fd))
                elif target == "anon_inode:[eventpoll]":
                    epoll_fds.append(fd)
            for fd in epoll_fds:
                info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
                watched = {
                    int(line.split()[1]) for line in info.splitlines() if line.startswith("tfd:")
                }
                if watched & listener_fds:
                    accepting.append(pid)
                    break
    return accepting


# --- a gate in front of moto --------------------------------------------------------------------


class GatedProxy:
    """A TCP proxy on 127.0.0.1 in front of ``upstream``; while closed, bytes from clients are
    held back (the storage call hangs, as on a slow network) and ``held`` is set."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.open = threading.Event()
        self.open.set()
        self.held = threading.Event()
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, gated: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if gated and not self.open.is_set():
                    self.held.set()
                    self.open.wait()
                target.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._stop.set()
        self.open.set()
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
        self._thread.join(timeout=2)


# --- demo data ----------------------------------------------------------------------------------

SPECIALTIES = ("cardiologia", "pediatria", "traumatologia", "medicina general", "dermatologia")


def seed(port: int) -> None:
    """Load the demo data through the API."""
    response = call(port, "POST", "/api/v1/admin/seed", headers=ADMIN)
    assert response.status == 200, response.body


def free_slots(port: int, count: int) -> list[tuple[str, str]]:
    """``count`` free (doctor_id, fecha_hora) pairs of the demo data, over several doctors."""
    hasta = (datetime.now(UTC) + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    found: list[tuple[str, str]] = []
    for especialidad in SPECIALTIES:
        cursor = None
        while len(found) < count:
            query = {"especialidad": especialidad, "limit": "100", "hasta": hasta}
            if cursor:
                query["cursor"] = cursor
            page = call(
                port, "GET", "/api/v1/availability?" + urllib.parse.urlencode(query), headers=AGENT
            )
            assert page.status == 200, page.body
            found += [(item["doctor_id"], item["fecha_hora"]) for item in page.body["items"]]
            cursor = page.body["next_cursor"]
            if not cursor:
                break
        if len(found) >= count:
            return found[:count]
    raise AssertionError(f"only {len(found)} free slots in the demo data, {count} needed")


def booking_path(doctor_id: str, fecha_hora: str) -> str:
    return f"/api/v1/doctors/{doctor_id}/schedules/{fecha_hora}/booking"


def appointments(port: int, user_id: str) -> list[dict[str, Any]]:
    """Every booked slot of ``user_id`` (all pages)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        page = call(
            port,
            "GET",
            f"/api/v1/users/{user_id}/appointments?" + urllib.parse.urlencode(query),
            headers=AGENT,
        )
        assert page.status == 200, page.body
        items += page.body["items"]
        cursor = page.body["next_cursor"]
        if not cursor:
            return items


def new_slot(port: int, fecha_hora: str = "2031-03-03T09:00:00Z") -> tuple[str, str]:
    """A fresh doctor with one free slot (cheaper than the demo set on moto)."""
    doctor_id = f"ops-{uuid.uuid4().hex[:10]}"
    made = call(
        port,
        "POST",
        "/api/v1/doctors",
        {"doctor_id": doctor_id, "nombre": "Dra. Prueba", "especialidad": "Neumología"},
        ADMIN,
    )
    assert made.status == 201, made.body
    slots = call(
        port,
        "POST",
        f"/api/v1/doctors/{doctor_id}/schedules",
        {"slots": [{"fecha_hora": fecha_hora, "duracion_min": 30}]},
        ADMIN,
    )
    assert slots.status == 201, slots.body
    return doctor_id, fecha_hora
