"""Every error as ``application/problem+json`` (RFC 9457), never a stack trace.

Domain errors are answered by their entry of the error catalogue (``kernel/catalogue.py``,
shared with MCP); HTTP errors from werkzeug and flask-smorest (404, 405,
413, webargs' 400/422) are reshaped into the same document. Validation errors carry
``errors: {"field": ["message", ...]}`` with nested fields flattened to dotted paths.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, json
from werkzeug.exceptions import HTTPException

from health_api.domain.errors import HealthApiError, StorageRequestError
from health_api.kernel.catalogue import TITLES, entry_for

PROBLEM_JSON = "application/problem+json"


class ParameterError(Exception):
    """A parameter that does not parse: 400 for query and path values, 422 for body fields."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


log = logging.getLogger("health_api.errors")

# TITLES re-exported: the OpenAPI document names error responses by them.
__all__ = ["PROBLEM_JSON", "TITLES", "ParameterError", "domain_problem", "problem", "register"]


def problem(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    """A problem+json response; ``kind`` becomes the ``type`` URI ``/problems/<kind>``."""
    body: dict[str, Any] = {
        "type": f"/problems/{kind}" if kind else "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = dict(errors)
    body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow/webargs messages -> ``{"dotted.field": ["message", ...]}``."""
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten(value, name))
        return flat
    if isinstance(messages, list | tuple) and all(isinstance(m, str) for m in messages):
        return {prefix or "_schema": list(messages)}
    if isinstance(messages, list | tuple):
        flat = {}
        for index, value in enumerate(messages):
            flat.update(flatten(value, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    return {prefix or "_schema": [str(messages)]}


def _validation_errors(exc: HTTPException) -> dict[str, list[str]]:
    messages = (getattr(exc, "data", None) or {}).get("messages") or {}
    # webargs nests messages under the location (json, query, path): drop that level.
    if isinstance(messages, Mapping) and set(messages) <= {"json", "query", "path", "headers"}:
        merged: dict[str, list[str]] = {}
        for location_messages in messages.values():
            merged.update(flatten(location_messages))
        return merged
    return flatten(messages)


def domain_problem(exc: HealthApiError) -> Response:
    """The response for a domain error raised by a service or a repository: its entry of the
    catalogue (``kernel/catalogue.py``) as a problem document."""
    entry = entry_for(exc)
    if entry.internal:
        return _storage_bug(exc) if isinstance(exc, StorageRequestError) else _internal(exc)
    from health_api.api.views import clinic_zone

    headers = {}
    if entry.retry_after is not None:
        headers["Retry-After"] = str(entry.retry_after(exc))
    if entry.challenge is not None:
        headers["WWW-Authenticate"] = entry.challenge(exc)
    fields = entry.fields(exc, clinic_zone())
    return problem(
        entry.status, entry.detail(exc), kind=entry.kind, headers=headers or None, **fields
    )


def _storage_bug(exc: StorageRequestError) -> Response:
    # A request the store refused as malformed is our bug: retrying cannot help, so a 500,
    # not a 503. Logged by operation and error code only: no trace, whose chained botocore
    # error could quote the values sent (patient data).
    log.error(
        "the storage refused a request as invalid",
        extra={
            "request_id": g.get("request_id"),
            "operation": exc.operation,
            "error_code": exc.code,
        },
    )
    return problem(500, "an unexpected error occurred; it has been logged")


def http_problem(exc: HTTPException) -> Response:
    """Reshape a werkzeug/flask-smorest HTTP error into problem+json."""
    status = exc.code or 500
    if status >= 500:
        return _internal(exc)
    headers = {}
    valid_methods = getattr(exc, "valid_methods", None)
    if status == 405 and valid_methods:
        headers["Allow"] = ", ".join(sorted(valid_methods))
    if status in (400, 422):
        errors = _validation_errors(exc)
        messages = (getattr(exc, "data", None) or {}).get("messages") or {}
        if (
            status == 422
            and isinstance(messages, Mapping)
            and messages
            and set(messages) <= {"query", "path"}
        ):
            status = 400  # the contract: a bad query parameter is a 400, a bad body a 422
        if errors:
            detail = "the request is malformed" if status == 400 else "the request is invalid"
            return problem(status, detail, kind="validation", errors=errors, headers=headers)
    detail = exc.description if isinstance(exc.description, str) else TITLES.get(status, "")
    return problem(status, detail or TITLES.get(status, "error"), headers=headers)


def _internal(exc: BaseException) -> Response:
    # The trace goes to the log with the request id; the client learns nothing about it.
    log.error(
        "unhandled error",
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"request_id": g.get("request_id")},
    )
    return problem(500, "an unexpected error occurred; it has been logged")


def parameter_problem(exc: ParameterError) -> Response:
    """A parameter that the schema accepted but that does not parse (a time, a zone, a path
    id); the detail names it and says why, so a client that shows only ``detail`` can fix it."""
    detail = "the request is malformed" if exc.status == 400 else "the request is invalid"
    detail = f"{detail}: {exc.field}: {exc}"
    return problem(exc.status, detail, kind="validation", errors={exc.field: [str(exc)]})


def register(app: Flask) -> None:
    """Install the handlers on ``app`` (domain errors, HTTP errors, anything else)."""
    app.register_error_handler(ParameterError, parameter_problem)
    app.register_error_handler(HealthApiError, domain_problem)
    app.register_error_handler(HTTPException, http_problem)
    app.register_error_handler(
        RecursionError,
        lambda exc: problem(400, "the JSON body is nested too deeply", kind="validation"),
    )
    app.register_error_handler(Exception, _internal)
