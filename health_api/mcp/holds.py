"""Hold tools: keep a slot for one user while the conversation finishes, and let it go."""

from __future__ import annotations

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult

from health_api.kernel.bootstrap import Kernel
from health_api.mcp.arguments import (
    DoctorId,
    HoldId,
    HoldTtl,
    IdempotencyKey,
    OptionalUserId,
    SlotTime,
)
from health_api.mcp.arguments import slot_key as parse_slot_key
from health_api.mcp.calls import caller_of, run_tool
from health_api.mcp.catalog import WRITE, make_tool
from health_api.mcp.outputs import RELEASED, output_schema
from health_api.mcp.results import success
from health_api.schemas.holds import HoldOut
from health_api.schemas.shapes import hold_dict
from health_api.services import holds


def tools(kernel: Kernel) -> list[Tool]:
    """The hold tools of ``kernel``."""
    tz = kernel.zone

    def hold_slot(
        ctx: Context,
        doctor_id: DoctorId,
        fecha_hora: SlotTime,
        user_id: OptionalUserId = None,
        ttl_seconds: HoldTtl = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Hold a free slot for the user for a few minutes (default 5) while you collect the
        reason for the visit and the user's confirmation; nobody else can hold or book it
        meanwhile. Returns hold_id and expires_at. Then call book_appointment with the same
        doctor_id and fecha_hora (and user_id, when you pass one) and the hold_id, or
        release_hold if the user declines.

        Holding the same slot again for the same user while the hold lives returns the same
        hold (safe to retry). Errors: slot-taken lists alternativas to offer instead;
        hold-limit means the user holds too many slots (release one); already-booked means
        the user booked it already; not-found means no such slot, doctor-not-found no such
        doctor_id."""
        caller = caller_of(kernel, ctx.request_context.request)
        arguments = {
            "doctor_id": doctor_id,
            "fecha_hora": fecha_hora,
            "user_id": user_id,
            "ttl_seconds": ttl_seconds,
        }

        def action() -> CallToolResult:
            key = parse_slot_key(doctor_id, fecha_hora, tz)
            issued = holds.hold_slot(
                kernel.storage,
                kernel.secret,
                key,
                user_id,
                ttl_seconds,
                kernel.settings,
                caller=caller,
            )
            return success(hold_dict(issued.hold_id, issued.hold, tz, admin=caller.is_admin))

        return run_tool(
            kernel,
            caller,
            "hold_slot",
            action,
            arguments=arguments,
            idempotency_key=idempotency_key,
        )

    def release_hold(
        ctx: Context, hold_id: HoldId, idempotency_key: IdempotencyKey = None
    ) -> CallToolResult:
        """Release a hold the user no longer wants: the slot is free again for everyone.

        Call it when the user declines the held slot or picks another one. Releasing a hold
        that already expired, was released or was booked also succeeds. not-found means the
        hold_id was altered or is not from this clinic."""
        caller = caller_of(kernel, ctx.request_context.request)

        def action() -> CallToolResult:
            holds.release_hold(kernel.storage, kernel.secret, hold_id, caller=caller)
            return success({"hold_id": hold_id, "released": True})

        return run_tool(
            kernel,
            caller,
            "release_hold",
            action,
            arguments={"hold_id": hold_id},
            idempotency_key=idempotency_key,
        )

    idempotent = {**WRITE, "idempotent_hint": True}
    return [
        make_tool(hold_slot, title="Hold a slot", output=output_schema(HoldOut), hints=idempotent),
        make_tool(release_hold, title="Release a hold", output=RELEASED, hints=idempotent),
    ]
