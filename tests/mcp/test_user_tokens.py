"""An MCP conversation with a user token over Streamable HTTP, with the Python SDK's client, on
SQLite and DynamoDB Local: the token's user is the only user its calls reach.

- ``tools/list`` shows a token holder no ``user_id`` and no tool outside its scopes;
- every tool acts for the bound user: ``user_id`` left out, or naming that user, works; naming
  another is ``other-user``; another user's ``hold_id`` is ``not-found``; a tool outside the
  scopes is ``insufficient-scope`` (listed or not);
- no answer carries another user's ``user_id``, ``motivo`` or ``retenido_por``;
- idempotency keys are the user's (two tokens of one user share them).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from health_api.domain.caller import APPOINTMENTS, SESSIONS
from health_api.mcp.server import build_server
from health_api.mcp.views import TOOL_SCOPES
from tests.api.conftest import AGENT_KEY
from tests.mcp.conftest import (
    MCP_BACKENDS,
    Stack,
    mcp_session,
    ok,
    problem,
    running_stack,
    slot_arguments,
)
from tests.mcp.tokens import (
    APPOINTMENTS_TOOLS,
    PUBLIC_TOOLS,
    SESSIONS_TOOLS,
    mint,
    token_settings,
)

pytestmark = pytest.mark.anyio

MOTIVO = "dolor torácico confidencial"


@pytest.fixture(scope="module", params=MCP_BACKENDS)
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The MCP server over HTTP on each engine, accepting this run's user tokens."""
    with running_stack(request.param, request, **token_settings()) as running:
        yield running


def text_of(result) -> str:
    """Everything a result shows the client (text, structure, meta) as one string."""
    return json.dumps(result.model_dump(mode="json", by_alias=True), ensure_ascii=False)


async def listed(stack: Stack, bearer: str) -> dict:
    async with mcp_session(stack, bearer) as session:
        return {tool.name: tool for tool in (await session.list_tools()).tools}


async def test_a_token_holder_sees_every_tool_without_user_id(stack, clinic) -> None:
    tools = await listed(stack, mint(stack.kernel, clinic.user()))

    assert set(tools) == PUBLIC_TOOLS | APPOINTMENTS_TOOLS | SESSIONS_TOOLS
    for name, tool in tools.items():
        schema = tool.input_schema
        assert "user_id" not in schema["properties"], name
        assert "user_id" not in schema.get("required", ()), name
        assert schema["additionalProperties"] is False, name


async def test_an_api_key_still_sees_user_id_required_where_a_tool_takes_it(stack, clinic) -> None:
    tools = await listed(stack, AGENT_KEY)

    for name in (APPOINTMENTS_TOOLS | SESSIONS_TOOLS) - {"release_hold"}:
        schema = tools[name].input_schema
        assert "user_id" in schema["required"], name
        assert schema["properties"]["user_id"]["type"] == "string", name


async def test_a_token_books_for_its_user_without_naming_it(stack, clinic) -> None:
    user = clinic.user("ana")
    slot = slot_arguments(clinic, user)
    del slot["user_id"]

    async with mcp_session(stack, mint(stack.kernel, user)) as session:
        hold = ok(await session.call_tool("hold_slot", slot))
        booked = ok(
            await session.call_tool(
                "book_appointment", {**slot, "hold_id": hold["hold_id"], "motivo": MOTIVO}
            )
        )
        # Naming its own user is accepted.
        listed_own = ok(await session.call_tool("list_appointments", {"user_id": user}))
        listed_default = ok(await session.call_tool("list_appointments", {}))
        saved = ok(await session.call_tool("save_session", {"data": {"paso": "confirmado"}}))
        read = ok(await session.call_tool("get_session", {}))

    assert hold["user_id"] == user
    assert (booked["estado"], booked["user_id"], booked["motivo"]) == ("reservado", user, MOTIVO)
    assert listed_own == listed_default
    assert [item["fecha_hora"] for item in listed_default["items"]] == [slot["fecha_hora"]]
    assert saved["data"] == read["data"] == {"paso": "confirmado"}
    assert (saved["user_id"], read["user_id"]) == (user, user)


