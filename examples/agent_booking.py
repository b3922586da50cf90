"""A scripted "agent" that books an appointment through the MCP server, as a chatbot would.

It speaks MCP with the official SDK's client (``ClientSession``) and calls the tools in the order
a conversation needs them: read the user's session (none yet), offer the first free slot of a
specialty, hold it while the user confirms, remember the step in the session, book with the
hold, then list the user's appointments. It prints the transcript; exit code 0 means booked.

    # stdio (the default): spawns `python -m health_api mcp --stdio` on the configured store
    # (HEALTH_API_SQLITE_PATH, ...); the key is HEALTH_API_MCP_KEY, else the agent key of
    # HEALTH_API_KEYS or of the development keys file (see `python -m health_api keys`).
    python -m health_api seed
    python examples/agent_booking.py

    # Streamable HTTP, against a running server (`make mcp` or `python -m health_api mcp`)
    python examples/agent_booking.py --url http://127.0.0.1:8001/mcp --key="$AGENT_KEY"

    # As a patient-facing agent: a user token instead of a key (over stdio or --url). The token
    # names the user, so no call passes user_id; asking for another user's appointments (what an
    # injected prompt would try) is refused, and the refusal is printed.
    python examples/agent_booking.py --token="$(python -m health_api token --user paciente-demo)"
    HEALTH_API_TOKEN=... python examples/agent_booking.py --url http://127.0.0.1:8001/mcp

The token travels in the transport only (the stdio server's HEALTH_API_MCP_TOKEN, or the HTTP
Authorization header): never in a tool argument, so never in the model's context.

Options: --user-id (default paciente-demo; with a token, the token's user), --especialidad
(default cardiologia), --other-user (whose appointments a token holder asks for, to show the
refusal; default paciente-43).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from typing import Any

import httpx2
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

REPLAYED = "health-api/idempotent-replayed"


class ToolError(Exception):
    """A tool answered isError: its text says what happened and what to do next."""


def say(who: str, line: str) -> None:
    print(f"{who:>6}: {line}", flush=True)


async def call(session: ClientSession, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Call ``tool``; its structured result (the REST response shape), or ToolError."""
    shown = json.dumps({k: v for k, v in arguments.items() if k != "idempotency_key"})
    say("agent", f"{tool}({shown if len(shown) < 100 else shown[:96] + ' ...'})")
    result = await session.call_tool(tool, arguments)
    if result.is_error:
        raise ToolError(f"{tool}: {result.content[0].text}")
    return result.structured_content or {}


async def converse(
    session: ClientSession, user_id: str | None, especialidad: str, other: str | None = None
) -> None:
    """One booking conversation, end to end, for ``user_id`` (None: the token's user, named
    in no call); with ``other``, then ask for that user's appointments, which must fail."""
    await session.initialize()
    who = {"user_id": user_id} if user_id else {}
    # 1. A new conversation: is there a session to resume? (not-found is an answer here)
    found = await session.call_tool("get_session", who)
    say("agent", f"get_session -> {'none yet' if found.is_error else 'resuming'}")
    # 2. Offer the first free slot of the specialty.
    page = await call(session, "find_availability", {"especialidad": especialidad, "limit": 3})
    if not page["items"]:
        raise ToolError(f"no free {especialidad} slot in the next week")
    slot = page["items"][0]
    when = slot["fecha_hora_local"]
    say("bot", f"{slot['nombre']} ({slot['especialidad']}) is free at {when}. Book it?")
    # 3. Hold it while the user answers. A fresh idempotency key per intended change: if this
    #    call timed out, sending it again with the same key could not hold twice.
    target = {"doctor_id": slot["doctor_id"], "fecha_hora": slot["fecha_hora"], **who}
    hold = await call(session, "hold_slot", {**target, "idempotency_key": str(uuid.uuid4())})
    say("tool", f"held until {hold['expires_at']}")
    # 4. Remember where the conversation is, in case the user comes back later.
    data = {"paso": "confirmar", "hold_id": hold["hold_id"]}
    await call(session, "save_session", {**who, "data": data})
    say("user", "Yes, please. It's for a check-up.")
    # 5. Book with the hold. A retry with the same key returns the first answer (replayed).
    booking = {**target, "hold_id": hold["hold_id"], "motivo": "revisión"}
    booking["idempotency_key"] = str(uuid.uuid4())
    booked = await call(session, "book_appointment", booking)
    say("tool", f"estado {booked['estado']}")
    retry = await session.call_tool("book_appointment", booking)
    replayed = bool(retry.meta and retry.meta.get(REPLAYED))
    say("agent", f"retried book_appointment with the same key -> replayed: {replayed}")
    # 6. Confirm from the user's list of appointments.
    appointments = await call(session, "list_appointments", who)
    mine = [a for a in appointments["items"] if a["fecha_hora"] == slot["fecha_hora"]]
    if not mine:
        raise ToolError("the booking is not in list_appointments")
    say("bot", f"Booked: {slot['nombre']}, {when}. You have {len(appointments['items'])} upcoming.")
    if other:
        await refused_for_other(session, other)


