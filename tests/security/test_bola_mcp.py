"""The BOLA matrix over MCP (Streamable HTTP, the SDK's own client), on SQLite and DynamoDB
Local: every tool that touches user data, called for the token's own user, for another user and
for no user, with a user token (on a server in either agent access mode) and with the agent key
in ``all`` and in ``public`` mode (see ``mcp_cases`` for the rule and the table).

A refused cell is an ``isError`` result with its problem in ``_meta`` (nothing but the problem
members), no ``structuredContent``, none of the other user's data in any part, and nothing
stored changed; no result for a user token or a public-mode key carries the other user's data.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from mcp.types import CallToolResult

from health_api.kernel.bootstrap import build_kernel
from health_api.mcp.replays import REPLAYED_META
from health_api.mcp.results import PROBLEM_META
from tests.api.conftest import AGENT_KEY
from tests.mcp.conftest import mcp_session, serving
from tests.security.conftest import ENGINES, MODES, Engine, World, opened_engine
from tests.security.mcp_cases import (
    CREDENTIALS,
    OBJECT_CASES,
    PUBLIC_TOOLS,
    TOOL_CASES,
    cells,
    expected,
    touches_user_data,
)

pytestmark = pytest.mark.anyio

PROBLEM_MEMBERS = {"type", "title", "status", "detail", "errors"}
READ_ONLY = {"list_appointments", "get_session"}


class Mcp:
    """The engine and an MCP server over HTTP per agent access mode, over one store."""

    def __init__(self, engine: Engine, urls: dict[str, str]) -> None:
        self.engine = engine
        self.urls = urls

    def session(self, world: World, credential: str, scopes: frozenset[str] | None = None):
        """A client session as ``credential`` (``token*``: a token of the world's user A, with
        ``scopes`` or both)."""
        token = credential.startswith("token")
        bearer = self.engine.token(world.users["A"], scopes) if token else AGENT_KEY
        return mcp_session(self.urls["public" if credential.endswith("public") else "all"], bearer)


@pytest.fixture(scope="module", params=ENGINES)
def mcp(request: pytest.FixtureRequest, signing_pem: str) -> Iterator[Mcp]:
    """The MCP matrix's servers on each engine, shared by the module's cells."""
    with opened_engine(request.param, request, signing_pem) as engine:
        engine.kernels.update(
            {mode: build_kernel(engine.settings[mode], engine.storage) for mode in MODES}
        )
        with contextlib.ExitStack() as stack:
            urls = {mode: stack.enter_context(serving(engine.kernels[mode])) for mode in MODES}
            yield Mcp(engine, urls)


def text_of(result: CallToolResult) -> str:
    """Everything a client receives of ``result``: its text, structured content and _meta."""
    parts = [getattr(block, "text", "") for block in result.content]
    return " ".join([*parts, repr(result.structured_content), repr(result.meta)])


async def listed(mcp: Mcp, world: World, credential: str) -> dict[str, dict[str, Any]]:
    """The tools listed to ``credential``: name -> input schema."""
    async with mcp.session(world, credential) as session:
        return {tool.name: tool.input_schema for tool in (await session.list_tools()).tools}


async def test_every_tool_that_touches_user_data_has_its_row_in_the_matrix(mcp: Mcp) -> None:
    tools = await listed(mcp, mcp.engine.world(reuse=True), "agent-all")

    by_rule = {name for name, schema in tools.items() if touches_user_data(schema)}
    assert by_rule == set(TOOL_CASES), (
        f"missing {sorted(by_rule - set(TOOL_CASES))}, stale {sorted(set(TOOL_CASES) - by_rule)}"
    )
    assert set(tools) - by_rule == set(PUBLIC_TOOLS), "a tool missing from PUBLIC_TOOLS"


@pytest.mark.parametrize("credential", ["token", "token-public"])
async def test_a_token_holder_is_listed_no_tool_that_takes_a_user_id(
    mcp: Mcp, credential: str
) -> None:
    world = mcp.engine.world(reuse=True)
    everything = await listed(mcp, world, "agent-all")

    tools = await listed(mcp, world, credential)

    assert set(tools) <= set(everything)
    assert set(TOOL_CASES) <= set(tools), "a token of both scopes reaches every user tool"
    for name, schema in tools.items():
        assert "user_id" not in schema.get("properties", {}), name
        assert "user_id" not in schema.get("required", []), name


def assert_refused(result: CallToolResult, problem: str, errors: str | None, world: World) -> None:
    """An ``isError`` result of ``problem`` with nothing but the problem, and no B data."""
    text = text_of(result)
    assert result.is_error, text
    assert result.structured_content is None, text
    body = (result.meta or {}).get(PROBLEM_META, {})
    assert body.get("type") == problem, text
    assert set(body) <= PROBLEM_MEMBERS, body
    if errors is not None:
        assert set(body["errors"]) == {errors}, body
    assert world.leaked(text) == [], text


@pytest.mark.parametrize(("tool", "credential", "target"), cells())
async def test_each_cell_answers_as_the_contract_says_and_a_refusal_reveals_and_changes_nothing(
    mcp: Mcp, tool: str, credential: str, target: str
) -> None:
    case = TOOL_CASES[tool]
    want = expected(case, credential, target)
    world = mcp.engine.world(reuse=want.problem is not None or tool in READ_ONLY)
    who = "B" if target == "other" else "A"
    arguments = case.build(world, who, target != "none")

    scopes = case.narrow if credential == "token-narrow" else None
    async with mcp.session(world, credential, scopes) as session:
        result = await session.call_tool(tool, arguments)

    text = text_of(result)
    if want.problem is not None:
        changed = mcp.engine.changed(world)  # first: a changed world is shared no more
        assert_refused(result, want.problem, want.errors, world)
        assert not changed, "a refused call changed stored data"
        return
    assert not result.is_error, text
    bystander = "A" if who == "B" else "B"
    assert not mcp.engine.changed(world, bystander), f"the call changed {bystander}'s data"
    if tool not in READ_ONLY:  # a write acted on the user it was for (none: the token's own)
        assert mcp.engine.changed(world, who), f"the call changed nothing of {who}'s"
    if credential != "agent-all":  # a token's results never carry B's data
        assert world.leaked(text) == [], text
    answer = result.structured_content or {}
    assert answer.get("user_id") in (None, world.users[who]), text
    if tool in READ_ONLY:  # a read that is allowed shows that user's data
        assert world.users[who] in text, text


@pytest.mark.parametrize("credential", CREDENTIALS)
@pytest.mark.parametrize("tool", sorted(PUBLIC_TOOLS))
async def test_public_tool_answers_every_credential_without_other_users_data(
    mcp: Mcp, tool: str, credential: str
) -> None:
    world = mcp.engine.world(reuse=True)

    async with mcp.session(world, credential) as session:
        result = await session.call_tool(tool, PUBLIC_TOOLS[tool](world))

    text = text_of(result)
    assert not result.is_error, text
    assert world.leaked(text, "B") == [], text
    if credential == "agent-public":  # schedules without booking details
        assert world.leaked(text, "A") == [], text


@pytest.mark.parametrize("credential", ["token", "token-public"])
@pytest.mark.parametrize("reach", sorted(OBJECT_CASES))
async def test_a_token_reaching_another_users_object_without_naming_a_user_changes_nothing(
    mcp: Mcp, reach: str, credential: str
) -> None:
    tool, build = OBJECT_CASES[reach]
    world = mcp.engine.world(reuse=True)

    async with mcp.session(world, credential) as session:
        result = await session.call_tool(tool, build(world))

    changed = mcp.engine.changed(world)
    text = text_of(result)
    assert result.is_error, text
    assert result.structured_content is None, text
    assert (result.meta or {}).get(PROBLEM_META, {}).get("status") in (403, 404, 409), text
    assert world.leaked(text) == [], text
    assert not changed, "a refused call changed stored data"


async def test_an_idempotency_key_never_replays_another_credentials_result(mcp: Mcp) -> None:
    world = mcp.engine.world()
    key = f"bola-{world.tag}"
    data = {"nota": world.secrets["B"]}
    async with mcp.session(world, "agent-all") as session:
        first = await session.call_tool(
            "save_session", {"user_id": world.users["B"], "data": data, "idempotency_key": key}
        )
    assert not first.is_error, text_of(first)

    async with mcp.session(world, "token") as session:
        other = await session.call_tool(
            "save_session", {"user_id": world.users["B"], "data": data, "idempotency_key": key}
        )
        own = await session.call_tool("save_session", {"data": {"x": 1}, "idempotency_key": key})

    assert_refused(other, "/problems/other-user", None, world)
    assert REPLAYED_META not in (other.meta or {})
    assert not own.is_error, text_of(own)
    assert REPLAYED_META not in (own.meta or {})
    assert (own.structured_content or {}).get("user_id") == world.users["A"]
    assert world.leaked(text_of(own)) == []
