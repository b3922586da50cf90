"""The MCP server driven by the official MCP Inspector CLI (npm ``@modelcontextprotocol/inspector``
0.18.0, built on the TypeScript SDK), the client users run: over Streamable HTTP with
``--header`` against ``python -m health_api mcp``, and over stdio, where it spawns
``python -m health_api mcp --stdio`` itself. Tools are listed, a slot is found, held and booked,
and every kind of error reaches the client as readable text; the TypeScript SDK validates
``structuredContent`` against the tool's output schema even on errors, so an error that carried
its problem there was dropped as ``MCP error -32602``.

Each Inspector call spawns Node (and, on stdio, the server): one HTTP server serves the module,
and each transport's cases run in one test. Without Node the module is skipped, except in CI
(``CI=true``), where a missing Inspector fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from health_api.config import load_settings
from health_api.storage.factory import build_storage
from tests.api.conftest import AGENT_KEY
from tests.mcp.conftest import Clinic, open_clinic
from tests.ops.procs import KEY_ID_SECRET, free_port, serving
from tools import mcp_inspector

ROOT = Path(__file__).resolve().parents[2]
SERVER = [sys.executable, "-m", "health_api", "mcp"]
TOOLS = {
    "search_doctors",
    "find_availability",
    "list_doctor_slots",
    "hold_slot",
    "release_hold",
    "book_appointment",
    "cancel_appointment",
    "reschedule_appointment",
    "list_appointments",
    "get_session",
    "save_session",
}
PAST_SLOT = "2020-01-06T09:00:00Z"


@pytest.fixture(scope="module")
def inspector() -> list[str]:
    """The Inspector's command line (installed into .cache/ on first use)."""
    try:
        return mcp_inspector.command()
    except (mcp_inspector.InspectorError, subprocess.CalledProcessError, OSError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the MCP Inspector is required in CI: {exc}")
        pytest.skip(f"the MCP Inspector is not available (no Node 18+ or npm): {exc}")


@pytest.fixture(scope="module")
def store_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a server on a fresh SQLite store with the test keys."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("HEALTH_API_", "AWS_")) and name not in {"ENVIRONMENT"}
    }
    db = tmp_path_factory.mktemp("inspector") / "health_api.db"
    env |= {
        "ENVIRONMENT": "test",
        "HEALTH_API_KEYS": f"agent={AGENT_KEY}",
        "HEALTH_API_STORAGE": "sqlite",
        "HEALTH_API_SQLITE_PATH": str(db),
        "HEALTH_API_RATE_LIMIT": "100000/minute",
        "HEALTH_API_AUTH_FAILURE_LIMIT": "100000/minute",
        "HEALTH_API_KEY_ID_SECRET": KEY_ID_SECRET,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return env


def new_clinic(env: dict[str, str]) -> Clinic:
    """Doctors and free slots of their own on the store of ``env``."""
    storage = build_storage(load_settings(env))
    try:
        return open_clinic(storage)
    finally:
        storage.close()


@pytest.fixture(scope="module")
def mcp_url(store_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m health_api mcp`` on a free port, serving the module's store."""
    port = free_port()
    log = tmp_path_factory.mktemp("inspector-http") / "mcp.log"
    with serving([*SERVER, "--port", str(port)], store_env, port, log):
        yield f"http://127.0.0.1:{port}/mcp"


def run(inspector: list[str], target: list[str], method: list[str], env: dict[str, str]):
    """One ``inspector --cli`` call: its exit status and output."""
    return subprocess.run(
        [*inspector, "--cli", *target, *method],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


class Client:
    """The Inspector CLI aimed at one server: ``target`` names it (URL and options, or the
    server's command line), ``env`` is the Inspector's (and a stdio server's) environment."""

    def __init__(self, inspector: list[str], target: list[str], env: dict[str, str]) -> None:
        self.inspector = inspector
        self.target = target
        self.env = env

    def list_tools(self) -> list[dict[str, Any]]:
        return self._answer(["--method", "tools/list"])["tools"]

    def call(self, tool: str, **arguments: str) -> dict[str, Any]:
        """The tool's result, as the TypeScript client received it."""
        method = ["--method", "tools/call", "--tool-name", tool]
        if arguments:
            # --tool-arg takes every pair that follows it: it goes last.
            method += ["--tool-arg", *(f"{k}={v}" for k, v in arguments.items())]
        return self._answer(method)

    def _answer(self, method: list[str]) -> dict[str, Any]:
        done = run(self.inspector, self.target, method, self.env)
        # An error the client drops (e.g. structuredContent that fails the output schema)
        # exits 1 with "MCP error -32602: ..." on stderr.
        assert done.returncode == 0, done.stderr + done.stdout
        return json.loads(done.stdout)


def ok(result: dict[str, Any]) -> dict[str, Any]:
    """A successful result's structured content (the same JSON as its text)."""
    assert not result.get("isError"), result
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
    return result["structuredContent"]


def failed(result: dict[str, Any], kind: str, status: int) -> str:
    """A failed result's text, after checking its form: text, the problem in ``_meta``, no
    ``structuredContent``."""
    assert result["isError"] is True, result
    assert "structuredContent" not in result, result
    problem = result["_meta"]["health-api/problem"]
    assert (problem["type"], problem["status"]) == (f"/problems/{kind}", status), problem
    [content] = result["content"]
    assert content["type"] == "text"
    return content["text"]


def exercise(client: Client, clinic: Clinic) -> None:
    """Every case against one server: the tools, a booking, and each kind of error. Calls that
    do not depend on each other run at once (each is mostly Node starting up)."""
    ana, luis = f"ana-{clinic.token}", f"luis-{clinic.token}"
    doctor, first, second = clinic.doctors[0], clinic.times[0], clinic.times[1]
    slot = {"doctor_id": doctor, "fecha_hora": first}

    def book_then_lose() -> tuple[dict[str, Any], dict[str, Any]]:
        held = ok(client.call("hold_slot", **slot, user_id=ana))
        booked = client.call("book_appointment", **slot, user_id=ana, hold_id=held["hold_id"])
        return booked, client.call("book_appointment", **slot, user_id=luis)

    with ThreadPoolExecutor(max_workers=3) as pool:
        flow = pool.submit(book_then_lose)
        tools = pool.submit(client.list_tools)
        found = pool.submit(client.call, "find_availability", especialidad=clinic.especialidad)
        past = pool.submit(
            client.call, "book_appointment", doctor_id=doctor, fecha_hora=PAST_SLOT, user_id=luis
        )
        invalid = pool.submit(
            client.call, "hold_slot", doctor_id=doctor, fecha_hora="tomorrow", user_id=luis
        )
        missing = pool.submit(client.call, "get_session", user_id=f"nobody-{clinic.token}")
    booked, taken = flow.result()

    assert {tool["name"] for tool in tools.result()} == TOOLS
    # The second doctor's slots are untouched (the first's may be held by now).
    offered = {(item["doctor_id"], item["fecha_hora"]) for item in ok(found.result())["items"]}
    assert {(clinic.doctors[1], time) for time in clinic.times} <= offered
    assert (ok(booked)["estado"], ok(booked)["user_id"]) == ("reservado", ana)

    taken_text = failed(taken, "slot-taken", 409)
    assert "That slot is taken" in taken_text
    # The alternatives are in the text, each with the arguments to book it.
    assert f"doctor_id={doctor} fecha_hora={second}" in taken_text
    assert "in the past" in failed(past.result(), "invalid-request", 422)
    assert "fecha_hora" in failed(invalid.result(), "validation", 422)
    assert failed(missing.result(), "not-found", 404).startswith("No live session for this user")


def test_the_inspector_over_streamable_http_books_and_reads_every_error(
    inspector, mcp_url, store_env
) -> None:
    target = [mcp_url, "--transport", "http", "--header", f"Authorization: Bearer {AGENT_KEY}"]

    exercise(Client(inspector, target, store_env), new_clinic(store_env))


def test_the_inspector_over_stdio_books_and_reads_every_error(inspector, store_env) -> None:
    env = {**store_env, "HEALTH_API_MCP_KEY": AGENT_KEY}

    exercise(Client(inspector, [*SERVER, "--stdio"], env), new_clinic(store_env))


def test_the_inspector_shows_why_a_stdio_server_with_a_wrong_key_did_not_start(
    inspector, store_env
) -> None:
    env = {**store_env, "HEALTH_API_MCP_KEY": "agent-key-nobody-configured-0123"}

    done = run(inspector, [*SERVER, "--stdio"], ["--method", "tools/list"], env)

    assert done.returncode == 1, done.stdout
    # Not only "Connection closed": the server's own line, as the error of initialize.
    assert (
        "Failed to connect to MCP server: MCP error -32603: health_api mcp: configuration "
        "error: HEALTH_API_MCP_KEY is not one of this server's API keys"
    ) in done.stderr
    assert "agent-key-nobody-configured-0123" not in done.stderr + done.stdout
