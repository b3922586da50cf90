"""A stdio server acting with a user token (``HEALTH_API_MCP_TOKEN``): it acts for the token's
user only; a key and a token both set, a token that does not verify, or an issuer key are
configuration errors (exit 2, one line, no credential repeated); once the token expires every
call answers ``invalid-token`` and the process keeps running."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from mcp import Client, ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from health_api.kernel.bootstrap import build_kernel
from health_api.mcp.server import build_server
from health_api.tokens import build_authority
from tests.mcp.conftest import ok, open_clinic, problem, slot_arguments
from tests.mcp.test_stdio import COMMAND, stdio_env
from tests.mcp.tokens import signing_pem

ROOT = Path(__file__).resolve().parents[2]


def token_env(settings, aws_env, token: str | None) -> dict[str, str]:
    """The stdio server's environment with ``token`` instead of a key."""
    env = stdio_env(settings, aws_env)
    del env["HEALTH_API_MCP_KEY"]
    env["HEALTH_API_TOKEN_SIGNING_KEYS"] = signing_pem()
    if token is not None:
        env["HEALTH_API_MCP_TOKEN"] = token
    return env


def mint(settings, user: str, **options) -> str:
    with_keys = settings.replace(token_signing_keys=signing_pem())
    return build_authority(with_keys).mint(user, **options).access_token


def start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *COMMAND],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.anyio
@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_stdio_server_with_a_token_acts_for_its_user_only(
    make_storage, engine_settings, aws_env
) -> None:
    clinic = open_clinic(make_storage())
    settings = engine_settings()
    user, other = clinic.user("ana"), clinic.user("otra")
    env = token_env(settings, aws_env, mint(settings, user))
    params = StdioServerParameters(command=sys.executable, args=COMMAND, env=env, cwd=str(ROOT))
    slot = slot_arguments(clinic, user)
    del slot["user_id"]

    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = (await session.list_tools()).tools
        booked = ok(await session.call_tool("book_appointment", slot))
        theirs = await session.call_tool("list_appointments", {"user_id": other})

    assert all("user_id" not in tool.input_schema["properties"] for tool in tools)
    assert (booked["user_id"], booked["estado"]) == (user, "reservado")
    problem(theirs, "other-user", 403)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_key_and_a_token_both_set_is_a_configuration_error(engine_settings, aws_env) -> None:
    settings = engine_settings()
    token = mint(settings, "paciente-1")
    env = {**stdio_env(settings, aws_env), **token_env(settings, aws_env, token)}
    env["HEALTH_API_MCP_KEY"] = stdio_env(settings, aws_env)["HEALTH_API_MCP_KEY"]

    done = start(env)

    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(
        "health_api mcp: configuration error: HEALTH_API_MCP_KEY and HEALTH_API_MCP_TOKEN are "
        "both set"
    )
    assert token not in done.stderr + done.stdout
    assert env["HEALTH_API_MCP_KEY"] not in done.stderr


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("case", ["expired", "tampered", "another-audience"])
def test_a_token_that_does_not_verify_is_a_configuration_error(
    engine_settings, aws_env, case
) -> None:
    settings = engine_settings()
    good = mint(settings, "paciente-1")
    with freeze_time(datetime.now(UTC) - timedelta(hours=2)):
        expired = mint(settings, "paciente-1", ttl_seconds=600)
    token = {
        "expired": expired,
        "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "another-audience": mint(settings.replace(token_audience="otro"), "paciente-1"),
    }[case]

    done = start(token_env(settings, aws_env, token))

    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(
        "health_api mcp: configuration error: HEALTH_API_MCP_TOKEN is not a valid user token ("
    ), line
    assert token not in done.stderr + done.stdout
    assert token.split(".")[1] not in done.stderr  # not even the claims


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_issuer_key_cannot_run_a_stdio_server(engine_settings, aws_env) -> None:
    issuer_key = "issuer-key-0123456789abcdef"
    env = stdio_env(engine_settings(), aws_env, mcp_key=issuer_key)
    env["HEALTH_API_KEYS"] += f",issuer={issuer_key}"

    done = start(env)

    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert "HEALTH_API_MCP_KEY is an issuer key" in line
    assert issuer_key not in line


@pytest.mark.anyio
@pytest.mark.parametrize("backend", ["sqlite"])
async def test_after_the_token_expires_every_call_is_invalid_token_and_the_server_runs_on(
    make_storage, engine_settings
) -> None:
    storage = make_storage()
    clinic = open_clinic(storage)
    settings = engine_settings().replace(token_signing_keys=signing_pem())
    kernel = build_kernel(settings, storage)
    assert kernel.tokens is not None
    user = clinic.user()
    verified = kernel.tokens.verify(kernel.tokens.mint(user, ttl_seconds=600).access_token)
    stdio = dataclasses.replace(kernel, stdio_caller=kernel.caller_for_token(verified))
    server = build_server(stdio, stdio_expires_at=verified.expires_at)
    expiry = datetime.fromtimestamp(verified.expires_at, UTC)

    with freeze_time(datetime.now(UTC), real_asyncio=True) as frozen:
        async with Client(server) as client:
            before = await client.call_tool("get_session", {})
            frozen.move_to(expiry + timedelta(seconds=1))
            after = await client.call_tool("list_appointments", {})
            tools = (await client.list_tools()).tools

    problem(before, "not-found", 404)  # valid: no session yet
    body = problem(after, "invalid-token", 401)
    assert "expired" in body["detail"]
    assert user not in after.content[0].text
    assert len(tools) == 11
