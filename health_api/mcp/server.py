"""The MCP server: every tool of the catalogue over one kernel, and arguments that fail their
schema answered as an ``isError`` result naming each field (never the value sent)."""

from __future__ import annotations

import logging
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ListToolsResult, PaginatedRequestParams
from pydantic import ValidationError

from health_api import clock
from health_api.kernel.bootstrap import Kernel
from health_api.mcp import appointments, holds, search, sessions
from health_api.mcp.calls import caller_of
from health_api.mcp.results import failure
from health_api.mcp.views import USER_ID, ToolViews, listed_for, missing_user, views_of

log = logging.getLogger("health_api.mcp")

NAME = "health-api"
INSTRUCTIONS = """\
Book medical appointments at one clinic for the user you are talking to.
Typical flow: find_availability (or search_doctors, then list_doctor_slots) -> offer times ->
hold_slot while the user confirms -> book_appointment with the hold_id -> save_session.
Times: pass doctor_id and fecha_hora exactly as listed; show users fecha_hora_local. Input
times without an offset are read in the clinic's zone ({zone}); desde and hasta may be plain
dates (the clinic's whole day). Give write tools an idempotency_key (a new UUID per intended
change) so that a retry after a time-out never acts twice. A failed call says what to do next
(a taken slot lists alternatives)."""


class HealthMCPServer(MCPServer):
    """``MCPServer`` that lists each caller its own tools (``views``), and whose argument
    validation failures name the fields in plain words.

    ``kernel`` finds the caller of a request; ``stdio_expires_at`` (epoch seconds) is when the
    user token a stdio server acts with expires: from then on every call is refused as
    ``invalid-token`` (the process keeps running: its host shows the refusal, and a restart
    with a fresh ``HEALTH_API_MCP_TOKEN`` resumes).
    """

    kernel: Kernel
    views: dict[str, ToolViews]
    stdio_expires_at: float | None = None

    async def _handle_list_tools(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        # The SDK's handler lists every tool to everyone; the caller is only known here, from
        # the HTTP request the transport attached (None on stdio).
        caller = caller_of(self.kernel, ctx.request)
        return ListToolsResult(tools=listed_for(caller, await self.list_tools(), self.views))

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context | None = None
    ) -> Any:
        """Run tool ``name`` for the caller of ``context``: refused as ``invalid-token`` once a
        stdio token expired, as a validation failure when a key names no user."""
        request = context.request_context.request if context is not None else None
        if request is None and self._stdio_expired():
            return failure(
                401,
                "invalid-token",
                "The user token of this MCP server (HEALTH_API_MCP_TOKEN) has expired",
                "Tell the user to sign in again; the server needs a fresh token and a restart.",
            )
        if missing_user(caller_of(self.kernel, request), self.views.get(name), arguments):
            return self._missing_user(name, arguments)
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                return invalid_arguments(name, exc.__cause__)
            raise

    def _stdio_expired(self) -> bool:
        expires = self.stdio_expires_at
        return expires is not None and clock.now_utc().timestamp() >= expires

    def _missing_user(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        """An API key named no user: refused as its listed schema (``user_id`` required)
        refuses it, with any other argument the schema refuses (nothing ran, nothing stored)."""
        tool = self._tool_manager.get_tool(name)
        try:
            tool.fn_metadata.arg_model.model_validate(arguments)
        except ValidationError as exc:
            return invalid_arguments(name, exc, also={USER_ID: ["Field required"]})
        return invalid_arguments(name, None, also={USER_ID: ["Field required"]})


def invalid_arguments(
    tool: str, error: ValidationError | None, also: dict[str, list[str]] | None = None
) -> CallToolResult:
    """Which arguments are wrong and why (``error``'s and ``also``); the values sent are not
    repeated (nor logged)."""
    errors: dict[str, list[str]] = {field: list(msgs) for field, msgs in (also or {}).items()}
    for item in error.errors(include_input=False, include_url=False) if error else ():
        field = ".".join(str(part) for part in item["loc"]) or "arguments"
        errors.setdefault(field, []).append(item["msg"])
    log.info("tool arguments refused", extra={"tool": tool, "fields": sorted(errors)})
    listed = "; ".join(f"`{field}`: {', '.join(msgs)}" for field, msgs in errors.items())
    return failure(
        422,
        "validation",
        f"Invalid arguments for {tool}: {listed}",
        "Correct them (see the tool's input schema) and call again.",
        errors=errors,
    )


def build_server(kernel: Kernel, stdio_expires_at: float | None = None) -> HealthMCPServer:
    """The server with every tool of ``kernel`` (``stdio_expires_at``: see the class)."""
    tools = [
        *search.tools(kernel),
        *holds.tools(kernel),
        *appointments.tools(kernel),
        *sessions.tools(kernel),
    ]
    server = HealthMCPServer(
        NAME,
        title="Health Assistant API",
        instructions=INSTRUCTIONS.format(zone=kernel.zone.key),
        version=_version(),
        tools=tools,
        log_level=kernel.settings.log_level,
    )
    server.kernel = kernel
    server.stdio_expires_at = stdio_expires_at
    # The input schemas as registered (``user_id`` optional); each caller's views derive from them.
    registered = server._tool_manager.list_tools()
    server.views = views_of({tool.name: tool.parameters for tool in registered})
    return server


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("health-api")
    except PackageNotFoundError:
        return "0"
