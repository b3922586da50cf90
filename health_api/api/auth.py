"""Bearer authentication of REST requests (API keys of the roles ``agent``, ``admin`` and
``issuer``, and user tokens), the role check of every operation, and the per-address limit of
failed authentications.

Which keys exist, how a token is matched and what a role may do live in :mod:`health_api.keys`;
who the client is and how its failures are counted in :mod:`health_api.clients` (both shared
with the MCP server); this module applies them to Flask requests, with the limiters of the
app's kernel. An authenticated request's :class:`~health_api.domain.caller.Caller` is
``g.caller``: views hand it to every service call.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from flask import g, request

from health_api.api.blueprint import current_handler
from health_api.api.kernel import kernel
from health_api.api.problems import problem
from health_api.clients import client_address
from health_api.domain.caller import ADMIN, AGENT, ISSUER, Caller
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
    "authorize",
    "before_request",
    "caller",
    "has_role",
    "key_id",
    "require_role",
    "required_role",
    "resolve_keys",
    "scope_id",
    "user_data",
    "user_scope",
]

PUBLIC_PATHS = ("/healthz", "/readyz", "/openapi.json", "/docs")
WWW_AUTHENTICATE = 'Bearer realm="health-api"'
REQUIRED_ROLE = "_required_role"  # set by require_role, read by authorize and by OpenAPI
USER_SCOPE = "_user_scope"  # set by user_data, read by OpenAPI


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


# What each role's operations need, said in every 403 of the role check: a caller learns what
# would be let through, nothing about the data.
NEEDS = {
    AGENT: "this operation needs an agent or admin key or a user token",
    ADMIN: "this operation needs an admin key (doctor and slot management and /admin are not "
    "open to agent keys or user tokens)",
    ISSUER: "minting user tokens needs an issuer key (POST /api/v1/tokens is not open to "
    "agent or admin keys or user tokens)",
}


def required_role(handler: Callable | None) -> str:
    """The role a view needs: ``agent`` unless it says more (``require_role``)."""
    return getattr(handler, REQUIRED_ROLE, AGENT)


def authorize() -> Any:
    """The role check of every /api/v1 operation, after authentication: the caller must
    ``may`` the role its view needs (``agent`` by default: doctors, schedules, availability,
    and everything a service then decides per user; an issuer key has only ``issuer``), else
    a 403 ``/problems/forbidden`` that says what is needed."""
    if not request.path.startswith("/api/"):
        return None
    handler = current_handler()
    found = g.get("caller")
    if handler is None or found is None:
        return None  # no such route or method: the 404 / 405 answers
    role = required_role(handler)
    if found.may(role):
        return None
    detail = NEEDS.get(role, f"this operation needs the {role} role")
    if found.role == ISSUER:
        detail += "; an issuer key only mints user tokens (POST /api/v1/tokens)"
    return problem(403, detail, kind="forbidden")


def user_data(scope: str) -> Callable:
    """View decorator: the view reaches a user's data of ``scope`` (``appointments`` or
    ``sessions``). Who may act for whom is the services' (``domain.caller.acting_for``); this
    mark only documents it in OpenAPI (the 403 problems, ``x-user-scope``)."""

    def decorator(view: Callable) -> Callable:
        setattr(view, USER_SCOPE, scope)
        return view

    return decorator


def user_scope(handler: Callable | None) -> str | None:
    """The user-data scope a view is marked with (``user_data``), else None."""
    return getattr(handler, USER_SCOPE, None)


def require_role(role: str) -> Callable:
    """View decorator: the view needs a caller that ``may`` ``role`` (checked by
    :func:`authorize` before the view runs, and documented in OpenAPI)."""

    def decorator(view: Callable) -> Callable:
        setattr(view, REQUIRED_ROLE, role)
        return view

    return decorator
