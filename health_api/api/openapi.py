"""The OpenAPI document: errors as problem+json, bearer security, roles and common headers.

flask-smorest documents the success response of each view from its decorators; everything the
cross-cutting layers add (auth, the JSON-only rule, body limits, rate limits, storage faults,
the request id) is written into the document here, once, so it matches what the hooks do.
"""

from __future__ import annotations

import http
import re
from typing import Any

from flask import Flask
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from health_api.api import openapi_access as access
from health_api.api.auth import required_role, user_scope
from health_api.api.idempotency import ignored
from health_api.api.operations import OPERATION_IDS, PATH_PARAMETERS, SERVICE_PATHS
from health_api.api.problems import PROBLEM_JSON, TITLES
from health_api.schemas.common import MAX_CURSOR_LENGTH, Problem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's X-Request-ID when it was a valid one, else a new id.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "string", "pattern": r"^\d+$"},
    },
    "Location": {
        "description": "The URL of the new resource.",
        "required": True,
        "schema": {"type": "string"},
    },
    "WWW-Authenticate": {
        "description": "The Bearer challenge.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "``true`` when this is the stored answer of an earlier request with the "
        "same Idempotency-Key, replayed byte for byte (nothing ran again).",
        "required": False,
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After-In-Flight": {
        "description": "With ``/problems/idempotency-key-in-flight``: seconds to wait (1) "
        "before sending the same request again.",
        "required": False,
        "schema": {"type": "string", "pattern": r"^\d+$"},
    },
}
WRITE_METHODS = ("post", "put", "patch", "delete")
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes the request safe to send again (draft-ietf-httpapi-idempotency-key-header): an "
        'RFC 8941 string (``"abc"``) or a bare token, 1-255 printable ASCII characters, scoped '
        "to the API key, or to a user token's user (every token of one user shares them). The "
        "first request runs and its answer (2xx, or a 404/409/422 of the "
        "domain rules) is kept for ``HEALTH_API_IDEMPOTENCY_TTL_SECONDS``; a repeat with the same "
        "method, path, query and body gets that answer again with ``Idempotent-Replayed: true``; "
        "the same key with another request is a 422 ``/problems/idempotency-key-reused``; a "
        "repeat while the first still runs is a 409 ``/problems/idempotency-key-in-flight`` with "
        "``Retry-After: 1``. An empty, longer, non-printable or repeated header is a 400."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 257},
}

ERRORS = {
    400: "Malformed JSON body, a bad or unknown query parameter, or a path value that is not an "
    "id or a time (``errors`` names it), or a bad cursor.",
    401: access.UNAUTHORIZED,
    403: "The credential may not do this (``/problems/forbidden``).",
    404: "No such resource.",
    409: "State conflict.",
    413: "The body is over 1 MiB.",
    414: "The request line (method, path and query) is longer than the HTTP server accepts "
    "(gunicorn's ``limit_request_line``, 4094 bytes by default). Answered by the server before "
    "the application, as a short text/html page, not problem+json. The application's own "
    f"limits (ids of 1-128 characters: 400; cursors of at most {MAX_CURSOR_LENGTH} characters: "
    "400) are lower, so a request within them always reaches the application.",
    415: "The body is not application/json.",
    422: "Well-formed but invalid; ``errors`` names each field.",
    429: "Rate limit of the key exceeded, or too many failed authentications from the client "
    "address (``HEALTH_API_AUTH_FAILURE_LIMIT``): then every request from that address, until "
    "``Retry-After`` seconds have passed.",
    431: "A header line is longer than the HTTP server accepts (gunicorn's "
    "``limit_request_field_size``, 8190 bytes by default) or there are more than "
    "``limit_request_fields`` (100) headers. Answered by the server before the application, as "
    "a short text/html page, not problem+json.",
    500: "An unexpected server fault (logged with the request id; no details).",
    503: "The storage is unavailable or throttled.",
}
ERROR_HEADERS = {401: ("WWW-Authenticate",), 429: ("Retry-After",), 503: ("Retry-After",)}
# Statuses the HTTP server (gunicorn) answers on its own, before the application: any operation
# may meet them, with the server's HTML page and none of the application's headers.
SERVER_ERRORS = (414, 431)
SERVER_ERROR_CONTENT = {"text/html": {"schema": {"type": "string"}}}
SUCCESS_HEADERS = {
    ("post", "/api/v1/doctors"): ("Location",),
    ("post", "/api/v1/holds"): ("Location",),
}

# Bodies that take one of several forms: each form names its required and optional properties
# of the one marshmallow schema that loads them all (which refuses a mix of forms).
ONE_OF_BODIES = {
    "ScheduleCreate": {
        "ScheduleSlots": (("slots",), ()),
        "ScheduleRule": (
            ("desde", "hasta", "dias", "hora_inicio", "hora_fin", "duracion_min"),
            ("zona_horaria",),
        ),
    },
}


class ProblemApi(Api):
    """flask-smorest with our Problem schema as its error schema, served as problem+json.

    No ``default`` response: each operation lists the error statuses it can answer with.
    """

    ERROR_SCHEMA = Problem
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_responses(self) -> None:
        # The lazily registered responses that @blp.arguments refers to (422), as problem+json.
        for status in http.HTTPStatus:
            if status < 400:
                continue
            response = {"description": status.phrase, "schema": self.ERROR_SCHEMA}
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)


