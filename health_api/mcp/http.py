"""The Streamable HTTP app: ``/mcp`` behind an Origin check and bearer keys, plus probes.

- An ``Origin`` header that is not in ``HEALTH_API_CORS_ORIGINS`` is a 403 before anything
  else (the MCP transport's DNS-rebinding rule: a web page must not drive a local server).
  Clients that are not browsers send no ``Origin``.
- No key, or an unknown one, is a 401 (problem+json, ``WWW-Authenticate: Bearer``) before any
  MCP session exists; ``agent`` and ``admin`` keys pass, and the key travels to the tools in
  the request's scope.
- Stateless, JSON-answering Streamable HTTP: every POST stands alone, so replicas behind a
  plain load balancer need no sticky sessions, and a restart loses nothing.
- Each key may make ``HEALTH_API_RATE_LIMIT`` requests (as on REST; counted in this process):
  past it, a 429 with ``Retry-After``.
- ``/healthz`` (process up) and ``/readyz`` (storage answers) need no key, for probes.
- Every response (tool results, probes, refusals) carries ``Cache-Control: no-store`` and
  ``X-Content-Type-Options: nosniff``, as REST does.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import anyio
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from health_api.keys import authenticate, key_id
from health_api.mcp.runtime import SCOPE_KEY, Runtime
from health_api.mcp.server import HealthMCPServer
from health_api.ratelimit import FixedWindowLimiter
from health_api.services import readiness

MCP_PATH = "/mcp"
PROBLEM_JSON = "application/problem+json"


def build_http_app(runtime: Runtime, server: HealthMCPServer) -> ASGIApp:
    """The ASGI app serving ``server`` at ``/mcp`` for ``runtime``'s keys and origins."""

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @server.custom_route("/readyz", methods=["GET"])
    async def readyz(_request: Request) -> Response:
        ready = await anyio.to_thread.run_sync(_ready, runtime)
        if ready.ok:
            return JSONResponse({"status": "ready"})
        return _problem(503, "not-ready", ready.detail, {"Retry-After": "5"})

    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        # Origins are checked by Guard (with the REST service's allowed origins); the SDK's
        # Host allow-list would refuse every name a load balancer or Service gives us.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    return NoStore(Guard(app, runtime))


def _ready(runtime: Runtime) -> readiness.Readiness:
    try:
        return readiness.check_readiness(runtime.storage)
    finally:
        runtime.storage.end_request()


class Guard:
    """ASGI middleware: Origin, then bearer key, for every request under ``/mcp``."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self.origins = frozenset(runtime.settings.cors_origins)
        self.limiter = FixedWindowLimiter(runtime.settings.rate_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _under_mcp(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        origin = headers.get("origin")
        if origin is not None and origin not in self.origins and "*" not in self.origins:
            response = _problem(403, "forbidden-origin", "this Origin may not call the server")
            await response(scope, receive, send)
            return
        api_key = authenticate(self.runtime.keys, headers.get("authorization"))
        if api_key is None:
            response = _problem(
                401,
                "unauthorized",
                "a valid bearer key is required",
                {"WWW-Authenticate": 'Bearer realm="health-api"'},
            )
            await response(scope, receive, send)
            return
        wait = self.limiter.hit(key_id(api_key.key), time.time())
        if wait is not None:
            response = _problem(
                429,
                "rate-limited",
                f"rate limit exceeded ({self.limiter.rate})",
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[SCOPE_KEY] = api_key
        await self.app(scope, receive, send)


class NoStore:
    """ASGI middleware, outermost: no cache may keep a response (tool results hold patient
    data), and no browser may sniff one into another content type."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Cache-Control"] = "no-store"
                headers["X-Content-Type-Options"] = "nosniff"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _under_mcp(path: str) -> bool:
    return path == MCP_PATH or path.startswith(MCP_PATH + "/")


def _headers(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        found.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return found


def _problem(
    status: int, kind: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    titles = {
        401: "Unauthorized",
        403: "Forbidden",
        429: "Too Many Requests",
        503: "Service Unavailable",
    }
    body: dict[str, Any] = {
        "type": f"/problems/{kind}",
        "title": titles[status],
        "status": status,
        "detail": detail,
    }
    return Response(json.dumps(body), status_code=status, headers=headers, media_type=PROBLEM_JSON)
