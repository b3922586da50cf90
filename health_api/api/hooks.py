"""Cross-cutting request hooks: request ids, security headers, JSON-only bodies, rate limits.

The rate limit is per key (by a hash of it, never the key), counted by flask-limiter in each
worker's memory: the limit is a guard against a runaway client, not patient data, so losing the
counters on restart is harmless; with N workers the effective ceiling is up to N times the rate.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from flask import Flask, Response, g, request
from flask_cors import CORS
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import RequestEntityTooLarge

from health_api.api.problems import problem

access_log = logging.getLogger("health_api.access")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
BODY_METHODS = {"POST", "PUT", "PATCH"}
MAX_BODY_BYTES = 1024 * 1024


def _request_id() -> None:
    g.started = time.perf_counter()
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex


def _access_log(response: Response) -> Response:
    """One JSON line per request: the route template (never the path: it carries user ids),
    status, duration, request id and the key's role; no query string, no body."""
    rule = request.url_rule.rule if request.url_rule is not None else None
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
            "role": g.get("role"),
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


def _headers(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id") or uuid.uuid4().hex
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.path.startswith("/api/"):
        # Patient data: no shared or private cache may keep a copy.
        response.headers["Cache-Control"] = "no-store"
    return response


def _rate_key() -> str:
    return g.get("key_id") or request.remote_addr or "anonymous"


def _too_many(exc: RateLimitExceeded) -> Response:
    retry_after = "60"
    limit = getattr(exc, "limit", None)
    if limit is not None:
        retry_after = str(int(limit.limit.get_expiry()))
    return problem(
        429,
        f"rate limit exceeded ({exc.description})",
        kind="rate-limited",
        headers={"Retry-After": retry_after},
    )


def register(app: Flask, authenticate: Callable[[], Response | None]) -> None:
    """Install, in this order: request id, authentication, the JSON-only rule, the per-key rate
    limit (it needs the key), and CORS when origins are configured."""
    settings = app.extensions["health_api.settings"]
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.before_request(_request_id)
    app.before_request(authenticate)
    app.before_request(_json_only)
    app.after_request(_headers)
    app.after_request(_access_log)
    limiter = Limiter(
        key_func=_rate_key,
        app=app,
        default_limits=[settings.rate_limit],
        storage_uri="memory://",
        headers_enabled=False,
        # Service endpoints and docs are not limited: probes must always get through.
        default_limits_exempt_when=lambda: not request.path.startswith("/api/"),
    )
    app.extensions["health_api.limiter"] = limiter
    app.register_error_handler(RateLimitExceeded, _too_many)
    if settings.cors_origins:
        CORS(
            app,
            resources={r"/api/*": {"origins": list(settings.cors_origins)}},
            expose_headers=["X-Request-ID", "Retry-After", "Location"],
        )
