"""``python -m health_api mcp --stdio`` as a client would launch it (the SDK's ``stdio_client``),
on a seeded SQLite file and on DynamoDB Local: it lists the tools and books with the key from
``HEALTH_API_MCP_KEY``; a key that is not configured is a configuration error (exit 2).

Each test spawns one Python process (about 1-2 s): keep them few."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from health_api.config import Settings
from health_api.domain.models import SlotKey
from tests.api.conftest import ADMIN_KEY, AGENT_KEY, KEY_ID_SECRET
from tests.conftest import is_dynamodb
from tests.mcp.conftest import MCP_BACKENDS, ok, open_clinic, slot_arguments

ROOT = Path(__file__).resolve().parents[2]
COMMAND = ["-m", "health_api", "mcp", "--stdio"]


def stdio_env(settings: Settings, aws: dict[str, str], mcp_key: str = AGENT_KEY) -> dict[str, str]:
    """The whole environment of a stdio server on ``settings``'s store (nothing inherited but
    ``PATH``)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "ENVIRONMENT": "test",
        "HEALTH_API_KEYS": f"admin={ADMIN_KEY},agent={AGENT_KEY}",
        "HEALTH_API_MCP_KEY": mcp_key,
        "HEALTH_API_KEY_ID_SECRET": KEY_ID_SECRET,
        "HEALTH_API_STORAGE": settings.storage,
        "HEALTH_API_SQLITE_PATH": str(settings.sqlite_path),
        "HEALTH_API_TIMEZONE": settings.timezone,
    }
    if settings.storage == "dynamodb":
        env.update(aws)
        env["AWS_ENDPOINT_URL_DYNAMODB"] = settings.dynamodb_endpoint_url
        env["HEALTH_API_TABLE_PREFIX"] = settings.table_prefix
    return env


@pytest.mark.anyio
@pytest.mark.parametrize("backend", MCP_BACKENDS)
async def test_a_stdio_server_lists_the_tools_and_books_an_appointment(
    backend, make_storage, engine_settings, aws_env, tmp_path
) -> None:
    storage = make_storage()
    clinic = open_clinic(storage)
    settings = engine_settings()
    assert is_dynamodb(backend) == (settings.storage == "dynamodb")
    user = clinic.user()
    params = StdioServerParameters(
        command=sys.executable, args=COMMAND, env=stdio_env(settings, aws_env), cwd=str(ROOT)
    )
    with (tmp_path / "stderr.log").open("w+") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = (await session.list_tools()).tools
            booked = ok(
                await session.call_tool(
                    "book_appointment", {**slot_arguments(clinic, user), "motivo": "control"}
                )
            )
        errlog.seek(0)
        logged = errlog.read()

    assert len(tools) == 11
    assert (booked["doctor_id"], booked["fecha_hora"]) == (clinic.doctors[0], clinic.times[0])
    assert (booked["estado"], booked["user_id"], booked["motivo"]) == ("reservado", user, "control")
    # The booking is in the store this test reads too.
    stored = storage.slots.get(SlotKey(clinic.doctors[0], clinic.times[0]))
    assert (stored.estado, stored.user_id) == ("reservado", user)
    # Logs went to stderr (stdout is the protocol), as JSON lines naming the tool, not the user.
    assert '"tool": "book_appointment"' in logged
    assert user not in logged


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_stdio_server_whose_key_is_not_configured_exits_with_2(
    engine_settings, aws_env, tmp_path
) -> None:
    wrong = "agent-key-nobody-configured-0123"
    env = stdio_env(engine_settings(), aws_env, mcp_key=wrong)

    done = subprocess.run(
        [sys.executable, *COMMAND],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2, done.stderr
    assert "HEALTH_API_MCP_KEY" in done.stderr
    assert wrong not in done.stderr + done.stdout
    assert done.stdout == ""
    # One line: what is wrong and how to fix it.
    assert done.stderr.splitlines() == [
        "health_api mcp: configuration error: HEALTH_API_MCP_KEY is not one of this server's "
        "API keys: set it to the agent (or admin) key in the server's environment (in a "
        "host's MCP server config: env); the keys are those of HEALTH_API_KEYS"
    ]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_stdio_server_without_a_key_says_it_is_not_set_and_where_the_keys_are(
    engine_settings, aws_env
) -> None:
    env = stdio_env(engine_settings(), aws_env)
    del env["HEALTH_API_MCP_KEY"]
    env["ENVIRONMENT"] = "development"
    del env["HEALTH_API_KEYS"]

    done = subprocess.run(
        [sys.executable, *COMMAND],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("health_api mcp: configuration error: HEALTH_API_MCP_KEY is not set:")
    assert line.endswith("`python -m health_api keys` prints the development keys")
    assert done.stdout == ""


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_stdio_server_that_cannot_start_answers_the_hosts_first_request_with_why(
    engine_settings, aws_env
) -> None:
    # Hosts show what the server answered, seldom its stderr ("Connection closed" otherwise).
    env = stdio_env(engine_settings(), aws_env, mcp_key="agent-key-nobody-configured-0123")
    initialize = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "a-host", "version": "1"},
        },
    }

    done = subprocess.run(
        [sys.executable, *COMMAND],
        env=env,
        cwd=ROOT,
        input=json.dumps(initialize) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    [answer] = [json.loads(reply) for reply in done.stdout.splitlines()]
    assert answer == {"jsonrpc": "2.0", "id": 0, "error": {"code": -32603, "message": line}}
    assert "HEALTH_API_MCP_KEY is not one of this server's API keys" in line
