"""From an ``Authorization`` header to a :class:`~health_api.domain.caller.Caller`, for every
surface (REST's ``before_request``, MCP's HTTP guard and its stdio entry).

A bearer equal to a configured key is that key; any other bearer of three base64url segments is
a user token, verified by the kernel's :class:`~health_api.tokens.TokenAuthority` (for
``audience``: the token audience on REST, the MCP server's public URL on MCP); anything else is
an unknown key. An invalid token counts toward the per-address limit of failed
authentications like an unknown key (a bad signature, an unknown issuer or key, garbage), unless
it is expired or its signature was good (not valid yet, another audience, a missing claim): the
client holds a real token, it is not guessing. A verified token is remembered
by its SHA-256 until it expires, so a client that sends the same token with every request pays
for one signature check.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from health_api.domain.caller import Caller
from health_api.kernel.bootstrap import Kernel
from health_api.keys import examine
from health_api.tokens import InvalidTokenError, VerifiedToken, looks_like_jwt

REALM = 'Bearer realm="health-api"'
INVALID_TOKEN_CHALLENGE = 'Bearer realm="health-api", error="invalid_token"'  # noqa: S105


@dataclass(frozen=True)
class Refusal:
    """Why a request is not authenticated: a 401 with ``kind``, ``detail`` and the
    ``WWW-Authenticate`` ``challenge``; ``counts_as_failure`` feeds the per-address limit."""

    kind: str
    detail: str
    challenge: str
    counts_as_failure: bool


@dataclass(frozen=True)
class Credential:
    """The caller of a request, or the refusal."""

    caller: Caller | None
    refusal: Refusal | None = None


def authenticate(
    kernel: Kernel,
    authorization: str | None,
    *,
    x_api_key: bool = False,
    audience: str | None = None,
) -> Credential:
    """The caller an ``Authorization`` header names, or why it names none."""
    verdict = examine(kernel.keys, authorization, x_api_key=x_api_key)
    if verdict.api_key is not None:
        return Credential(kernel.caller_for(verdict.api_key))
    bearer = _bearer(authorization)
    if verdict.reason == "unknown" and bearer is not None and looks_like_jwt(bearer):
        try:
            verified = verify(kernel, bearer, audience)
        except InvalidTokenError as exc:
            detail = f"the bearer token is not valid: {exc.reason}"
            refusal = Refusal(
                "invalid-token", detail, INVALID_TOKEN_CHALLENGE, exc.counts_as_failure
            )
            return Credential(None, refusal)
        return Credential(kernel.caller_for_token(verified))
    detail = verdict.detail(kernel.settings.is_development, kernel.keys_file)
    return Credential(None, Refusal("unauthorized", detail, REALM, verdict.counts_as_failure))


def verify(kernel: Kernel, token: str, audience: str | None = None) -> VerifiedToken:
    """``token`` verified for ``audience`` (default the token audience), from the cache when
    it was verified before and has not expired."""
    authority = kernel.tokens
    if authority is None:
        raise InvalidTokenError("this server accepts no user tokens")
    wanted = audience or authority.audience
    digest = hashlib.sha256(token.encode()).hexdigest()
    now = time.time()
    cache = kernel.verified_tokens
    found = cache.get(digest, wanted, now)
    if found is None:
        found = authority.verify(token, wanted)
        cache.put(digest, wanted, found)
    return found


def _bearer(authorization: str | None) -> str | None:
    scheme, _, presented = (authorization or "").strip().partition(" ")
    return presented.strip() if scheme.lower() == "bearer" and presented.strip() else None
