"""The MCP HTTP app's guard, driven as ASGI: Origin, bearer key and rate limit before /mcp."""

from __future__ import annotations

import json

import anyio
import pytest
from freezegun import freeze_time

from health_api.config import ApiKey, load_settings
from health_api.kernel.bootstrap import Kernel, build_kernel
from health_api.mcp.calls import SCOPE_KEY
from health_api.mcp.http import Guard

AGENT_KEY = "agent-guard-key-0123456789"


def runtime(**changes) -> Kernel:
    settings = load_settings({}).replace(
        environment="test",
        api_keys=(ApiKey("agent", AGENT_KEY),),
        key_id_secret="k" * 32,
        **changes,
    )
    return build_kernel(settings, None, keys=(settings.api_keys, None))


def call(guard: Guard, path: str = "/mcp", **headers: str) -> tuple[int, dict, dict]:
    """One request through ``guard``: (status, headers, JSON body) of the answer."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    anyio.run(guard, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    answer_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], answer_headers, json.loads(body or b"{}")


@pytest.fixture
def reached() -> list[dict]:
    return []


def inner(reached: list[dict]):
    async def app(scope, receive, send):
        reached.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def test_no_key_is_a_401_problem_and_the_server_is_never_reached(reached) -> None:
    status, headers, body = call(Guard(inner(reached), runtime()))

    assert status == 401
    assert headers["content-type"] == "application/problem+json"
    assert headers["www-authenticate"].startswith("Bearer")
    assert body["type"] == "/problems/unauthorized"
    assert reached == []


def test_a_known_key_reaches_the_server_with_the_key_in_the_scope(reached) -> None:
    status, _, _ = call(Guard(inner(reached), runtime()), authorization=f"Bearer {AGENT_KEY}")

    assert status == 200
    assert reached[0]["state"][SCOPE_KEY].role == "agent"


def test_a_foreign_origin_is_a_403_even_with_a_key(reached) -> None:
    guard = Guard(inner(reached), runtime(cors_origins=("https://clinic.example",)))

    status, _, body = call(
        guard, authorization=f"Bearer {AGENT_KEY}", origin="https://evil.example"
    )
    allowed, _, _ = call(
        guard, authorization=f"Bearer {AGENT_KEY}", origin="https://clinic.example"
    )

    assert status == 403
    assert body["type"] == "/problems/forbidden-origin"
    assert allowed == 200
    assert len(reached) == 1


def test_past_the_rate_limit_a_key_gets_429_with_retry_after(reached) -> None:
    guard = Guard(inner(reached), runtime(rate_limit="2/minute"))

    # Inside one fixed window: time stands still at its tenth second.
    with freeze_time("2026-12-01T10:00:10Z", real_asyncio=True):
        statuses = [call(guard, authorization=f"Bearer {AGENT_KEY}") for _ in range(3)]

    assert [s for s, _, _ in statuses] == [200, 200, 429]
    assert statuses[2][1]["retry-after"] == "50"
    assert statuses[2][2]["type"] == "/problems/rate-limited"


def test_probes_pass_without_a_key(reached) -> None:
    status, _, _ = call(Guard(inner(reached), runtime()), path="/healthz")

    assert status == 200
