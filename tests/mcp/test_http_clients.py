"""The MCP server over HTTP as browsers and operators meet it (API.md v1.2): a CORS preflight
without a key, logs that name a key by its HMAC, Idempotency-Key records under the key's v1.1
id, and start-up refusing a wildcard origin or a missing key-id secret."""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid

import httpx2
import pytest

from health_api import clock
from health_api.kernel.bootstrap import build_kernel
from health_api.services import idempotency as rules
from tests.api.conftest import AGENT_KEY, KEY_ID_SECRET
from tests.mcp.conftest import mcp_session, ok, serving, slot_arguments

pytestmark = pytest.mark.anyio

ALLOWED = "https://chat.example.org"


def v11_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


@pytest.fixture(scope="module")
def cors_url(sqlite_stack):
    """A server on the SQLite stack's store that allows ``ALLOWED``."""
    settings = sqlite_stack.settings.replace(cors_origins=(ALLOWED,))
    with serving(build_kernel(settings, sqlite_stack.storage)) as url:
        yield url


async def test_a_preflight_from_an_allowed_origin_is_a_204_without_a_key(cors_url) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.options(
            f"{cors_url}/mcp",
            headers={
                "Origin": ALLOWED,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, mcp-protocol-version",
            },
        )

    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "Mcp-Protocol-Version" in response.headers["access-control-allow-headers"]
    assert response.headers["access-control-max-age"] == "600"


async def test_a_401_over_http_says_what_to_send(sqlite_stack) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            f"{sqlite_stack.url}/mcp", json={}, headers={"X-API-Key": AGENT_KEY}
        )

    assert response.status_code == 401
    assert response.json()["detail"].startswith(
        "the X-API-Key header is not read: send `Authorization: Bearer <key>`"
    )
    assert AGENT_KEY not in response.text


async def test_a_tool_call_is_logged_with_the_hmac_key_id(sqlite_stack, caplog) -> None:
    caplog.set_level(logging.INFO, logger="health_api")
    async with mcp_session(sqlite_stack) as session:
        await session.call_tool("search_doctors", {"especialidad": "cardiologia"})

    (record,) = [r for r in caplog.records if r.getMessage() == "tool call"]
    expected = hmac.new(KEY_ID_SECRET.encode(), AGENT_KEY.encode(), hashlib.sha256).hexdigest()
    assert record.key_id == expected[:12]
    assert v11_id(AGENT_KEY) not in caplog.text


async def test_an_idempotency_key_is_stored_under_the_keys_v1_1_id(stack, clinic) -> None:
    user = clinic.user()
    key = str(uuid.uuid4())
    async with mcp_session(stack) as session:
        ok(
            await session.call_tool(
                "hold_slot", {**slot_arguments(clinic, user), "idempotency_key": key}
            )
        )

    record = stack.storage.idempotency.get(
        rules.record_key(v11_id(AGENT_KEY), key), clock.epoch_seconds()
    )
    assert record is not None