def document(api: Api, app: Flask) -> None:
    """Complete the generated document; call once every blueprint is registered."""
    spec = api.spec
    for name, header in {**HEADERS, **access.HEADERS}.items():
        spec.components.header(name, header)
    for name, forms in ONE_OF_BODIES.items():
        _split_forms(spec.components.schemas, name, forms)
    views = operation_views(app)
    paths = spec._paths  # apispec keeps the built paths here
    served = {rule.rule for rule in app.url_map.iter_rules()}
    # The JWK Set is H1's route: described here whenever the app serves it.
    extra = {access.JWKS_PATH: access.JWKS} if access.JWKS_PATH in served else {}
    for path, operations in {**SERVICE_PATHS, **extra}.items():
        paths[path] = dict(operations)
    for path, operations in paths.items():
        _describe_path_parameters(operations.get("parameters", []))
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            if (method, path) in OPERATION_IDS:
                operation["operationId"] = OPERATION_IDS[(method, path)]
            view = views.get((method, path))
            role = None if view is None else required_role(view)
            statuses = _error_statuses(path, method, operation, role)
            if role is not None:
                access.describe(operation, role, user_scope(view))
            success = SUCCESS_HEADERS.get((method, path), ())
            keyed = method in WRITE_METHODS and path.startswith("/api/") and not ignored(view)
            if keyed:
                operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_KEY))
                statuses |= {400, 409, 422}  # a bad key; the key in flight; the key reused
                success = (*success, "Idempotent-Replayed")
            _write_responses(operation, statuses, success)
            if role is not None:
                refused = operation["responses"]["403"]
                refused["description"] = access.forbidden(role, user_scope(view))
                if user_scope(view) is not None:
                    access.with_challenge(refused)
            if keyed:
                in_flight = {"$ref": "#/components/headers/Retry-After-In-Flight"}
                operation["responses"]["409"]["headers"]["Retry-After"] = in_flight
    # Every error response is now written out in full: nothing refers to the shared ones.
    spec.components.responses.clear()


def operation_views(app: Flask) -> dict[tuple[str, str], Any]:
    """``(method, openapi path) -> view method`` of every /api view (its marks say the role it
    needs, its user scope, and whether it ignores ``Idempotency-Key``)."""
    views = {}
    for rule in app.url_map.iter_rules():
        view_class = getattr(app.view_functions.get(rule.endpoint), "view_class", None)
        if view_class is None or not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            view = getattr(view_class, method.lower(), None)
            if view is not None:
                views[(method.lower(), path)] = view
    return views


def _describe_path_parameters(parameters: list) -> None:
    for parameter in parameters:
        if isinstance(parameter, dict) and parameter.get("in") == "path":
            parameter.update(PATH_PARAMETERS.get(parameter["name"], {}))


def _split_forms(schemas: dict, name: str, forms: dict) -> None:
    properties = schemas[name]["properties"]
    for form, (required, optional) in forms.items():
        schemas[form] = {
            "type": "object",
            "properties": {p: properties[p] for p in (*required, *optional)},
            "required": list(required),
            "additionalProperties": False,
        }
    schemas[name] = {"oneOf": [{"$ref": f"#/components/schemas/{form}"} for form in forms]}


def _error_statuses(path: str, method: str, operation: dict, role: str | None) -> set[int]:
    statuses = {int(s) for s in operation.get("responses", {}) if s.isdigit() and int(s) >= 400}
    parameters = operation.get("parameters", [])
    in_query = any(p.get("in") == "query" for p in parameters if isinstance(p, dict))
    if "requestBody" in operation:
        statuses |= {400, 413, 415, 422}
    elif in_query:
        statuses.discard(422)  # webargs says 422 for a bad query value; the contract says 400
    if in_query or path.startswith("/api/"):
        statuses.add(400)  # every /api operation refuses a query parameter it does not take
    if "{" in path:
        statuses.add(404)
    if role is not None:
        statuses |= {401, 403, 429, 500, 503}
    if path == "/readyz":
        statuses.add(503)
    return statuses | set(SERVER_ERRORS)


def _write_responses(operation: dict, statuses: set[int], success_headers: tuple[str, ...]) -> None:
    responses = operation.setdefault("responses", {})
    for status in [s for s in responses if not s.isdigit() or int(s) >= 400]:
        if not status.isdigit() or int(status) not in statuses:
            del responses[status]
    for status, response in responses.items():
        if status.isdigit() and int(status) < 400 and "$ref" not in response:
            _add_headers(response, ("X-Request-ID", *success_headers))
    for status in sorted(statuses):
        given = responses.get(str(status), {})
        description = given.get("description")
        if not description or description == http.HTTPStatus(status).phrase:
            description = ERRORS.get(status) or TITLES.get(status, "Error")
        if status == 503 and operation.get("tags") == ["service"]:
            description = "Not ready: the storage does not answer or a table differs from its spec."
        if status in SERVER_ERRORS:
            responses[str(status)] = {"description": description, "content": SERVER_ERROR_CONTENT}
            continue
        response = {
            "description": description,
            "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
        }
        _add_headers(response, ("X-Request-ID", *ERROR_HEADERS.get(status, ())))
        responses[str(status)] = response
    # Status codes in order, so the document reads like the contract.
    operation["responses"] = dict(sorted(responses.items()))


def _add_headers(response: dict, names: tuple[str, ...]) -> None:
    headers = response.setdefault("headers", {})
    for name in names:
        headers[name] = {"$ref": f"#/components/headers/{name}"}
