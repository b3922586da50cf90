"""A user token with the MCP Inspector CLI (the TypeScript SDK's client), over Streamable HTTP
(``--header "Authorization: Bearer <token>"``: the token travels in the transport, never in a
tool argument) and over stdio (``HEALTH_API_MCP_TOKEN`` in the server's environment): the tools
are listed without ``user_id``, a booking needs none, and another user's data is refused."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from health_api.config import load_settings
from health_api.tokens import build_authority
from tests.api.conftest import AGENT_KEY
from tests.mcp.conftest import Clinic
from tests.mcp.test_inspector import (  # noqa: F401 - ``inspector`` is a fixture
    SERVER,
    Client,
    failed,
    inspector,
    new_clinic,
    ok,
)
from tests.mcp.tokens import PUBLIC_URL, signing_pem
from tests.ops.procs import KEY_ID_SECRET, free_port, serving


@pytest.fixture(scope="module")
def store_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a server on a fresh SQLite store that accepts this run's tokens."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("HEALTH_API_", "AWS_")) and name not in {"ENVIRONMENT"}
    }
    return env | {
        "ENVIRONMENT": "test",
        "HEALTH_API_KEYS": f"agent={AGENT_KEY}",
        "HEALTH_API_STORAGE": "sqlite",
        "HEALTH_API_SQLITE_PATH": str(tmp_path_factory.mktemp("inspector") / "health_api.db"),
        "HEALTH_API_RATE_LIMIT": "100000/minute",
        "HEALTH_API_AUTH_FAILURE_LIMIT": "100000/minute",
        "HEALTH_API_KEY_ID_SECRET": KEY_ID_SECRET,
        "HEALTH_API_TOKEN_SIGNING_KEYS": signing_pem(),
        "HEALTH_API_MCP_PUBLIC_URL": PUBLIC_URL,
        "PYTHONDONTWRITEBYTECODE": "1",
    }


@pytest.fixture(scope="module")
def mcp_url(store_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m health_api mcp`` on a free port, serving the module's store."""
    port = free_port()
    log = tmp_path_factory.mktemp("inspector-tokens") / "mcp.log"
    with serving([*SERVER, "--port", str(port)], store_env, port, log):
        yield f"http://127.0.0.1:{port}/mcp"


def token_for(env: dict[str, str], user: str) -> str:
    """A token of the server's service for ``user``, for its public URL."""
    return build_authority(load_settings(env)).mint(user, audiences=(PUBLIC_URL,)).access_token


def exercise(client: Client, clinic: Clinic, user: str) -> None:
    """List, book for the token's user without naming it, and try another user's data."""
    other = f"otro-{clinic.token}"
    slot = {"doctor_id": clinic.doctors[0], "fecha_hora": clinic.times[0]}

    def book() -> tuple[dict, dict]:
        held = ok(client.call("hold_slot", **slot))
        booked = ok(client.call("book_appointment", **slot, hold_id=held["hold_id"]))
        return held, booked

    with ThreadPoolExecutor(max_workers=3) as pool:
        flow = pool.submit(book)
        tools = pool.submit(client.list_tools)
        appointments = pool.submit(client.call, "list_appointments", user_id=other)
        session = pool.submit(client.call, "get_session", user_id=other)
        own_session = pool.submit(client.call, "save_session", data='{"paso": "1"}')
    held, booked = flow.result()

    listed = tools.result()
    assert len(listed) == 11
    for tool in listed:
        assert "user_id" not in tool["inputSchema"]["properties"], tool["name"]
        assert "user_id" not in tool["inputSchema"].get("required", ()), tool["name"]
    assert (held["user_id"], booked["user_id"], booked["estado"]) == (user, user, "reservado")
    assert "its own user" in failed(appointments.result(), "other-user", 403)
    assert other not in failed(session.result(), "other-user", 403)
    assert ok(own_session.result())["user_id"] == user


def test_the_inspector_with_a_user_token_over_streamable_http(
    inspector,  # noqa: F811
    mcp_url,
    store_env,
) -> None:
    clinic = new_clinic(store_env)
    user = f"ana-{clinic.token}"
    header = f"Authorization: Bearer {token_for(store_env, user)}"
    target = [mcp_url, "--transport", "http", "--header", header]

    exercise(Client(inspector, target, store_env), clinic, user)


def test_the_inspector_with_a_user_token_over_stdio(inspector, store_env) -> None:  # noqa: F811
    clinic = new_clinic(store_env)
    user = f"luis-{clinic.token}"
    env = {**store_env, "HEALTH_API_MCP_TOKEN": token_for(store_env, user)}

    exercise(Client(inspector, [*SERVER, "--stdio"], env), clinic, user)
