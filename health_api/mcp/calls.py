"""How every tool call runs: errors become ``isError`` results, the call's storage resources are
released afterwards (as a REST request's are at teardown), writes honour ``idempotency_key``
with the same records and rules as REST's ``Idempotency-Key``, and one log line says what
happened (tool, outcome, time, key id: never the arguments).

Idempotency: the record key is the caller's scope id (``keys.scope_id``) plus
``idempotency_key`` (so an agent's keys never meet another's); the fingerprint is the tool name
plus its canonical JSON arguments. A repeat replays the stored result (``_meta`` says so; a
failure replays as it is answered now: text, and the problem in ``_meta``); another call under
the same key is an ``idempotency-key-reused`` failure; a repeat while the first runs is
``in-flight``. Successes and rule failures (404/409/422) are stored; argument errors and 5xx are
not: a retry runs again. Without ``idempotency_key`` nothing is derived: each call runs.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from mcp.types import CallToolResult, TextContent

from health_api.domain.errors import HealthApiError
from health_api.mcp.results import (
    PROBLEM_META,
    STORED_FAILURES,
    ArgumentError,
    argument_failure,
    domain_failure,
    failure,
    problem_of,
    status_of,
    unexpected_failure,
)
from health_api.mcp.runtime import Caller, Runtime
from health_api.services import idempotency, idempotency_answers

log = logging.getLogger("health_api.mcp")

REPLAYED_META = "health-api/idempotent-replayed"
RESULT_CONTENT_TYPE = "application/vnd.health-api.mcp-result+json"


def run_tool(
    runtime: Runtime,
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
            result = _guarded(runtime, action)
        else:
            result, outcome = _idempotent(
                runtime, caller, tool, action, dict(arguments or {}), idempotency_key
            )
    finally:
        runtime.storage.end_request()
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


def _guarded(runtime: Runtime, action: Callable[[], CallToolResult]) -> CallToolResult:
    try:
        return action()
    except ArgumentError as exc:
        return argument_failure(exc)
    except HealthApiError as exc:
        return domain_failure(exc, runtime.zone)
    except Exception:
        # The trace goes to the server's log (tracebacks name code, not values); the caller
        # learns only that it is logged.
        log.exception("tool call failed unexpectedly")
        return unexpected_failure()


def _idempotent(
    runtime: Runtime,
    caller: Caller,
    tool: str,
    action: Callable[[], CallToolResult],
    arguments: dict[str, Any],
    key: str,
) -> tuple[CallToolResult, str]:
    repository = runtime.storage.idempotency
    settings = runtime.settings
    try:
        decision = idempotency.begin(
            repository,
            idempotency.record_key(caller.scope_id, key),
            idempotency.call_fingerprint(tool, arguments),
            ttl_seconds=settings.idempotency_ttl_seconds,
            lease_seconds=settings.idempotency_lease_seconds,
        )
    except HealthApiError as exc:
        return domain_failure(exc, runtime.zone), "ok"
    if decision.outcome == idempotency.REPLAY:
        return _replayed(decision.answer, runtime), "replayed"
    if decision.outcome == idempotency.REUSED:
        return failure(
            422,
            "idempotency-key-reused",
            "This idempotency_key was used for another call (other tool or arguments)",
            "A new intent needs a new idempotency_key.",
        ), "ok"
    if decision.outcome == idempotency.IN_FLIGHT:
        return failure(
            409,
            "idempotency-key-in-flight",
            "A call with this idempotency_key is still running",
            "Try again in 1 s with the same idempotency_key.",
            retry_after=1,
        ), "ok"
    result = _guarded(runtime, action)
    status = status_of(result)
    try:
        if status < 300 or status in STORED_FAILURES:
            idempotency.finish(
                repository, decision, _answer(result, status), settings.idempotency_ttl_seconds
            )
        else:
            idempotency.abandon(repository, decision, failed=status >= 500)
    except HealthApiError:
        # The call itself happened; only its record failed. A retry with the key runs again,
        # and every write tool is safe to repeat by its own rules (same user, same slot).
        log.warning("idempotency record not stored", extra={"tool": tool})
    return result, "ok"


def _answer(result: CallToolResult, status: int) -> idempotency.Answer:
    stored = {
        "text": "".join(c.text for c in result.content if isinstance(c, TextContent)),
        "structured": result.structured_content,
        "is_error": bool(result.is_error),
    }
    if result.is_error:
        stored["problem"] = problem_of(result)
    else:
        # No session data nor booking reason is stored; the text is the structure's JSON.
        forgotten, changed = idempotency_answers.forget(result.structured_content)
        if changed:
            stored.update(text=idempotency_answers.dumps(forgotten), structured=forgotten)
    body = json.dumps(stored, ensure_ascii=False, separators=(",", ":"))
    return idempotency.Answer(status=status, body=body, content_type=RESULT_CONTENT_TYPE)


def _replayed(answer: idempotency.Answer | None, runtime: Runtime) -> CallToolResult:
    if answer is None or answer.content_type != RESULT_CONTENT_TYPE:
        # The key's record was written by the REST API: another intent under the same key.
        return failure(
            422,
            "idempotency-key-reused",
            "This idempotency_key was used for another request",
            "A new intent needs a new idempotency_key.",
        )
    stored = json.loads(answer.body)
    structured = stored.get("structured")
    meta: dict[str, Any] = {REPLAYED_META: True}
    if stored["is_error"]:
        # Records written before v1.2 kept the problem as structured content: a failure
        # never carries it there (TypeScript clients would drop the result), so it moves.
        meta[PROBLEM_META] = stored.get("problem") or structured
        structured = None
    else:
        # Session data and booking reasons as they are now (gone once deleted or cancelled).
        forgotten, forgot = idempotency_answers.forget(stored["structured"])
        recalled, changed = idempotency_answers.recall(runtime.storage, forgotten)
        if forgot or changed:
            stored.update(text=idempotency_answers.dumps(recalled), structured=recalled)
            structured = recalled
    return CallToolResult(
        content=[TextContent(type="text", text=stored["text"])],
        structured_content=structured,
        is_error=stored["is_error"],
        meta=meta,
    )
