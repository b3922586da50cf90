"""Session tools: the conversation's state for a user, with an expiry."""

from __future__ import annotations

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult

from health_api.domain.errors import NotFoundError
from health_api.kernel.bootstrap import Kernel
from health_api.mcp.arguments import IdempotencyKey, OptionalUserId, SessionData, SessionTtl
from health_api.mcp.calls import caller_of, run_tool
from health_api.mcp.catalog import READ, WRITE, make_tool
from health_api.mcp.outputs import output_schema
from health_api.mcp.results import failure, success
from health_api.schemas.sessions import SessionOut
from health_api.schemas.shapes import session_dict
from health_api.services import sessions


def tools(kernel: Kernel) -> list[Tool]:
    """The session tools of ``kernel``."""
    default_ttl = kernel.settings.session_ttl_seconds

    def answer(session) -> CallToolResult:
        return success(session_dict(session, sessions.lifetime(session, default_ttl)))

    def get_session(ctx: Context, user_id: OptionalUserId = None) -> CallToolResult:
        """Read what this conversation stored for the user (data, created_at, expires_at).

        Call it at the start of a conversation to resume where the user left off. not-found
        means there is no live session (never saved, or expired): start afresh and save one
        with save_session."""
        caller = caller_of(kernel, ctx.request_context.request)

        def action() -> CallToolResult:
            try:
                return answer(sessions.get_session(kernel.storage, user_id, caller=caller))
            except NotFoundError:
                return failure(
                    404,
                    "not-found",
                    "No live session for this user (never saved, or expired)",
                    "Start the conversation afresh; save_session creates a new one.",
                )

        return run_tool(kernel, caller, "get_session", action)

    def save_session(
        ctx: Context,
        user_id: OptionalUserId = None,
        *,
        data: SessionData,
        ttl_seconds: SessionTtl = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Save conversation state for the user: creates the session if there is none, else
        merges data into it (each key given replaces that key; other keys stay) and extends
        its expiry. Store what you need to resume: the step, the chosen specialty, the held
        hold_id. Do not store more personal data than the conversation needs.

        Saving the same data again is harmless. Errors: invalid-request when data is too
        large (keep it small)."""
        caller = caller_of(kernel, ctx.request_context.request)
        arguments = {"user_id": user_id, "data": data, "ttl_seconds": ttl_seconds}

        def action() -> CallToolResult:
            return answer(
                sessions.save_session(
                    kernel.storage, user_id, data, ttl_seconds, default_ttl, caller=caller
                )
            )

        return run_tool(
            kernel,
            caller,
            "save_session",
            action,
            arguments=arguments,
            idempotency_key=idempotency_key,
        )

    return [
        make_tool(
            get_session,
            title="Read the user's session",
            output=output_schema(SessionOut),
            hints=READ,
        ),
        make_tool(
            save_session,
            title="Save the user's session",
            output=output_schema(SessionOut),
            hints={**WRITE, "idempotent_hint": True},
        ),
    ]
