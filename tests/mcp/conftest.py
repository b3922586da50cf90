"""MCP fixtures: the server over Streamable HTTP (uvicorn in a thread) on SQLite and on DynamoDB
Local, driven by the SDK's own ``ClientSession``; a small clinic of its own for every test.

One stack (store, kernel, HTTP server) per engine serves a whole module: tests stay apart by
their own doctors, specialty and user ids (``clinic``), so they never meet on a slot.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
import uvicorn
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult

from health_api.config import Settings
from health_api.domain.models import Doctor
from health_api.kernel.bootstrap import Kernel, build_kernel, caller_of
from health_api.mcp.http import build_http_app
from health_api.mcp.results import PROBLEM_META
from health_api.mcp.server import build_server
from health_api.services import schedules
from health_api.services.times import to_utc_string
from health_api.storage.base import Storage
from health_api.storage.factory import build_storage
from tests.api.conftest import AGENT_KEY, storage_settings
from tests.callers import ADMIN_CALLER
from tests.conftest import create_dynamodb_tables, drop_dynamodb_tables, is_dynamodb

MCP_BACKENDS = ("sqlite", "dynamodb-local")
# What tests/conftest.py's ``aws_env`` sets per test, held for a module-scoped store.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
SLOT_TIMES = ("09:00", "09:30", "10:00", "10:30")


@dataclass(frozen=True)
class Stack:
    """One engine's store, the kernel over it and the HTTP server serving it."""

    backend: str
    settings: Settings
    storage: Storage
    kernel: Kernel
    url: str  # http://127.0.0.1:<port>, without /mcp

    def in_memory(self, key: str = AGENT_KEY) -> MCPServer:
        """A server on the same store acting with ``key`` (for ``mcp.Client(server)``)."""
        api_key = next(k for k in self.kernel.keys if k.key == key)
        kernel = dataclasses.replace(
            self.kernel, stdio_caller=caller_of(api_key, self.kernel.key_id_secret)
        )
        return build_server(kernel)


@dataclass(frozen=True)
class Clinic:
    """A test's own doctors (one specialty nobody else has) and their free future slots."""

    especialidad: str
    doctors: tuple[str, ...]
    times: tuple[str, ...]  # each doctor's slot starts, canonical UTC, in time order
    token: str

    def user(self, name: str = "paciente") -> str:
        """A user id no other test uses."""
        return f"{name}-{self.token}"


@pytest.fixture
def anyio_backend() -> str:
    """The anyio pytest plugin runs ``@pytest.mark.anyio`` tests on asyncio."""
    return "asyncio"


def engine_settings_for(backend: str, tmp_path, dynamodb_url: str | None, **changes) -> Settings:
    """Settings with the test keys for ``backend``; DynamoDB Local gets tables of its own."""
    if is_dynamodb(backend):
        changes = {
            "dynamodb_endpoint_url": dynamodb_url,
            "table_prefix": f"t{uuid.uuid4().hex[:10]}-",
            **changes,
        }
    return storage_settings(backend, tmp_path, **changes)


@contextlib.contextmanager
def opened_storage(settings: Settings) -> Iterator[Storage]:
    """A store for ``settings`` (tables created first on DynamoDB and dropped afterwards)."""
    dynamodb = settings.storage == "dynamodb"
    if dynamodb:
        create_dynamodb_tables(settings)
    store = build_storage(settings)
    try:
        yield store
    finally:
        store.close()
        if dynamodb:
            drop_dynamodb_tables(settings)


