"""How every tool call runs: who calls it, errors become ``isError`` results, the call's storage
resources are released afterwards (as a REST request's are at teardown), writes honour
``idempotency_key`` with the same records and rules as REST's ``Idempotency-Key``, and one log
line says what happened (tool, outcome, time, key id: never the arguments).

The caller is the :class:`~health_api.domain.caller.Caller` the HTTP transport authenticated
(an API key or a user token, left in the request's scope under ``SCOPE_KEY``), else the stdio
server's (its key or token).

Idempotency runs through the wrapper REST uses too (``kernel/idempotent.py``): the record key is
the caller's ``idempotency_scope`` plus ``idempotency_key`` (so an agent's keys never meet
another's); the fingerprint is the tool name plus its canonical JSON arguments; the answer codec
is :class:`~health_api.mcp.replays.ResultCodec`. A repeat replays the stored result (``_meta``
says so); another call under the same key is an ``idempotency-key-reused`` failure; a repeat
while the first runs is ``in-flight``. Successes and rule failures (404/409/422) are stored;
5xx are not: a retry runs again. Without ``idempotency_key`` nothing is derived: each call runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from mcp.types import CallToolResult

from health_api.domain.caller import Caller
from health_api.domain.errors import HealthApiError
from health_api.kernel.bootstrap import Kernel
from health_api.kernel.idempotent import REPLAY, REUSED, IdempotentCall
from health_api.mcp.replays import ResultCodec
from health_api.mcp.results import (
    ArgumentError,
    argument_failure,
    domain_failure,
    failure,
    problem_of,
    status_of,
    unexpected_failure,
)
from health_api.services import idempotency

log = logging.getLogger("health_api.mcp")

# Where the HTTP transport's authentication leaves the caller (the ASGI scope's state).
SCOPE_KEY = "health_api.caller"


def caller_of(kernel: Kernel, request: Any) -> Caller:
    """The caller of a tool call: the one the HTTP transport authenticated (``request`` is
    the Starlette request of the call), else the stdio server's."""
    if request is not None:
        caller = request.scope.get("state", {}).get(SCOPE_KEY)
        if isinstance(caller, Caller):
            return caller
    if kernel.stdio_caller is not None:
        return kernel.stdio_caller
    # Unreachable behind the HTTP app (it answers 401 first); refuse rather than guess.
    raise PermissionError("no authenticated key for this call")


def run_tool(
    kernel: Kernel,
    caller: Caller,
    tool: str,
    action: Callable[[], CallToolResult],
    *,
    arguments: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> CallToolResult:
    """Run ``action`` (a tool's body) for ``caller``; ``arguments`` (without the key) are the
    fingerprint of a write called with ``idempotency_key``."""
    started = time.perf_counter()
    outcome = "ok"
    try:
        if idempotency_key is None:
            result = _guarded(kernel, action)
        else:
            result, outcome = _idempotent(
                kernel, caller, tool, action, dict(arguments or {}), idempotency_key
            )
    finally:
        kernel.storage.end_request()
    if result.is_error and outcome == "ok":
        outcome = problem_of(result).get("type", "error").rsplit("/", 1)[-1]
    log.info(
        "tool call",
        extra={
            "tool": tool,
            "outcome": outcome,
            "status": status_of(result),
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "role": caller.role,
            "key_id": caller.key_id,
        },
    )
    return result


def _guarded(kernel: Kernel, action: Callable[[], CallToolResult]) -> CallToolResult:
    try:
        return action()
    except ArgumentError as exc:
        return argument_failure(exc)
    except HealthApiError as exc:
        return domain_failure(exc, kernel.zone)
    except Exception:
        # The trace goes to the server's log (tracebacks name code, not values); the caller
        # learns only that it is logged.
        log.exception("tool call failed unexpectedly")
        return unexpected_failure()


def _refusal(outcome: str) -> CallToolResult:
    if outcome == REUSED:
        return failure(
            422,
            "idempotency-key-reused",
            "This idempotency_key was used for another call (other tool or arguments)",
            "A new intent needs a new idempotency_key.",
        )
    return failure(
        409,
        "idempotency-key-in-flight",
        "A call with this idempotency_key is still running",
        "Try again in 1 s with the same idempotency_key.",
        retry_after=1,
    )


def _idempotent(
    kernel: Kernel,
    caller: Caller,
    tool: str,
    action: Callable[[], CallToolResult],
    arguments: dict[str, Any],
    key: str,
) -> tuple[CallToolResult, str]:
    call = IdempotentCall.of(
        kernel.storage.idempotency,
        kernel.settings,
        ResultCodec(kernel.storage),
        scope=caller.idempotency_scope,
        key=key,
        fingerprint=idempotency.call_fingerprint(tool, arguments),
        log_extra={"tool": tool},
    )
    try:
        outcome, result = call.run(lambda: _guarded(kernel, action), _refusal)
    except HealthApiError as exc:
        return domain_failure(exc, kernel.zone), "ok"
    return result, "replayed" if outcome == REPLAY else "ok"
