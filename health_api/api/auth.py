"""Bearer-key authentication of REST requests with two roles, ``agent`` and ``admin``, and the
per-address limit of failed authentications.

Which keys exist, how a token is matched and what a role may do live in :mod:`health_api.keys`;
who the client is and how its failures are counted in :mod:`health_api.clients` (both shared
with the MCP server); this module applies them to Flask requests, with the limiters of the
app's kernel. An authenticated request's :class:`~health_api.domain.caller.Caller` is
``g.caller``: views hand it to every service call.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

from flask import g, request

from health_api.api.kernel import kernel
from health_api.api.problems import problem
from health_api.clients import client_address
from health_api.domain.caller import Caller
from health_api.kernel.credentials import authenticate as authenticate_request
from health_api.keys import (  # re-exported: the REST names of the shared key rules
    DEV_KEYS_FILE,
    ROLE_RANK,
    MissingKeysError,
    authenticate,
    has_role,
    key_id,
    resolve_keys,
    scope_id,
)

__all__ = [
    "DEV_KEYS_FILE",
    "PUBLIC_PATHS",
    "ROLE_RANK",
    "MissingKeysError",
    "authenticate",
    "before_request",
    "caller",
    "has_role",
    "key_id",
    "require_role",
    "resolve_keys",
    "scope_id",
]

PUBLIC_PATHS = ("/healthz", "/readyz", "/openapi.json", "/docs")
WWW_AUTHENTICATE = 'Bearer realm="health-api"'


def before_request() -> Any:
    """Authenticate every /api/v1 request; public paths pass through. An address that spent
    its failed authentications is refused whatever it sends, until its window ends."""
    if not request.path.startswith("/api/"):
        return None
    running = kernel()
    failures = running.auth_failures
    address = client_address(
        request.remote_addr, request.headers.getlist("X-Forwarded-For"), running.proxies
    )
    now = time.time()
    wait = failures.refusing(address, now)
    if wait is not None:
        return problem(
            429,
            f"too many failed authentications from this address ({failures.rate}); "
            "wait for Retry-After seconds, then send a valid key",
            kind="rate-limited",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    credential = authenticate_request(
        running, request.headers.get("Authorization"), x_api_key="X-API-Key" in request.headers
    )
    refusal = credential.refusal
    if refusal is not None:
        if refusal.counts_as_failure:
            failures.failed(address, now)
        return problem(
            401,
            refusal.detail,
            kind=refusal.kind,
            headers={"WWW-Authenticate": refusal.challenge},
        )
    g.caller = credential.caller
    return None


def caller() -> Caller:
    """The authenticated caller of the running request (set by :func:`before_request`)."""
    return g.caller


def require_role(role: str) -> Callable:
    """View decorator: the authenticated key must have at least ``role``."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            found = g.get("caller")
            if found is None or not found.may(role):
                return problem(403, f"this operation needs the {role} role", kind="forbidden")
            return view(*args, **kwargs)

        wrapper._required_role = role  # read by the OpenAPI decoration
        return wrapper

    return decorator
