"""The Streamable HTTP app: ``/mcp`` behind an Origin check and bearer keys, plus probes.

- A CORS preflight is a 204 with no key (``health_api.cors``, as on REST); responses to an
  allowed origin carry the CORS headers.
- An ``Origin`` header that is not in ``HEALTH_API_CORS_ORIGINS`` is a 403 before anything
  else (the MCP transport's DNS-rebinding rule: a web page must not drive a local server).
  Clients that are not browsers send no ``Origin``.
- A client address that spent its failed authentications (``HEALTH_API_AUTH_FAILURE_LIMIT``;
  the address by the rule of ``health_api.clients``, as on REST) is a 429 until its window ends.
- No key, or an unknown one, is a 401 (problem+json, ``WWW-Authenticate: Bearer``, a detail
  that says which case it is) before any MCP session exists; a user token that does not verify
  (for the audience ``HEALTH_API_MCP_PUBLIC_URL`` when set, else ``HEALTH_API_TOKEN_AUDIENCE``)
  is a 401 ``invalid-token`` (``error="invalid_token"``). With the public URL set, every 401's
  challenge names the RFC 9728 metadata (``resource_metadata=...``, see ``resource``).
  ``agent`` and ``admin`` keys and user tokens pass, and their caller travels to the tools in
  the request's scope; an ``issuer`` key (it only mints tokens) is a 403.
- Stateless, JSON-answering Streamable HTTP: every POST stands alone, so replicas behind a
  plain load balancer need no sticky sessions, and a restart loses nothing.
- Each key, and each token user, may make ``HEALTH_API_RATE_LIMIT`` requests (as on REST;
  counted in this process): past it, a 429 with ``Retry-After``.
- ``/healthz`` (process up) and ``/readyz`` (storage answers) need no key, for probes; nor does
  the protected-resource metadata (with the public URL set).
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

from health_api.clients import client_address
from health_api.cors import MCP_HEADERS, CorsPolicy
from health_api.domain.caller import AGENT, Caller
from health_api.kernel.bootstrap import Kernel
from health_api.kernel.catalogue import TITLES
from health_api.kernel.credentials import authenticate
from health_api.mcp.calls import SCOPE_KEY
from health_api.mcp.resource import metadata_document, metadata_paths, with_metadata
from health_api.mcp.server import HealthMCPServer
from health_api.services import readiness

MCP_PATH = "/mcp"
PROBLEM_JSON = "application/problem+json"


def build_http_app(kernel: Kernel, server: HealthMCPServer) -> ASGIApp:
    """The ASGI app serving ``server`` at ``/mcp`` for ``kernel``'s keys and origins."""

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @server.custom_route("/readyz", methods=["GET"])
    async def readyz(_request: Request) -> Response:
        ready = await anyio.to_thread.run_sync(_ready, kernel)
        if ready.ok:
            return JSONResponse({"status": "ready"})
        return _problem(503, "not-ready", ready.detail, {"Retry-After": "5"})

    public_url = kernel.settings.mcp_public_url
    if public_url:

        async def resource_metadata(_request: Request) -> Response:
            return JSONResponse(metadata_document(kernel))

        for path in metadata_paths(public_url):
            server.custom_route(path, methods=["GET"])(resource_metadata)

    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        # Origins are checked by Guard (with the REST service's allowed origins); the SDK's
        # Host allow-list would refuse every name a load balancer or Service gives us.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    return NoStore(Guard(app, kernel))


def _ready(kernel: Kernel) -> readiness.Readiness:
    try:
        return readiness.check_readiness(kernel.storage)
    finally:
        kernel.storage.end_request()


class Guard:
    """ASGI middleware for every request under ``/mcp``: CORS preflight, Origin, the failed
    authentication limit, bearer key or user token, then the per-caller rate limit."""

    def __init__(self, app: ASGIApp, kernel: Kernel) -> None:
        settings = kernel.settings
        self.app = app
        self.kernel = kernel
        self.cors = CorsPolicy(settings.cors_origins, MCP_HEADERS)
        # The kernel's limiters: built once with it, shared by every request of the process.
        self.limiter = kernel.limiter
        self.failures = kernel.auth_failures
        self.proxies = kernel.proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _under_mcp(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        origin = headers.get("origin")
        if CorsPolicy.is_preflight(scope["method"], lambda name: headers.get(name.lower())):
            response = Response(status_code=204, headers=self.cors.preflight_headers(origin))
            await response(scope, receive, send)
            return
        if origin is not None and not self.cors.allows(origin):
            response = _problem(403, "forbidden-origin", "this Origin may not call the server")
            await response(scope, receive, send)
            return
        send = _adding(send, self.cors.response_headers(origin))
        refusal, caller = self._authenticate(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        scope.setdefault("state", {})[SCOPE_KEY] = caller
        await self.app(scope, receive, send)

    def _authenticate(
        self, scope: Scope, headers: dict[str, str]
    ) -> tuple[Response | None, Caller | None]:
        """(a refusal, None) or (None, the caller)."""
        peer = scope.get("client")
        forwarded = [
            value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name.lower() == b"x-forwarded-for"
        ]
        address = client_address(peer[0] if peer else None, forwarded, self.proxies)
        now = time.time()
        wait = self.failures.refusing(address, now)
        if wait is not None:
            detail = (
                f"too many failed authentications from this address ({self.failures.rate}); "
                "wait for Retry-After seconds, then send a valid key"
            )
            return _problem(429, "rate-limited", detail, _retry_after(wait)), None
        settings = self.kernel.settings
        credential = authenticate(
            self.kernel,
            headers.get("authorization"),
            x_api_key="x-api-key" in headers,
            audience=settings.mcp_public_url or settings.token_audience,
        )
        refused = credential.refusal
        if refused is not None:
            if refused.counts_as_failure:
                self.failures.failed(address, now)
            challenge = with_metadata(refused.challenge, self.kernel)
            refusal = _problem(401, refused.kind, refused.detail, {"WWW-Authenticate": challenge})
            return refusal, None
        caller = credential.caller
        if caller is None or not caller.may(AGENT):
            # An issuer key mints user tokens (POST /api/v1/tokens) and does nothing else.
            detail = "this key may only issue user tokens (POST /api/v1/tokens), not call tools"
            return _problem(403, "forbidden", detail), None
        wait = self.limiter.hit(caller.rate_scope, now)
        if wait is not None:
            detail = f"rate limit exceeded ({self.limiter.rate})"
            return _problem(429, "rate-limited", detail, _retry_after(wait)), None
        return None, caller


def _retry_after(wait: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(wait)))}


def _adding(send: Send, headers: dict[str, str]) -> Send:
    """``send`` with ``headers`` added to the response's start (unchanged when empty)."""
    if not headers:
        return send
    extra = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]

    async def sending(message: dict) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await send(message)

    return sending


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
    body: dict[str, Any] = {
        "type": f"/problems/{kind}",
        "title": TITLES[status],
        "status": status,
        "detail": detail,
    }
    return Response(json.dumps(body), status_code=status, headers=headers, media_type=PROBLEM_JSON)