async def test_another_users_data_cannot_be_reached_with_a_token(stack, clinic) -> None:
    me, other = clinic.user("yo"), clinic.user("otra")
    booked_slot = slot_arguments(clinic, other, at=0)
    held_slot = slot_arguments(clinic, other, at=1)
    # The other user's booking (with a reason), hold and session, made with the agent key.
    async with mcp_session(stack) as agent:
        ok(await agent.call_tool("book_appointment", {**booked_slot, "motivo": MOTIVO}))
        their_hold = ok(await agent.call_tool("hold_slot", held_slot))
        ok(await agent.call_tool("save_session", {"user_id": other, "data": {"nota": MOTIVO}}))

    async with mcp_session(stack, mint(stack.kernel, me)) as session:
        appointments = await session.call_tool("list_appointments", {"user_id": other})
        their_session = await session.call_tool("get_session", {"user_id": other})
        overwrite = await session.call_tool(
            "save_session", {"user_id": other, "data": {"nota": "x"}}
        )
        book_for_them = await session.call_tool(
            "book_appointment", slot_arguments(clinic, other, at=2)
        )
        release = await session.call_tool("release_hold", {"hold_id": their_hold["hold_id"]})
        cancel = await session.call_tool(
            "cancel_appointment", {k: v for k, v in booked_slot.items() if k != "user_id"}
        )
        schedule = ok(
            await session.call_tool(
                "list_doctor_slots",
                {
                    "doctor_id": clinic.doctors[0],
                    "desde": clinic.times[0],
                    "hasta": clinic.times[-1],
                },
            )
        )

    for refused in (appointments, their_session, overwrite, book_for_them):
        problem(refused, "other-user", 403)
    problem(release, "not-found", 404)
    problem(cancel, "not-your-booking", 409)
    states = {item["fecha_hora"]: item for item in schedule["items"]}
    assert states[booked_slot["fecha_hora"]]["estado"] == "reservado"
    assert states[held_slot["fecha_hora"]]["estado"] == "retenido"
    for result in (appointments, their_session, overwrite, book_for_them, release, cancel):
        shown = text_of(result)
        assert other not in shown, shown
        assert MOTIVO not in shown, shown
    assert other not in json.dumps(schedule)
    assert MOTIVO not in json.dumps(schedule)
    # Nothing changed for the other user.
    async with mcp_session(stack) as agent:
        theirs = ok(await agent.call_tool("list_appointments", {"user_id": other}))
        kept = ok(await agent.call_tool("get_session", {"user_id": other}))
    assert [item["fecha_hora"] for item in theirs["items"]] == [booked_slot["fecha_hora"]]
    assert kept["data"] == {"nota": MOTIVO}


async def test_a_sessions_token_sees_no_appointment_tool_and_is_refused_one(stack, clinic) -> None:
    user = clinic.user()
    token = mint(stack.kernel, user, frozenset({SESSIONS}))
    slot = slot_arguments(clinic, user)
    del slot["user_id"]

    tools = await listed(stack, token)
    async with mcp_session(stack, token) as session:
        hold = await session.call_tool("hold_slot", {**slot, "idempotency_key": str(uuid.uuid4())})
        appointments = await session.call_tool("list_appointments", {})
        saved = ok(await session.call_tool("save_session", {"data": {"paso": 1}}))

    assert set(tools) == PUBLIC_TOOLS | SESSIONS_TOOLS
    assert problem(hold, "insufficient-scope", 403)
    assert "'appointments'" in hold.content[0].text
    problem(appointments, "insufficient-scope", 403)
    assert saved["user_id"] == user


async def test_an_appointments_token_sees_no_session_tool_and_is_refused_one(stack, clinic) -> None:
    token = mint(stack.kernel, clinic.user(), frozenset({APPOINTMENTS}))

    tools = await listed(stack, token)
    async with mcp_session(stack, token) as session:
        refused = await session.call_tool("get_session", {})

    assert set(tools) == PUBLIC_TOOLS | APPOINTMENTS_TOOLS
    problem(refused, "insufficient-scope", 403)


async def test_two_tokens_of_one_user_share_its_idempotency_keys_and_a_key_does_not(
    stack, clinic
) -> None:
    user = clinic.user()
    slot = slot_arguments(clinic, user, at=3)
    del slot["user_id"]
    key = {"idempotency_key": str(uuid.uuid4())}

    async with mcp_session(stack, mint(stack.kernel, user)) as first:
        held = ok(await first.call_tool("hold_slot", {**slot, **key}))
    async with mcp_session(stack, mint(stack.kernel, user, frozenset({APPOINTMENTS}))) as second:
        again = await second.call_tool("hold_slot", {**slot, **key})
    async with mcp_session(stack) as agent:
        by_key = await agent.call_tool("hold_slot", {**slot, "user_id": clinic.user("x"), **key})

    assert ok(again) == held
    assert (again.meta or {}).get("health-api/idempotent-replayed") is True
    # The agent key's scope is its own: the same idempotency_key is a new call there.
    problem(by_key, "slot-taken", 409)


def test_every_tool_that_takes_a_user_needs_a_user_scope(stack) -> None:
    views = build_server(stack.kernel).views

    assert set(TOOL_SCOPES) <= set(views)
    for name, view in views.items():
        if "user_id" in view.for_key["properties"]:
            assert view.scope in (APPOINTMENTS, SESSIONS), name
        assert (view.scope is None) == (name in PUBLIC_TOOLS), name
