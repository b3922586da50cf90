"""docker-compose.yml, parsed and checked: the four services, every client pointed at the
dynamodb-local service, the one-shot table set-up, the api and mcp services with their keys
from .env (never literal), and .env.example committed while .env is ignored. The compose
wiring itself (commands and environments run for real) is in ``test_compose_wiring.py``;
``docker compose config`` is in test_deploy_linters.py."""

from __future__ import annotations

import subprocess
from urllib.parse import urlsplit

import pytest
import yaml

from health_api.config import load_settings
from tests.ops.deploy_files import (
    COMPOSE,
    MCP_CMD,
    ROOT,
    service_env,
)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_has_the_four_services(compose) -> None:
    services = compose["services"]
    assert set(services) == {"dynamodb-local", "setup-tables", "api", "mcp"}
    local = services["dynamodb-local"]
    image, _, tag = local["image"].partition(":")
    assert image == "amazon/dynamodb-local"
    assert tag, "pin DynamoDB Local's version"
    assert tag != "latest", "pin DynamoDB Local's version"
    assert "-sharedDb" in local["command"]
    assert "-inMemory" in local["command"] or local.get("volumes")


def test_compose_points_every_client_at_the_dynamodb_local_service(compose) -> None:
    services = compose["services"]
    published = [str(p) for p in services["dynamodb-local"].get("ports", [])]
    assert {p.rsplit(":", 1)[-1] for p in published} == {"8000"}, "8000 inside its container"
    # On the host: loopback only, and not 8001, the MCP server's default port.
    assert published == ["127.0.0.1:8002:8000"]
    for name in ("setup-tables", "api", "mcp"):
        env = service_env(compose, name)
        endpoint = urlsplit(env["AWS_ENDPOINT_URL_DYNAMODB"])
        assert (endpoint.scheme, endpoint.hostname, endpoint.port) == (
            "http",
            "dynamodb-local",
            8000,
        ), name
        assert env["HEALTH_API_STORAGE"] == "dynamodb"
        # Dummy credentials only: DynamoDB Local accepts any non-empty pair.
        assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "local"
        assert "dynamodb-local" in services[name]["depends_on"] or name in {"api", "mcp"}
    # Every client uses the same region and prefix, so they see the same tables.
    setup = service_env(compose, "setup-tables")
    for name in ("api", "mcp"):
        env = service_env(compose, name)
        for key in ("AWS_REGION", "HEALTH_API_TABLE_PREFIX", "ENVIRONMENT"):
            assert setup[key] == env[key], (name, key)


def test_compose_setup_tables_is_a_one_shot_create_then_validate(compose) -> None:
    setup = compose["services"]["setup-tables"]
    assert setup["restart"] == "no"
    assert setup["image"] == compose["services"]["api"]["image"]
    assert setup["depends_on"]["dynamodb-local"]["condition"] == "service_started"
    script = " ".join(setup["command"])
    assert script.index("python setup_tables.py;") < script.index(
        "python setup_tables.py --validate"
    )


def test_compose_api_waits_for_the_tables_and_keeps_keys_out_of_the_file(compose) -> None:
    api = compose["services"]["api"]
    assert api["depends_on"]["setup-tables"]["condition"] == "service_completed_successfully"
    assert "8080:8000" in [str(p) for p in api["ports"]]
    assert any("/readyz" in part or "/healthz" in part for part in api["healthcheck"]["test"])
    assert any(str(v).endswith(":/app/data") for v in api["volumes"])
    raw = api["environment"]
    assert raw["HEALTH_API_KEYS"].startswith("${"), "keys come from .env, never a literal"
    assert service_env(compose, "api")["ENVIRONMENT"] == "development"


def test_compose_mcp_serves_the_mcp_server_beside_the_api_with_its_keys(compose) -> None:
    mcp, api = compose["services"]["mcp"], compose["services"]["api"]
    env = service_env(compose, "mcp")
    settings = load_settings(env)
    assert mcp["image"] == api["image"]
    # The MCP server, listening beyond the container's loopback on the port it publishes.
    assert mcp["command"] == MCP_CMD
    assert settings.mcp_port == 8001
    assert [str(p) for p in mcp["ports"]] == [f"8081:{settings.mcp_port}"]
    # The image's HEALTHCHECK probes $PORT, the compose one /readyz: both at the MCP server.
    assert env["PORT"] == str(settings.mcp_port)
    check = " ".join(mcp["healthcheck"]["test"])
    assert f"http://127.0.0.1:{settings.mcp_port}/readyz" in check
    assert mcp["depends_on"]["setup-tables"]["condition"] == "service_completed_successfully"
    # The same keys: from .env, or the dev keys the api generates into the volume both mount.
    assert mcp["environment"]["HEALTH_API_KEYS"] == api["environment"]["HEALTH_API_KEYS"]
    assert mcp["depends_on"]["api"]["condition"] == "service_healthy", "dev keys written first"
    api_data = [v for v in api["volumes"] if str(v).endswith(":/app/data")]
    assert api_data
    assert api_data[0] in mcp["volumes"]


def test_env_example_is_committed_and_env_is_ignored() -> None:
    example = (ROOT / ".env.example").read_text()
    values = dict(
        line.split("=", 1)
        for line in example.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    assert values["HEALTH_API_KEYS"] == "", "placeholders only: no key in .env.example"
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False, capture_output=True
    )
    if ignored.returncode == 128:
        pytest.skip("not a git work tree")
    assert ignored.returncode == 0, ".env must be git-ignored"
    kept = subprocess.run(
        ["git", "check-ignore", "-q", ".env.example"], cwd=ROOT, check=False, capture_output=True
    )
    assert kept.returncode == 1, ".env.example must not be git-ignored"
