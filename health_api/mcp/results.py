"""Tool results: a success carries the REST shape as ``structuredContent`` (and as JSON text,
for clients that read only text); a failure is ``isError: true`` with text that tells an agent
what happened and what to do next, and the REST problem document in
``_meta["health-api/problem"]``, never as ``structuredContent``: clients built on the
TypeScript SDK (the MCP Inspector, desktop hosts) validate ``structuredContent`` against the
tool's ``outputSchema`` even on errors, and drop a result that does not match.

Failures are returned, not raised, so neither the SDK nor this server logs their text; a
malformed value (a time that does not parse) is quoted back to the caller, as REST does.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from zoneinfo import ZoneInfo

from mcp.types import CallToolResult, TextContent

from health_api.domain.errors import (
    AlreadyBookedError,
    ConflictError,
    DoctorNotFoundError,
    HealthApiError,
    HoldInvalidError,
    HoldLimitError,
    InvalidCursorError,
    InvalidRequestError,
    NotFoundError,
    NotYourBookingError,
    RescheduleError,
    SlotBlockedError,
    SlotTakenError,
    StorageRequestError,
    StorageUnavailableError,
)
from health_api.schemas.shapes import slot_public_list

log = logging.getLogger("health_api.mcp")

# Failures with these statuses come from the rules, after the tool ran: an idempotency key
# stores them (as REST stores its 404/409/422). Others (5xx, arguments) are not stored.
STORED_FAILURES = frozenset({404, 409, 422})

PROBLEM_META = "health-api/problem"


class ArgumentError(Exception):
    """An argument the input schema let through but that does not parse (a time, an id)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def success(data: dict[str, Any]) -> CallToolResult:
    """A successful call answering ``data`` (a REST response body)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


def failure(status: int, kind: str, detail: str, advice: str, **extra: Any) -> CallToolResult:
    """An ``isError`` result: ``detail`` and ``advice`` as text, the problem in ``_meta``."""
    problem = {"type": f"/problems/{kind}", "status": status, "detail": detail, **extra}
    text = f"{detail}. {advice}".replace(".. ", ". ")
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        is_error=True,
        meta={PROBLEM_META: problem},
    )


def problem_of(result: CallToolResult) -> dict[str, Any]:
    """A failed result's problem document (empty for a success, or an error not built here)."""
    found = (result.meta or {}).get(PROBLEM_META)
    return found if isinstance(found, dict) else {}


def status_of(result: CallToolResult) -> int:
    """The HTTP status a result stands for: 200, or its problem's ``status``."""
    if not result.is_error:
        return 200
    return int(problem_of(result).get("status", 500))


def argument_failure(exc: ArgumentError) -> CallToolResult:
    """A bad argument: which one, and why."""
    return failure(
        422,
        "validation",
        f"Invalid argument `{exc.field}`: {exc}",
        "Correct that argument and call the tool again.",
        errors={exc.field: [str(exc)]},
    )


def _alternatives_text(alternativas: list[dict[str, Any]]) -> str:
    if not alternativas:
        return "No other free slot of this doctor soon: call find_availability for others."
    lines = [
        f"- doctor_id={a['doctor_id']} fecha_hora={a['fecha_hora']} "
        f"(local {a['fecha_hora_local']}, {a['duracion_min']} min)"
        for a in alternativas
    ]
    return (
        "Offer the user one of these free slots of the same doctor instead, then call "
        "hold_slot or book_appointment with it:\n" + "\n".join(lines)
    )


def domain_failure(exc: HealthApiError, tz: ZoneInfo) -> CallToolResult:
    """The ``isError`` result for a domain error raised by a service."""
    if isinstance(exc, StorageUnavailableError):
        seconds = exc.retry_after
        return failure(
            503,
            "storage-unavailable",
            "The appointment store is unavailable right now",
            f"Nothing was changed. Try again in {seconds} s.",
            retry_after=seconds,
        )
    if isinstance(exc, SlotTakenError):
        alternativas = slot_public_list(exc.alternativas, tz)
        return failure(
            409,
            "slot-taken",
            "That slot is taken (booked, or held by another user)",
            _alternatives_text(alternativas),
            alternativas=alternativas,
        )
    if isinstance(exc, NotYourBookingError):
        return failure(
            409,
            "not-your-booking",
            "That slot is booked or held by another user, not by this user",
            "Nothing was cancelled. Check this user's appointments with list_appointments and "
            "cancel one of those (same doctor_id and fecha_hora).",
        )
    if isinstance(exc, AlreadyBookedError):
        return failure(
            409,
            "already-booked",
            "This user has already booked this slot",
            "Nothing to do: it is in list_appointments.",
        )
    if isinstance(exc, HoldLimitError):
        return failure(
            409,
            "hold-limit",
            "This user already holds as many slots as allowed",
            "Book one of them, or release one with release_hold, then hold again.",
        )
    if isinstance(exc, HoldInvalidError):
        return failure(
            409,
            "hold-invalid",
            "The hold_id is expired, or names another slot or user",
            "Call hold_slot again for this slot (or book without hold_id), then book.",
        )
    if isinstance(exc, RescheduleError):
        return failure(
            409,
            "reschedule-failed",
            f"Nothing was moved: {exc}",
            "Check the user's appointments with list_appointments and pick a free slot with "
            "find_availability or list_doctor_slots.",
            reason=exc.reason,
        )
    return _other_failure(exc)


def _other_failure(exc: HealthApiError) -> CallToolResult:
    if isinstance(exc, DoctorNotFoundError):
        return failure(
            404,
            "doctor-not-found",
            f"Not found: {exc}",
            "Find the doctor_id with search_doctors or find_availability and use it as given.",
        )
    if isinstance(exc, NotFoundError):
        return failure(
            404,
            "not-found",
            f"Not found: {exc}",
            "Check the ids and times with search_doctors, find_availability or list_doctor_slots.",
        )
    if isinstance(exc, ConflictError):
        return failure(409, "conflict", str(exc), "Read the current state, then decide.")
    if isinstance(exc, SlotBlockedError):
        return failure(422, "slot-blocked", str(exc) or "The slot is blocked", "Pick another slot.")
    if isinstance(exc, InvalidCursorError):
        return failure(
            400,
            "invalid-cursor",
            "The cursor is not valid",
            "Call again without cursor to start from the first page.",
            errors={"cursor": [str(exc)]},
        )
    if isinstance(exc, InvalidRequestError):
        return failure(422, "invalid-request", str(exc), "Correct the request and try again.")
    if isinstance(exc, StorageRequestError):
        # Our bug, not the caller's: logged by operation and error code only (a chained
        # botocore error could quote the values sent).
        log.error(
            "the storage refused a request as invalid",
            extra={"operation": exc.operation, "error_code": exc.code},
        )
    else:
        log.error("unexpected domain error", extra={"error": type(exc).__name__})
    return unexpected_failure()


def unexpected_failure() -> CallToolResult:
    """An error of ours: the caller learns nothing about it but that it is logged."""
    return failure(
        500,
        "internal",
        "An unexpected error occurred; it has been logged",
        "Try again later; if it persists, tell the clinic.",
    )
