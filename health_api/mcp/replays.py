"""MCP's answer codec for the idempotent-call wrapper (``kernel/idempotent.py``): how a tool
result is stored under an ``idempotency_key`` and replayed.

A result is stored as JSON (``RESULT_CONTENT_TYPE``): its text, its structured content, whether
it is an error and, for a failure, its problem document. Successes and rule failures
(404/409/422, ``STORED_FAILURES``) are stored; others are not (a retry runs again). A replay
carries ``_meta["health-api/idempotent-replayed"]``; a failure replays as it is answered now
(text, and the problem in ``_meta``); a record written by the REST API is another intent under
the same key. No session data nor booking reason is stored (``idempotency_answers.py``).
"""

from __future__ import annotations

import json
from typing import Any

from mcp.types import CallToolResult, TextContent

from health_api.mcp.results import PROBLEM_META, STORED_FAILURES, failure, problem_of, status_of
from health_api.services import idempotency, idempotency_answers
from health_api.storage.base import Storage

REPLAYED_META = "health-api/idempotent-replayed"
RESULT_CONTENT_TYPE = "application/vnd.health-api.mcp-result+json"


class ResultCodec:
    """Stores and replays tool results (see the module doc)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def encode(self, result: CallToolResult) -> idempotency.Answer | None:
        """The stored form of a success or a rule failure; None for any other result."""
        status = status_of(result)
        if not (status < 300 or status in STORED_FAILURES):
            return None
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

    def failed(self, result: CallToolResult) -> bool:
        """A 5xx: a write may have committed, so the retry takes the claim over."""
        return status_of(result) >= 500

    def decode(self, answer: idempotency.Answer) -> CallToolResult:
        """The replay of a stored result."""
        if answer.content_type != RESULT_CONTENT_TYPE:
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
            recalled, changed = idempotency_answers.recall(self.storage, forgotten)
            if forgot or changed:
                stored.update(text=idempotency_answers.dumps(recalled), structured=recalled)
                structured = recalled
        return CallToolResult(
            content=[TextContent(type="text", text=stored["text"])],
            structured_content=structured,
            is_error=stored["is_error"],
            meta=meta,
        )
