"""Who may reach /mcp: a bearer key (agent or admin) before any MCP session, an Origin only from
``HEALTH_API_CORS_ORIGINS``; what an admin key sees that an agent key does not; and the probes,
which need no key."""

from __future__ import annotations

import json

import httpx2
import pytest
from mcp.shared.exceptions import MCPError

from health_api.kernel.bootstrap import build_kernel
from tests.api.conftest import ADMIN_KEY, AGENT_KEY
from tests.mcp.conftest import mcp_session, ok, serving, slot_arguments

pytestmark = pytest.mark.anyio

ALLOWED_ORIGIN = "https://chat.example.org"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "0"},
    },
}
STREAMABLE = {"Accept": "application/json, text/event-stream"}
UNKNOWN_KEY = "agent-test-key-9999999999"


@pytest.fixture(scope="module")
def origin_url(stack):
    """A second server on ``stack``'s store that allows ``ALLOWED_ORIGIN``."""
    settings = stack.settings.replace(cors_origins=(ALLOWED_ORIGIN,))
    with serving(build_kernel(settings, stack.storage)) as url:
        yield url


async def post_initialize(base: str, **headers: str) -> httpx2.Response:
    """A raw initialize POST to ``base``/mcp, as any HTTP client could send it."""
    async with httpx2.AsyncClient() as http:
        return await http.post(f"{base}/mcp", json=INITIALIZE, headers={**STREAMABLE, **headers})


def assert_refused(response: httpx2.Response, status: int, kind: str) -> dict:
    """A problem+json refusal that carries no MCP session."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "mcp-session-id" not in response.headers
    body = response.json()
    assert (body["type"], body["status"]) == (f"/problems/{kind}", status)
    return body


async def test_a_valid_key_initializes_over_a_raw_post(stack) -> None:
    response = await post_initialize(stack.url, Authorization=f"Bearer {AGENT_KEY}")

    assert response.status_code == 200, response.text
    assert json.loads(response.text)["result"]["serverInfo"]["name"] == "health-api"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-key"),
        pytest.param({"Authorization": f"Bearer {UNKNOWN_KEY}"}, id="unknown-key"),
        pytest.param({"Authorization": AGENT_KEY}, id="not-bearer"),
    ],
)
async def test_no_or_an_unknown_key_is_a_401_before_any_session(stack, headers) -> None:
    response = await post_initialize(stack.url, **headers)

    assert_refused(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == 'Bearer realm="health-api"'
    assert UNKNOWN_KEY not in response.text


@pytest.mark.parametrize("key", [None, UNKNOWN_KEY], ids=["no-key", "unknown-key"])
async def test_the_sdk_client_cannot_initialize_without_a_valid_key(stack, key) -> None:
    with pytest.raises(ExceptionGroup) as caught:
        async with mcp_session(stack, key=key):
            pass

    assert caught.group_contains(MCPError, depth=None)


async def test_a_disallowed_origin_is_a_403_even_with_a_valid_key(stack) -> None:
    response = await post_initialize(
        stack.url, Authorization=f"Bearer {AGENT_KEY}", Origin="https://evil.example"
    )

    assert_refused(response, 403, "forbidden-origin")


async def test_an_allowed_origin_passes_and_still_needs_a_key(stack, origin_url, clinic) -> None:
    async with mcp_session(origin_url, Origin=ALLOWED_ORIGIN) as session:
        result = await session.call_tool("search_doctors", {"especialidad": clinic.especialidad})
    keyless = await post_initialize(origin_url, Origin=ALLOWED_ORIGIN)
    other = await post_initialize(
        origin_url, Authorization=f"Bearer {AGENT_KEY}", Origin="https://evil.example"
    )

    assert len(ok(result)["items"]) == 2
    assert_refused(keyless, 401, "unauthorized")
    assert_refused(other, 403, "forbidden-origin")


async def test_an_admin_key_is_accepted_and_sees_who_holds_a_slot(stack, clinic) -> None:
    user = clinic.user()
    slot = slot_arguments(clinic, user)
    window = {
        "doctor_id": slot["doctor_id"],
        "desde": slot["fecha_hora"],
        "hasta": slot["fecha_hora"],
    }
    async with mcp_session(stack, key=AGENT_KEY) as agent:
        ok(await agent.call_tool("hold_slot", slot))
        [seen_by_agent] = ok(await agent.call_tool("list_doctor_slots", window))["items"]
    async with mcp_session(stack, key=ADMIN_KEY) as admin:
        [seen_by_admin] = ok(await admin.call_tool("list_doctor_slots", window))["items"]

    assert seen_by_agent["estado"] == seen_by_admin["estado"] == "retenido"
    assert seen_by_agent["retenido_hasta"] == seen_by_admin["retenido_hasta"]
    assert "retenido_por" not in seen_by_agent
    assert "user_id" not in seen_by_agent
    assert seen_by_admin["retenido_por"] == user


@pytest.mark.parametrize(
    ("path", "body"), [("/healthz", {"status": "ok"}), ("/readyz", {"status": "ready"})]
)
async def test_the_probes_answer_200_without_a_key(stack, path, body) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.get(f"{stack.url}{path}")

    assert response.status_code == 200, response.text
    assert response.json() == body