async def refused_for_other(session: ClientSession, other: str) -> None:
    """What a prompt injection would try: another user's appointments. A user token's server
    refuses it (``/problems/other-user``), whatever the model was told."""
    say("user", f"Also show me the appointments of {other}.")
    say("agent", f"list_appointments({json.dumps({'user_id': other})})")
    result = await session.call_tool("list_appointments", {"user_id": other})
    kind = ((result.meta or {}).get("health-api/problem") or {}).get("type")
    if not result.is_error or kind != "/problems/other-user":
        raise ToolError(f"asking for {other}'s appointments was not refused")
    say("tool", f"refused ({kind}): {result.content[0].text}")


def agent_key() -> str:
    """HEALTH_API_MCP_KEY, else the agent key the server accepts (settings or dev keys file)."""
    if os.environ.get("HEALTH_API_MCP_KEY"):
        return os.environ["HEALTH_API_MCP_KEY"]
    from health_api.config import load_settings
    from health_api.keys import resolve_keys

    keys, _path = resolve_keys(load_settings())
    return next(k.key for k in keys if k.role == "agent")


async def over_stdio(
    user_id: str | None, especialidad: str, token: str | None, other: str | None
) -> None:
    # The server inherits this environment (the store's settings), plus the key (or the user
    # token) it acts with: one of the two, never both.
    credentials = ("HEALTH_API_MCP_KEY", "HEALTH_API_MCP_TOKEN", "HEALTH_API_TOKEN")
    env = {name: value for name, value in os.environ.items() if name not in credentials}
    if token:
        env["HEALTH_API_MCP_TOKEN"] = token
    else:
        env["HEALTH_API_MCP_KEY"] = agent_key()
    env.setdefault("LOG_LEVEL", "WARNING")  # its per-call log lines (stderr) would drown this
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "health_api", "mcp", "--stdio"], env=env
    )
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await converse(session, user_id, especialidad, other)


async def over_http(
    url: str, bearer: str, user_id: str | None, especialidad: str, other: str | None
) -> None:
    # A key or a user token: both travel as the bearer of every request, outside the model.
    headers = {"Authorization": f"Bearer {bearer}"}
    async with (
        httpx2.AsyncClient(headers=headers, event_hooks={"response": [refused]}) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await converse(session, user_id, especialidad, other)


async def refused(response: httpx2.Response) -> None:
    """The SDK reports a 401/403 as a bare error: say what it was, on stderr."""
    if response.status_code in (401, 403):
        await response.aread()
        print(f"server said {response.status_code}: {response.text}", file=sys.stderr)


def leaves(exc: BaseException) -> list[BaseException]:
    """The real errors inside the task groups' exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stdio", action="store_true", help="spawn a stdio server (default)")
    parser.add_argument("--url", help="a Streamable HTTP server, e.g. http://127.0.0.1:8001/mcp")
    parser.add_argument("--key", help="bearer key for --url (default: as for stdio)")
    parser.add_argument(
        "--token", help="a user token: act for its user only (default: HEALTH_API_TOKEN)"
    )
    parser.add_argument("--user-id", help="default paciente-demo; with a token, its user")
    parser.add_argument("--especialidad", default="cardiologia")
    parser.add_argument("--other-user", default="paciente-43")
    args = parser.parse_args(argv)
    if args.stdio and args.url:
        parser.error("--stdio and --url are exclusive")
    token = args.token or os.environ.get("HEALTH_API_TOKEN") or None
    if token and args.key:
        parser.error("--token and --key are exclusive")
    # With a token the user is the token's: user_id is sent only when asked for explicitly.
    user_id = args.user_id if token else args.user_id or "paciente-demo"
    other = args.other_user if token else None
    try:
        if args.url:
            bearer = token or args.key or agent_key()
            asyncio.run(over_http(args.url, bearer, user_id, args.especialidad, other))
        else:
            asyncio.run(over_stdio(user_id, args.especialidad, token, other))
    except Exception as exc:  # noqa: BLE001 - the message, not a trace, is the point here
        errors = leaves(exc)
        for leaf in errors:
            what = leaf if isinstance(leaf, ToolError) else f"{type(leaf).__name__}: {leaf}"
            print(f"agent_booking: failed: {what}", file=sys.stderr)
        if not all(isinstance(leaf, ToolError) for leaf in errors):
            where = f"is an MCP server at {args.url}?" if args.url else "see the server's message"
            print(f"agent_booking: could not talk to the server ({where})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
