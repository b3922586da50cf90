"""Appointment tools: book, cancel, reschedule, and list a user's appointments."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult
from pydantic import Field

from health_api import clock
from health_api.kernel.bootstrap import Kernel
from health_api.mcp.arguments import (
    Cursor,
    Desde,
    DoctorId,
    IdempotencyKey,
    Limit,
    Motivo,
    OptionalUserId,
    SlotRef,
    SlotTime,
    bound,
)
from health_api.mcp.arguments import HoldId as HoldIdArgument
from health_api.mcp.arguments import slot_key as parse_slot_key
from health_api.mcp.calls import caller_of, run_tool
from health_api.mcp.catalog import READ, WRITE, make_tool
from health_api.mcp.outputs import output_schema
from health_api.mcp.results import success
from health_api.schemas.common import SlotFull, SlotPage
from health_api.schemas.shapes import page_dict, slot_dict
from health_api.services import booking
from health_api.services.times import to_utc_string
from health_api.signing import sign_cursor, verify_cursor

OptionalHoldId = Annotated[
    HoldIdArgument | None,
    Field(description="The hold_id from hold_slot, when the slot was held first (optional)."),
]
From = Annotated[SlotRef, Field(alias="from", description="The appointment to move.")]
To = Annotated[SlotRef, Field(description="The free slot to move it to.")]


def tools(kernel: Kernel) -> list[Tool]:
    """The appointment tools of ``kernel``."""
    tz = kernel.zone

    def book_appointment(
        ctx: Context,
        doctor_id: DoctorId,
        fecha_hora: SlotTime,
        user_id: OptionalUserId = None,
        motivo: Motivo = None,
        hold_id: OptionalHoldId = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Book a slot for the user: the appointment is confirmed when this succeeds. Call it
        only after the user confirmed the doctor and time. If you held the slot, pass its
        hold_id (the hold is used up); booking without a hold also works when the slot is free.

        Booking the same slot again for the same user returns the same booking (safe to
        retry). Errors: slot-taken lists alternativas to offer the user instead; hold-invalid
        means the hold expired (call hold_slot again, then book); not-found means no such
        slot, doctor-not-found no such doctor_id; a past slot cannot be booked."""
        caller = caller_of(kernel, ctx.request_context.request)
        arguments = {
            "doctor_id": doctor_id,
            "fecha_hora": fecha_hora,
            "user_id": user_id,
            "motivo": motivo,
            "hold_id": hold_id,
        }

        def action() -> CallToolResult:
            key = parse_slot_key(doctor_id, fecha_hora, tz)
            result = booking.book_slot(
                kernel.storage,
                key,
                user_id,
                motivo,
                caller=caller,
                hold_id=hold_id,
                secret=kernel.secret,
            )
            return success(slot_dict(result.slot, tz))

        return run_tool(
            kernel,
            caller,
            "book_appointment",
            action,
            arguments=arguments,
            idempotency_key=idempotency_key,
        )

    def cancel_appointment(
        ctx: Context,
        doctor_id: DoctorId,
        fecha_hora: SlotTime,
        user_id: OptionalUserId = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Cancel the user's appointment (or the user's live hold on that slot): the slot is
        free again. Confirm with the user first: this cannot be undone, though the user may
        book the slot again if nobody took it.

        Cancelling a slot that is already free succeeds. Errors: not-your-booking means
        someone else booked or holds that slot (check the doctor_id and fecha_hora with
        list_appointments); doctor-not-found means no such doctor_id; past appointments cannot
        be cancelled."""
        caller = caller_of(kernel, ctx.request_context.request)
        arguments = {"doctor_id": doctor_id, "fecha_hora": fecha_hora, "user_id": user_id}

        def action() -> CallToolResult:
            key = parse_slot_key(doctor_id, fecha_hora, tz)
            slot = booking.cancel_booking(kernel.storage, key, user_id, caller=caller)
            return success(slot_dict(slot, tz))

        return run_tool(
            kernel,
            caller,
            "cancel_appointment",
            action,
            arguments=arguments,
            idempotency_key=idempotency_key,
        )

    def reschedule_appointment(
        ctx: Context,
        user_id: OptionalUserId = None,
        *,
        from_: From,
        to: To,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Move the user's appointment to another free slot, all or nothing: either the new
        slot is booked and the old one freed, or nothing changes. The new slot may be of
        another doctor. A slot the user holds may be the target (the hold is used up).

        Errors: reschedule-failed with reason from_not_found / from_not_held (the user has no
        such appointment: check list_appointments), to_not_found, to_taken (pick another slot
        with find_availability), to_blocked, same_slot."""
        caller = caller_of(kernel, ctx.request_context.request)
        arguments = {"user_id": user_id, "from": from_.model_dump(), "to": to.model_dump()}

        def action() -> CallToolResult:
            source = parse_slot_key(from_.doctor_id, from_.fecha_hora, tz, "from.fecha_hora")
            target = parse_slot_key(to.doctor_id, to.fecha_hora, tz, "to.fecha_hora")
            slot = booking.reschedule_booking(
                kernel.storage, user_id, source, target, caller=caller
            )
            return success(slot_dict(slot, tz))

        return run_tool(
            kernel,
            caller,
            "reschedule_appointment",
            action,
            arguments=arguments,
            idempotency_key=idempotency_key,
        )

    def list_appointments(
        ctx: Context,
        user_id: OptionalUserId = None,
        desde: Annotated[
            Desde, Field(description="Only appointments from this instant (default: now).")
        ] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> CallToolResult:
        """The user's booked appointments from desde (default: now) in time order, with
        doctor_id, fecha_hora (UTC), fecha_hora_local and motivo.

        Call it before cancelling or rescheduling, to name the right appointment. A booking
        made a moment ago may be missing for a moment; a page may be short while next_cursor
        is set: call again with next_cursor."""
        caller = caller_of(kernel, ctx.request_context.request)

        def action() -> CallToolResult:
            since = bound(desde, "desde", tz) or to_utc_string(clock.now_utc())
            page = booking.list_appointments(
                kernel.storage,
                user_id,
                since,
                limit,
                verify_cursor(kernel.secret, cursor),
                caller=caller,
            )
            return success(
                page_dict(
                    page,
                    lambda slot: slot_dict(slot, tz),
                    lambda c: sign_cursor(kernel.secret, c),
                )
            )

        return run_tool(kernel, caller, "list_appointments", action)

    idempotent = {**WRITE, "idempotent_hint": True}
    slot_full = output_schema(SlotFull)
    return [
        make_tool(
            book_appointment, title="Book an appointment", output=slot_full, hints=idempotent
        ),
        make_tool(
            cancel_appointment,
            title="Cancel an appointment",
            output=slot_full,
            hints={**idempotent, "destructive_hint": True},
        ),
        make_tool(
            reschedule_appointment,
            title="Reschedule an appointment",
            output=slot_full,
            hints={**WRITE, "idempotent_hint": False},
            renamed={"from": "from_"},
        ),
        make_tool(
            list_appointments,
            title="List a user's appointments",
            output=output_schema(SlotPage),
            hints=READ,
        ),
    ]
