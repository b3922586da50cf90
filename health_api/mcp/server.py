"""The MCP server: every tool of the catalogue over one kernel, and arguments that fail their
schema answered as an ``isError`` result naming each field (never the value sent)."""

from __future__ import annotations

import logging
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import ValidationError

from health_api.kernel.bootstrap import Kernel
from health_api.mcp import appointments, holds, search, sessions
from health_api.mcp.results import failure

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
    """``MCPServer`` whose argument validation failures name the fields in plain words."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context | None = None
    ) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                return invalid_arguments(name, exc.__cause__)
            raise


def invalid_arguments(tool: str, error: ValidationError) -> CallToolResult:
    """Which arguments are wrong and why; the values sent are not repeated (nor logged)."""
    errors: dict[str, list[str]] = {}
    for item in error.errors(include_input=False, include_url=False):
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


def build_server(kernel: Kernel) -> HealthMCPServer:
    """The server with every tool of ``kernel``."""
    tools = [
        *search.tools(kernel),
        *holds.tools(kernel),
        *appointments.tools(kernel),
        *sessions.tools(kernel),
    ]
    return HealthMCPServer(
        NAME,
        title="Health Assistant API",
        instructions=INSTRUCTIONS.format(zone=kernel.zone.key),
        version=_version(),
        tools=tools,
        log_level=kernel.settings.log_level,
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("health-api")
    except PackageNotFoundError:
        return "0"
