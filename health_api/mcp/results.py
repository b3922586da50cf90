"""Tool results: a success carries the REST shape as ``structuredContent`` (and as JSON text,
for clients that read only text); a failure is ``isError: true`` with text that tells an agent
what happened and what to do next, and the REST problem document in
``_meta["health-api/problem"]``, never as ``structuredContent``: clients built on the
TypeScript SDK (the MCP Inspector, desktop hosts) validate ``structuredContent`` against the
tool's ``outputSchema`` even on errors, and drop a result that does not match.

A domain error's status, problem type, sentence and advice are its entry of the error
catalogue (``kernel/catalogue.py``), which REST renders too. Failures are returned, not raised,
so neither the SDK nor this server logs their text; a malformed value (a time that does not
parse) is quoted back to the caller, as REST does.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from zoneinfo import ZoneInfo

from mcp.types import CallToolResult, TextContent

from health_api.domain.errors import HealthApiError, StorageRequestError
from health_api.kernel.catalogue import STORED_STATUSES, entry_for

log = logging.getLogger("health_api.mcp")

# Failures with these statuses come from the rules, after the tool ran: an idempotency key
# stores them (as REST stores its 404/409/422). Others (5xx, 400) are not stored.
STORED_FAILURES = STORED_STATUSES

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


def domain_failure(exc: HealthApiError, tz: ZoneInfo) -> CallToolResult:
    """The ``isError`` result for a domain error raised by a service: its entry of the error
    catalogue (``kernel/catalogue.py``, shared with REST), its sentence and advice as text."""
    entry = entry_for(exc)
    if entry.internal:
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
    fields = entry.fields(exc, tz)
    if entry.retry_after is not None:
        fields["retry_after"] = entry.retry_after(exc)
    return failure(entry.status, entry.kind, entry.text(exc), entry.advice(exc, fields), **fields)


def unexpected_failure() -> CallToolResult:
    """An error of ours: the caller learns nothing about it but that it is logged."""
    return failure(
        500,
        "internal",
        "An unexpected error occurred; it has been logged",
        "Try again later; if it persists, tell the clinic.",
    )
