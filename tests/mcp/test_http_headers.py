"""Every response of the MCP server, answers and refusals alike, tells caches not to keep it
(tool results hold patient data) and browsers not to sniff it, as REST does."""

from __future__ import annotations

import httpx2
import pytest

from health_api.kernel.bootstrap import build_kernel
from tests.api.conftest import AGENT_KEY
from tests.mcp.conftest import serving

pytestmark = pytest.mark.anyio

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
BEARER = {"Authorization": f"Bearer {AGENT_KEY}"}


@pytest.fixture(scope="module")
def limited_url(sqlite_stack):
    """A second server on the same store that allows each key one request a minute."""
    settings = sqlite_stack.settings.replace(rate_limit="1/minute")
    with serving(build_kernel(settings, sqlite_stack.storage)) as url:
        yield url


def assert_not_cached(response: httpx2.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_an_mcp_answer_is_not_cached(sqlite_stack) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            f"{sqlite_stack.url}/mcp", json=INITIALIZE, headers={**STREAMABLE, **BEARER}
        )

    assert_not_cached(response, 200)


@pytest.mark.parametrize(
    ("path", "status"), [("/healthz", 200), ("/readyz", 200), ("/nowhere", 404)]
)
async def test_probes_and_unknown_paths_are_not_cached(sqlite_stack, path, status) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.get(f"{sqlite_stack.url}{path}")

    assert_not_cached(response, status)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({}, 401, id="no-key"),
        pytest.param({**BEARER, "Origin": "https://evil.example"}, 403, id="foreign-origin"),
    ],
)
async def test_refusals_are_not_cached(sqlite_stack, headers, status) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            f"{sqlite_stack.url}/mcp", json=INITIALIZE, headers={**STREAMABLE, **headers}
        )

    assert_not_cached(response, status)


async def test_a_rate_limited_request_is_not_cached(limited_url) -> None:
    async with httpx2.AsyncClient() as http:
        for _ in range(2):
            response = await http.post(
                f"{limited_url}/mcp", json=INITIALIZE, headers={**STREAMABLE, **BEARER}
            )

    assert_not_cached(response, 429)
