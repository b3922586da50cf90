"""Bearer-key authentication of REST requests with two roles, ``agent`` and ``admin``.

Which keys exist, how a token is matched and what a role may do live in :mod:`health_api.keys`
(shared with the MCP server); this module applies them to Flask requests.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import current_app, g, request

from health_api.api.problems import problem
from health_api.keys import (  # re-exported: the REST names of the shared key rules
    DEV_KEYS_FILE,
    ROLE_RANK,
    MissingKeysError,
    authenticate,
    has_role,
    key_id,
    resolve_keys,
)

__all__ = [
    "DEV_KEYS_FILE",
    "PUBLIC_PATHS",
    "ROLE_RANK",
    "MissingKeysError",
    "authenticate",
    "before_request",
    "has_role",
    "key_id",
    "require_role",
    "resolve_keys",
]

PUBLIC_PATHS = ("/healthz", "/readyz", "/openapi.json", "/docs")


def before_request() -> Any:
    """Authenticate every /api/v1 request; public paths pass through."""
    if not request.path.startswith("/api/"):
        return None
    api_key = authenticate(
        current_app.extensions["health_api.keys"], request.headers.get("Authorization")
    )
    if api_key is None:
        return problem(
            401,
            "a valid bearer key is required",
            kind="unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="health-api"'},
        )
    g.role = api_key.role
    g.key_id = key_id(api_key.key)
    return None


def require_role(role: str) -> Callable:
    """View decorator: the authenticated key must have at least ``role``."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not has_role(g.get("role", ""), role):
                return problem(403, f"this operation needs the {role} role", kind="forbidden")
            return view(*args, **kwargs)

        wrapper._required_role = role  # read by the OpenAPI decoration
        return wrapper

    return decorator