@contextlib.contextmanager
def serving(kernel: Kernel) -> Iterator[str]:
    """The HTTP app of ``kernel`` under uvicorn on a free port, in a daemon thread; its URL."""
    app = build_http_app(kernel, build_server(kernel))
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_config=None,
        lifespan="on",
        access_log=False,
        proxy_headers=False,  # as mcp_entry serves it: the guard finds the client address
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="mcp-uvicorn", daemon=True)
    thread.start()
    for _ in range(1000):  # up to 10 s for the socket to be bound
        if server.started or not thread.is_alive():
            break
        thread.join(0.01)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def running_stack(backend: str, request: pytest.FixtureRequest, **changes) -> Iterator[Stack]:
    """A whole stack on ``backend``, with fake AWS credentials held for its lifetime."""
    tmp_path = request.getfixturevalue("tmp_path_factory").mktemp("mcp")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_AWS.items():
            patch.setenv(name, value)
        patch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-config"))
        url = request.getfixturevalue("dynamodb_local") if is_dynamodb(backend) else None
        settings = engine_settings_for(backend, tmp_path, url, **changes)
        with opened_storage(settings) as store:
            kernel = build_kernel(settings, store)
            with serving(kernel) as base:
                yield Stack(backend, settings, store, kernel, base)


@pytest.fixture(scope="module", params=MCP_BACKENDS)
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The MCP server over HTTP on each engine, shared by a module's tests."""
    with running_stack(request.param, request) as running:
        yield running


@pytest.fixture(scope="module")
def sqlite_stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The MCP server over HTTP on SQLite only (fault injection on its repositories)."""
    with running_stack("sqlite", request) as running:
        yield running


def open_clinic(storage: Storage, doctors: int = 2) -> Clinic:
    """Doctors of a specialty of their own, each with four free slots the day after tomorrow
    (real clock: the server under test reads it too)."""
    token = uuid.uuid4().hex[:8]
    day = (datetime.now(UTC) + timedelta(days=2)).date()
    times = tuple(
        to_utc_string(datetime.fromisoformat(f"{day}T{hhmm}:00+00:00")) for hhmm in SLOT_TIMES
    )
    especialidad = f"Cardiología {token}"
    ids = tuple(f"mcp-{token}-{n}" for n in range(1, doctors + 1))
    try:
        for n, doctor_id in enumerate(ids, start=1):
            storage.doctors.create(
                Doctor(
                    doctor_id, f"Dra. Prueba {n}", especialidad, "Clínica Centro", idiomas=("es",)
                )
            )
            schedules.add_slots(storage, doctor_id, [(t, 30) for t in times], caller=ADMIN_CALLER)
    finally:
        storage.end_request()
    return Clinic(especialidad, ids, times, token)


@pytest.fixture
def clinic(stack: Stack) -> Clinic:
    """This test's own clinic on ``stack``'s store."""
    return open_clinic(stack.storage)


@contextlib.asynccontextmanager
async def mcp_session(
    stack_or_url: Stack | str, key: str | None = AGENT_KEY, **headers: str
) -> AsyncIterator[ClientSession]:
    """An initialized ``ClientSession`` over Streamable HTTP, sending ``key`` as bearer."""
    base = stack_or_url.url if isinstance(stack_or_url, Stack) else stack_or_url
    sent = dict(headers)
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    async with (
        httpx2.AsyncClient(headers=sent) as http,
        streamable_http_client(f"{base}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def ok(result: CallToolResult) -> dict[str, Any]:
    """A successful result's ``structuredContent``, checked to be the same JSON as its text."""
    assert not result.is_error, result.content[0].text
    assert result.structured_content is not None
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


def problem(result: CallToolResult, kind: str, status: int | None = None) -> dict[str, Any]:
    """A failed result of ``/problems/<kind>``: its problem (from ``_meta``), after checking it
    carries no ``structuredContent`` (TypeScript clients validate it against the output schema
    even on errors) and its text leaks no trace."""
    text = result.content[0].text
    assert result.is_error, text
    assert result.structured_content is None, result.structured_content
    body = (result.meta or {})[PROBLEM_META]
    assert body["type"] == f"/problems/{kind}", body
    if status is not None:
        assert body["status"] == status
    assert isinstance(body["detail"], str)
    for leak in ("Traceback", ".py", "/work/"):
        assert leak not in text, text
    return body


def slot_arguments(clinic: Clinic, user_id: str, doctor: int = 0, at: int = 0) -> dict[str, str]:
    """``doctor_id``, ``fecha_hora`` and ``user_id`` of one of ``clinic``'s slots."""
    return {"doctor_id": clinic.doctors[doctor], "fecha_hora": clinic.times[at], "user_id": user_id}
