"""``examples/agent_booking.py`` run as a reader would run it, on a fresh, seeded SQLite store:
over stdio (it spawns the server itself) and over Streamable HTTP (against
``python -m health_api mcp`` started here). The booking is then read back through the REST API
on the same store, so the example is proven to book, not only to print."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from health_api import create_app
from health_api.config import load_settings
from tests.ops.procs import free_port, serving

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "agent_booking.py"


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a fresh SQLite store with the demo data (and its dev keys)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("HEALTH_API_") and name not in {"ENVIRONMENT", "LOG_LEVEL"}
    }
    db = tmp_path_factory.mktemp("agent-example") / "health_api.db"
    env |= {"HEALTH_API_STORAGE": "sqlite", "HEALTH_API_SQLITE_PATH": str(db)}
    env |= {"ENVIRONMENT": "development"}
    seeded = run(["-m", "health_api", "seed"], env)
    assert seeded.returncode == 0, seeded.stderr
    return env


def agent_key(env: dict[str, str]) -> str:
    keys = Path(env["HEALTH_API_SQLITE_PATH"]).parent / "dev-keys.json"
    return json.loads(keys.read_text())["agent"]


def appointments(env: dict[str, str], user_id: str) -> list[dict]:
    """The user's appointments, read through the REST API on the same store."""
    client = create_app({"settings": load_settings(env)}).test_client()
    response = client.get(
        f"/api/v1/users/{user_id}/appointments",
        headers={"Authorization": f"Bearer {agent_key(env)}"},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def assert_booked_once(result: subprocess.CompletedProcess[str], env, user_id: str) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "replayed: True" in result.stdout, result.stdout
    (booked,) = appointments(env, user_id)
    assert booked["estado"] == "reservado"
    assert booked["user_id"] == user_id
    assert booked["motivo"] == "revisión"
    assert booked["fecha_hora"] in result.stdout


def test_the_example_books_over_stdio(store) -> None:
    result = run([str(EXAMPLE), "--user-id", "paciente-stdio"], store)

    assert_booked_once(result, store, "paciente-stdio")


@pytest.fixture
def http_server(store, tmp_path) -> Iterator[int]:
    """``python -m health_api mcp`` on the store, on a free port, until the test ends."""
    port = free_port()
    command = [sys.executable, "-m", "health_api", "mcp", "--port", str(port)]
    with serving(command, store, port, tmp_path / "mcp.log", path="/healthz"):
        yield port


def test_the_example_books_over_streamable_http(store, http_server) -> None:
    url = f"http://127.0.0.1:{http_server}/mcp"
    args = [str(EXAMPLE), "--url", url, "--user-id", "paciente-http"]

    refused = run([*args, "--key=not-a-key-of-this-server"], store)
    # `--key=...`: a generated key may start with "-", which argparse would take for an option.
    result = run([*args, f"--key={agent_key(store)}"], store)

    assert refused.returncode == 1
    assert "401" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert_booked_once(result, store, "paciente-http")


def user_token(env: dict[str, str], user_id: str) -> str:
    """A token of this service for ``user_id``, signed with the development key the servers
    of ``env`` (stdio and HTTP) generated under the store's directory, or generate now."""
    from health_api.tokens import build_authority

    return build_authority(load_settings(env)).mint(user_id).access_token


def assert_booked_for_the_token_user(result, env, user_id: str) -> None:
    assert_booked_once(result, env, user_id)
    # No call named the user (the token did), but the one that asks for another user's data.
    calls = [line.strip() for line in result.stdout.splitlines() if "agent: " in line]
    naming = [line for line in calls if "user_id" in line]
    assert naming == ['agent: list_appointments({"user_id": "paciente-43"})'], calls
    assert "refused (/problems/other-user)" in result.stdout, result.stdout


def test_with_a_token_the_example_books_for_its_user_and_cannot_read_another_over_stdio(
    store,
) -> None:
    token = user_token(store, "paciente-token-stdio")

    result = run([str(EXAMPLE), f"--token={token}"], store)

    assert_booked_for_the_token_user(result, store, "paciente-token-stdio")
    assert token not in result.stdout + result.stderr


def test_with_a_token_from_the_environment_the_example_books_over_http(store, http_server) -> None:
    url = f"http://127.0.0.1:{http_server}/mcp"
    token = user_token(store, "paciente-token-http")

    result = run([str(EXAMPLE), "--url", url], {**store, "HEALTH_API_TOKEN": token})

    assert_booked_for_the_token_user(result, store, "paciente-token-http")
    assert token not in result.stdout + result.stderr
