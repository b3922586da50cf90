"""Read tools for finding care: doctors of a specialty, free slots across a specialty, one
doctor's schedule."""

from __future__ import annotations

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult

from health_api.domain.errors import InvalidRequestError
from health_api.kernel.bootstrap import Kernel
from health_api.mcp.arguments import (
    Cursor,
    Desde,
    DoctorId,
    Especialidad,
    Estado,
    Hasta,
    Limit,
    bound,
)
from health_api.mcp.calls import caller_of, run_tool
from health_api.mcp.catalog import READ, make_tool
from health_api.mcp.outputs import output_schema
from health_api.mcp.results import ArgumentError, success
from health_api.schemas.common import SlotPage
from health_api.schemas.doctors import DoctorPage
from health_api.schemas.schedules import FreeSlotPage
from health_api.schemas.shapes import doctor_dict, page_dict, slot_dict
from health_api.services import availability, doctors, schedules
from health_api.signing import sign_cursor, verify_cursor


def tools(kernel: Kernel) -> list[Tool]:
    """The search tools of ``kernel``."""
    tz = kernel.zone

    def sign(cursor: str | None) -> str | None:
        return sign_cursor(kernel.secret, cursor)

    def search_doctors(
        ctx: Context, especialidad: Especialidad, limit: Limit = 20, cursor: Cursor = None
    ) -> CallToolResult:
        """Find the clinic's doctors of a medical specialty (e.g. "cardiologia"; case and
        accents are ignored). Returns each doctor's doctor_id, name, specialty and languages.

        Call it when the user asks which doctors there are; to offer appointment times, call
        find_availability instead. An empty list means no doctor of that specialty: ask the
        user to rephrase (Spanish specialty names). When next_cursor is not null there are
        more doctors: call again with it."""

        caller = caller_of(kernel, ctx.request_context.request)

        def action() -> CallToolResult:
            page = doctors.list_doctors(
                kernel.storage,
                especialidad,
                limit,
                verify_cursor(kernel.secret, cursor),
                caller=caller,
            )
            return success(page_dict(page, doctor_dict, sign))

        return run_tool(kernel, caller, "search_doctors", action)

    def find_availability(
        ctx: Context,
        especialidad: Especialidad,
        desde: Desde = None,
        hasta: Hasta = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> CallToolResult:
        """Free appointment slots of every doctor of a specialty in time order, with the doctor's
        name (default window: the next 7 days; at most 31 days). Over 200 doctors, the time
        order restarts for each further group of 200 (by doctor_id): page on to see them.

        Use it to offer the user concrete times. Each item has doctor_id and fecha_hora (UTC)
        plus fecha_hora_local in the clinic's zone: show the local time to the user, and pass
        doctor_id and fecha_hora unchanged to hold_slot and book_appointment. A slot offered
        here can still be taken a moment later; hold_slot it while the user decides. A page
        may be short, even empty, while next_cursor is set: call again with next_cursor."""

        def action() -> CallToolResult:
            desde_utc, hasta_utc = _window(
                bound(desde, "desde", tz), bound(hasta, "hasta", tz, end=True)
            )
            page = availability.find_availability(
                kernel.storage,
                especialidad,
                desde_utc,
                hasta_utc,
                limit,
                verify_cursor(kernel.secret, cursor),
                caller=caller,
            )

            def item(free):
                data = slot_dict(free.slot, tz, full=False)
                data.update(nombre=free.doctor.nombre, especialidad=free.doctor.especialidad)
                return data

            return success(page_dict(page, item, sign))

        caller = caller_of(kernel, ctx.request_context.request)
        return run_tool(kernel, caller, "find_availability", action)

    def list_doctor_slots(
        ctx: Context,
        doctor_id: DoctorId,
        desde: Desde = None,
        hasta: Hasta = None,
        estado: Estado = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> CallToolResult:
        """One doctor's slots between desde and hasta (default: the next 7 days; at most 93
        days), in time order, optionally only those in one estado ("disponible" = free,
        "retenido" = held for someone for a few minutes, "reservado" = booked, "bloqueado").

        Use it when the user wants a particular doctor. A doctor that does not exist is a
        doctor-not-found error. A page may be short while next_cursor is set: call again with
        it."""
        caller = caller_of(kernel, ctx.request_context.request)

        def action() -> CallToolResult:
            try:
                page = schedules.list_slots(
                    kernel.storage,
                    doctor_id,
                    bound(desde, "desde", tz),
                    bound(hasta, "hasta", tz, end=True),
                    estado,
                    limit,
                    verify_cursor(kernel.secret, cursor),
                    caller=caller,
                )
            except InvalidRequestError as exc:
                raise ArgumentError("hasta", str(exc)) from None
            full = caller.is_admin
            return success(
                page_dict(page, lambda slot: slot_dict(slot, tz, full, admin=full), sign)
            )

        return run_tool(kernel, caller, "list_doctor_slots", action)

    return [
        make_tool(
            search_doctors,
            title="Search doctors by specialty",
            output=output_schema(DoctorPage),
            hints=READ,
        ),
        make_tool(
            find_availability,
            title="Find free appointment slots",
            output=output_schema(FreeSlotPage),
            hints=READ,
        ),
        make_tool(
            list_doctor_slots,
            title="List a doctor's slots",
            output=output_schema(SlotPage),
            hints=READ,
        ),
    ]


def _window(desde: str | None, hasta: str | None) -> tuple[str, str]:
    try:
        return availability.window(desde, hasta)
    except InvalidRequestError as exc:
        raise ArgumentError("hasta", str(exc)) from None
