"""The MCP server as an OAuth protected resource, over HTTP: the RFC 9728 metadata document
(no key) when ``HEALTH_API_MCP_PUBLIC_URL`` is set, 404 otherwise; every 401 pointing at it
(``WWW-Authenticate: Bearer ... resource_metadata="..."``); a token must name the public URL in
its ``aud``; an issuer key is a 403; an agent key in ``public`` agent access mode is shown the
public tools only."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from mcp.shared.auth import ProtectedResourceMetadata

from health_api.config import ApiKey
from health_api.kernel.bootstrap import build_kernel
from tests.api.conftest import ADMIN_KEY, AGENT_KEY
from tests.mcp.conftest import (
    Stack,
    engine_settings_for,
    mcp_session,
    opened_storage,
    problem,
    running_stack,
    serving,
    slot_arguments,
)
from tests.mcp.tokens import METADATA_URL, PUBLIC_TOOLS, PUBLIC_URL, mint, token_settings

pytestmark = pytest.mark.anyio

ISSUER_KEY = "issuer-key-0123456789abcdef"
IDP = "https://idp.example.org"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A server (SQLite) with a public URL, an external issuer, an issuer key and agent keys
    limited to public data."""
    keys = (ApiKey("admin", ADMIN_KEY), ApiKey("agent", AGENT_KEY), ApiKey("issuer", ISSUER_KEY))
    changes = token_settings(agent_access="public", token_trusted_issuers=(("idp", IDP),))
    tmp_path = tmp_path_factory.mktemp("mcp-resource")
    settings = engine_settings_for("sqlite", tmp_path, None, **changes).replace(api_keys=keys)
    with opened_storage(settings) as store:
        kernel = build_kernel(settings, store)
        with serving(kernel) as base:
            yield Stack("sqlite", settings, store, kernel, base)


@pytest.fixture(scope="module")
def plain_stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """A server that accepts tokens but has no public URL."""
    changes = token_settings()
    del changes["mcp_public_url"]
    with running_stack("sqlite", request, **changes) as running:
        yield running


def post(stack: Stack, bearer: str | None) -> httpx2.Response:
    headers = dict(MCP_HEADERS)
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    return httpx2.post(f"{stack.url}/mcp", json=INITIALIZE, headers=headers)


def test_the_metadata_document_names_the_resource_its_issuers_and_scopes(stack) -> None:
    response = httpx2.get(f"{stack.url}/.well-known/oauth-protected-resource/mcp")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert document["resource"] == PUBLIC_URL
    assert document["authorization_servers"] == [IDP]
    assert document["scopes_supported"] == ["appointments", "sessions"]
    assert document["bearer_methods_supported"] == ["header"]
    # The MCP SDK's own model of RFC 9728 reads it as it is.
    assert str(ProtectedResourceMetadata.model_validate(document).resource) == PUBLIC_URL


def test_without_a_public_url_there_is_no_metadata_and_no_pointer_to_it(plain_stack) -> None:
    metadata = httpx2.get(f"{plain_stack.url}/.well-known/oauth-protected-resource/mcp")
    anonymous = post(plain_stack, None)
    # Without a public URL, a token for the token audience (health-api) is accepted.
    accepted = post(plain_stack, mint(plain_stack.kernel, "paciente-1", audiences=()))

    assert metadata.status_code == 404
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="health-api"'
    assert accepted.status_code == 200, accepted.text


def test_no_key_is_a_401_whose_challenge_points_at_the_metadata(stack) -> None:
    response = post(stack, None)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/unauthorized"
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="health-api", resource_metadata="{METADATA_URL}"'
    )


@pytest.mark.parametrize(
    "case", ["aud-without-public-url", "bad-signature", "unknown-key"], ids=str
)
def test_a_token_that_does_not_verify_is_a_401_invalid_token_pointing_at_the_metadata(
    stack, case
) -> None:
    token = mint(stack.kernel, "paciente-1")
    bearer = {
        # A token for the REST API only (aud = the token audience): not for this resource.
        "aud-without-public-url": mint(stack.kernel, "paciente-1", audiences=()),
        "bad-signature": token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"),
        "unknown-key": "not-a-key-of-this-server-0123",
    }[case]

    response = post(stack, bearer)

    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.endswith(f', resource_metadata="{METADATA_URL}"'), challenge
    if case == "unknown-key":
        assert response.json()["type"] == "/problems/unauthorized"
    else:
        assert response.json()["type"] == "/problems/invalid-token"
        assert challenge.startswith('Bearer realm="health-api", error="invalid_token"')
    assert bearer not in response.text


def test_a_token_for_the_public_url_is_accepted(stack) -> None:
    assert post(stack, mint(stack.kernel, "paciente-1")).status_code == 200


def test_an_issuer_key_is_a_403_on_mcp(stack) -> None:
    response = post(stack, ISSUER_KEY)

    assert response.status_code == 403
    assert response.json()["type"] == "/problems/forbidden"


async def test_an_agent_key_in_public_mode_sees_only_the_public_tools_and_is_refused_others(
    stack, clinic
) -> None:
    async with mcp_session(stack, AGENT_KEY) as session:
        tools = {tool.name for tool in (await session.list_tools()).tools}
        hold = await session.call_tool("hold_slot", slot_arguments(clinic, clinic.user()))
        missing = await session.call_tool("get_session", {})
    async with mcp_session(stack, ADMIN_KEY) as session:
        by_admin = {tool.name for tool in (await session.list_tools()).tools}

    assert tools == PUBLIC_TOOLS
    problem(hold, "forbidden", 403)
    # Not the 422 a key that acts for users gets: this key acts for none.
    problem(missing, "forbidden", 403)
    assert len(by_admin) == 11  # admin keys are never limited by the agent access mode
