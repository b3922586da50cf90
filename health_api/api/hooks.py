"""Cross-cutting request hooks: request ids, CORS, security headers, JSON-only bodies, rate
limits, and the refusal of query parameters an operation does not take.

The rate limit is per key (by a hash of it, never the key), a fixed window counted in each
worker's memory (``ratelimit.py``; flask-limiter's per-request route and decorator resolution
cost about a fifth of a simple GET, measured with cProfile).
"""

from __future__ import annotations

import logging
import math
import random
import re
import time
from collections.abc import Callable

from flask import Flask, Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from health_api.api import idempotency
from health_api.api.blueprint import current_handler, query_parameters
from health_api.api.kernel import kernel, state
from health_api.api.problems import problem
from health_api.cors import CorsPolicy

access_log = logging.getLogger("health_api.access")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
BODY_METHODS = {"POST", "PUT", "PATCH"}
MAX_BODY_BYTES = 1024 * 1024


def _new_id() -> str:
    """A random request id: 128 bits in hex. Ids must be unique, not secret: Python's PRNG
    (reseeded in each forked worker) is enough, and a system call per request is not."""
    return f"{random.getrandbits(128):032x}"


def _request_id() -> None:
    g.started = time.perf_counter()
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if REQUEST_ID.match(given) else _new_id()


def _access_log(response: Response) -> Response:
    """One JSON line per request: the route template (never the path: it carries user ids),
    status, duration, request id, the key's role and its id (an HMAC, never the key); no query
    string, no body."""
    rule = request.url_rule.rule if request.url_rule is not None else None
    caller = g.get("caller")
    access_log.info(
        "request",
        extra={
            "method": request.method,
            "route": rule,
            "status": response.status_code,
            "duration_ms": round(
                (time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2
            ),
            "request_id": g.get("request_id"),
            "role": caller.role if caller is not None else None,
            "key_id": caller.key_id if caller is not None else None,
        },
    )
    return response


def _json_only() -> Response | None:
    """Bodies must be JSON: anything else is a 415 before any parsing happens."""
    if request.method not in BODY_METHODS or not request.path.startswith("/api/"):
        return None
    has_body = (request.content_length or 0) > 0 or request.headers.get("Transfer-Encoding")
    if not has_body:
        return None
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        return problem(415, "the body must be application/json", kind="unsupported-media-type")
    if request.content_length is None:
        # A chunked body has no Content-Length to refuse up front, and werkzeug stops reading it
        # at MAX_CONTENT_LENGTH without an error: the first MiB would be parsed as the whole
        # body. Read it now (cached for the parser) and refuse it if the client sent more.
        body = request.get_data(cache=True)
        if len(body) >= MAX_BODY_BYTES and request.environ["wsgi.input"].read(1):
            raise RequestEntityTooLarge()
    return None


def _preflight() -> Response | None:
    """A CORS preflight under /api/ is a 204 before authentication (a browser sends no key
    with it); the allowing headers only for a configured origin."""
    if not request.path.startswith("/api/"):
        return None
    if not CorsPolicy.is_preflight(request.method, request.headers.get):
        return None
    policy = state().cors
    return Response(status=204, headers=policy.preflight_headers(request.headers.get("Origin")))


def _headers(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id") or _new_id()
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.path.startswith("/api/"):
        # Patient data: no shared or private cache may keep a copy.
        response.headers["Cache-Control"] = "no-store"
        origin = request.headers.get("Origin")
        if origin is not None and "Access-Control-Allow-Origin" not in response.headers:
            policy = state().cors
            for name, value in policy.response_headers(origin).items():
                if name == "Vary":
                    response.vary.add(value)
                else:
                    response.headers[name] = value
    return response


def _rate_limit() -> Response | None:
    """Count the request against its key's window; past the limit, a 429 with Retry-After."""
    if not request.path.startswith("/api/"):
        return None  # probes and docs are never limited
    limiter = kernel().limiter
    caller = g.get("caller")
    key = (caller.rate_scope if caller is not None else None) or request.remote_addr or "anonymous"
    wait = limiter.hit(key, time.time())
    if wait is None:
        return None
    return problem(
        429,
        f"rate limit exceeded ({limiter.rate})",
        kind="rate-limited",
        headers={"Retry-After": str(max(1, math.ceil(wait)))},
    )


def _unknown_query() -> Response | None:
    """A query parameter the operation does not take is a 400 naming it: webargs would drop it
    silently, and a typo (``?especialidd=``) would widen the query to every doctor. The names
    each view takes come from its query schema (``Blueprint.arguments``)."""
    if not request.args or not request.path.startswith("/api/") or request.method == "OPTIONS":
        return None
    handler = current_handler()
    if handler is None:
        return None  # no such route or method: the 404 / 405 says more than a 400 would
    unknown = sorted(set(request.args) - query_parameters(handler))
    if not unknown:
        return None
    return problem(
        400,
        "unknown query parameter: " + ", ".join(unknown),
        kind="validation",
        errors={name: ["unknown query parameter"] for name in unknown},
    )


def register(
    app: Flask,
    authenticate: Callable[[], Response | None],
    authorize: Callable[[], Response | None],
) -> None:
    """Install, in this order: request id, the CORS preflight (before authentication: it
    carries no key), authentication, the JSON-only rule, the per-key rate limit (it needs the
    key), the role check (a 403 tells a caller without the role nothing more), the
    unknown-query-parameter rule, the Idempotency-Key claim (last: a refusal before it is
    never stored; ``idempotency.py``); and CORS headers on the way out."""
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES

    # One hook each way rather than six: Flask resolves and wraps every hook on every request.
    def before() -> Response | None:
        _request_id()
        return (
            _preflight()
            or authenticate()
            or _json_only()
            or _rate_limit()
            or authorize()
            or _unknown_query()
            or idempotency.before()
        )

    def after(response: Response) -> Response:
        return _access_log(_headers(idempotency.after(response)))

    app.before_request(before)
    app.after_request(after)
