"""Real servers for the benchmark: gunicorn with ``gunicorn.conf.py``, the MCP server, and
moto's server.

Each runs in its own session (process group), so stopping it reaches the master and its
workers together; its output goes to a file in the run's work directory.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADMIN_KEY = "bench-admin-key-0123456789abcdef"
AGENT_KEY = "bench-agent-key-0123456789abcdef"
KEY_ID_SECRET = "bench-key-id-secret-0123456789abcdef"  # noqa: S105 (a benchmark's own)
WORKERS = 2
THREADS = 8


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_env(storage: dict[str, str], max_requests: int | None = None) -> dict[str, str]:
    """The environment of the service (and of the baseline: same gunicorn settings);
    ``max_requests`` overrides gunicorn.conf.py's worker recycling (0 turns it off)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("HEALTH_API_", "GUNICORN_", "AWS_ENDPOINT_URL"))
        and name not in {"DYNAMODB_ENDPOINT_URL", "PORT", "HOST", "LOG_LEVEL", "ENVIRONMENT"}
    }
    env.update(
        HOST="127.0.0.1",
        GUNICORN_WORKERS=str(WORKERS),
        GUNICORN_THREADS=str(THREADS),
        HEALTH_API_KEYS=f"admin={ADMIN_KEY},agent={AGENT_KEY}",
        HEALTH_API_RATE_LIMIT="100000000/minute",
        HEALTH_API_KEY_ID_SECRET=KEY_ID_SECRET,
        ENVIRONMENT="bench",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(storage)
    if max_requests is not None:
        env["GUNICORN_MAX_REQUESTS"] = str(max_requests)
    return env


def _healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def _wait(proc: subprocess.Popen, port: int, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _healthy(port):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"server on port {port} not ready after {timeout} s")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@contextlib.contextmanager
def gunicorn(app: str, env: dict[str, str], workdir: Path, name: str) -> Iterator[int]:
    """``gunicorn -c gunicorn.conf.py <app>`` on a free port; yields the port once it is up."""
    port = free_port()
    script = Path(sys.executable).with_name("gunicorn")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "gunicorn"]
    log = workdir / f"{name}.log"
    with _served([*command, "-c", "gunicorn.conf.py", app], dict(env, PORT=str(port)), log, port):
        yield port


@contextlib.contextmanager
def mcp_http(env: dict[str, str], workdir: Path) -> Iterator[int]:
    """``python -m health_api mcp`` (Streamable HTTP at /mcp, one uvicorn process) on a free
    port, on the store and keys of ``env``; yields the port once /healthz answers."""
    port = free_port()
    command = [sys.executable, "-m", "health_api", "mcp", "--host", "127.0.0.1"]
    with _served([*command, "--port", str(port)], env, workdir / "mcp.log", port):
        yield port


@contextlib.contextmanager
def _served(command: list[str], env: dict[str, str], log: Path, port: int) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait(proc, port, log, timeout=60)
        yield
    finally:
        _stop(proc)


def dynamodb_server(workdir: Path, engine: str = "dynamodb-local"):
    """A DynamoDB endpoint for the benchmark: AWS's DynamoDB Local (default) or moto's server;
    a context manager yielding its URL."""
    if engine == "moto":
        return moto_server(workdir)
    return _dynamodb_local(workdir)


@contextlib.contextmanager
def _dynamodb_local(workdir: Path) -> Iterator[str]:
    from tools.dynamodb_local import DynamoDBLocal

    with DynamoDBLocal(log_path=workdir / "dynamodb-local.log") as local:
        yield local.url


@contextlib.contextmanager
def moto_server(workdir: Path) -> Iterator[str]:
    """moto's standalone server (``moto_server``) in its own process; yields its URL."""
    port = free_port()
    script = Path(sys.executable).with_name("moto_server")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "moto.server"]
    log = workdir / "moto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)
