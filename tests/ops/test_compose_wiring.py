"""The compose wiring, run for real without a Docker engine: the ``setup-tables`` service's own
entrypoint, command and environment create tables on DynamoDB Local (the engine the compose file
starts; moto's server too) that ``--validate`` accepts, and the ``api`` service's environment
then starts the app and finds it ready; the ``mcp`` service's command and environment serve the
MCP tools on those tables with the api's keys. Only the endpoint's host is swapped for the
test's server (``dynamodb-local:8000`` is a name inside the compose network)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import pytest
import yaml

from health_api.config import load_settings
from health_api.storage.tables import LOGICAL_TABLES
from tests.ops import procs
from tests.ops.deploy_files import COMPOSE, ROOT, interpolate, service_env
from tools.dynamodb_local import SERVER_VERSION


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(params=["dynamodb-local", "moto"])
def endpoint(request: pytest.FixtureRequest) -> str:
    """The URL of the engine standing in for the compose file's ``dynamodb-local`` service."""
    return request.getfixturevalue(
        "dynamodb_local" if request.param == "dynamodb-local" else "moto_server_url"
    )


def test_compose_runs_the_dynamodb_local_version_the_tests_run(
    compose, dynamodb_local, tmp_path_factory
):
    image = compose["services"]["dynamodb-local"]["image"]
    log = (tmp_path_factory.getbasetemp() / "dynamodb-local.log").read_text()

    assert image == f"amazon/dynamodb-local:{SERVER_VERSION}"
    assert f"Version:\t{SERVER_VERSION}" in log, log[:500]


def container_environment(service: dict[str, str], endpoint: str) -> dict[str, str]:
    """What the container's process sees: the service's env, the endpoint swapped for ours."""
    env = {
        **service,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        # The image's PATH (the venv first) and a home with no AWS files.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    assert urlsplit(service["AWS_ENDPOINT_URL_DYNAMODB"]).hostname == "dynamodb-local"
    return env


def run_setup_tables_service(compose: dict, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The compose file's setup-tables entrypoint and command, run here with ``env``."""
    service = compose["services"]["setup-tables"]
    argv = [interpolate(part, {}) for part in [*service["entrypoint"], *service["command"]]]
    return subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_compose_setup_tables_then_api(compose, endpoint, table_prefix, tmp_path) -> None:
    """The setup-tables service's command and env create valid tables; the api's env is ready."""
    variables = {"HEALTH_API_TABLE_PREFIX": table_prefix}  # as .env would give it
    env = container_environment(service_env(compose, "setup-tables", variables), endpoint)

    setup = run_setup_tables_service(compose, env)

    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert setup.stdout.count("created") == len(LOGICAL_TABLES)
    assert f"{len(LOGICAL_TABLES)} match, 0 differ" in setup.stdout
    validate = subprocess.run(
        [sys.executable, "setup_tables.py", "--validate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr

    # The api service's environment (the data volume at tmp_path) finds the tables ready.
    from health_api import create_app

    api_env = container_environment(service_env(compose, "api", variables), endpoint)
    api_env["HEALTH_API_SQLITE_PATH"] = str(tmp_path / "data" / "health_api.db")
    settings = load_settings(api_env)
    assert settings.storage == "dynamodb"
    assert settings.table_prefix == table_prefix
    app = create_app({"settings": settings})
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert (tmp_path / "data" / "dev-keys.json").exists(), "dev keys land in the data volume"


def test_compose_setup_tables_gives_up_on_an_endpoint_that_never_answers(compose) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    env = container_environment(service_env(compose, "setup-tables"), closed)
    env["SETUP_TABLES_ATTEMPTS"] = "2"

    result = run_setup_tables_service(compose, env)

    assert result.returncode == 3, result.stdout + result.stderr
    assert "not reachable yet (attempt 1)" in result.stdout
    assert "attempt 2" not in result.stdout
    assert "Traceback" not in result.stderr


async def list_tools_over_http(port: int, key: str) -> list[str]:
    """``initialize`` then ``tools/list`` at ``/mcp`` with the official SDK's client."""
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    url = f"http://127.0.0.1:{port}/mcp"
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        return sorted(tool.name for tool in (await session.list_tools()).tools)


def test_compose_mcp_serves_the_tools_with_the_keys_the_api_generated(
    compose, dynamodb_local, table_prefix, tmp_path
) -> None:
    """After setup-tables and the api (its depends_on), the mcp service's own command and
    environment, with the api-data volume at tmp_path, are ready and answer an agent key."""
    variables = {"HEALTH_API_TABLE_PREFIX": table_prefix}
    setup = run_setup_tables_service(
        compose,
        container_environment(service_env(compose, "setup-tables", variables), dynamodb_local),
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    volume = tmp_path / "data"  # api-data, mounted by both at /app/data
    from health_api import create_app

    api_env = container_environment(service_env(compose, "api", variables), dynamodb_local)
    api_env["HEALTH_API_SQLITE_PATH"] = str(volume / "health_api.db")  # the image's, on the volume
    create_app({"settings": load_settings(api_env)})
    agent_key = json.loads((volume / "dev-keys.json").read_text())["agent"]
    env = container_environment(service_env(compose, "mcp", variables), dynamodb_local)
    port = procs.free_port()
    env |= {"HEALTH_API_SQLITE_PATH": api_env["HEALTH_API_SQLITE_PATH"]}
    env |= {"HEALTH_API_MCP_PORT": str(port)}  # a free port here; 8001 in the container
    command = [interpolate(part, {}) for part in compose["services"]["mcp"]["command"]]
    with procs.serving(command, env, port, tmp_path / "mcp.log"):
        anonymous = procs.call(port, "POST", "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "ping"})
        tools = anyio.run(list_tools_over_http, port, agent_key)

    assert anonymous.status == 401
    assert len(tools) == 11
    assert {"find_availability", "hold_slot", "book_appointment", "get_session"} <= set(tools)
